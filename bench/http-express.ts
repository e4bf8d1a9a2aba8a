/** Target 3 of bench/http.bench.ts: Express 5 + express-session + connect-redis 9 (node-redis 5 client). */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import {
  COOKIE_MAX_AGE_MS,
  closeServer,
  createAll,
  listen,
  REDIS_URL,
  type RunningTarget,
  signCookieValue,
  type TargetContext,
  walletOf,
} from './http-target.js';

declare module 'express-session' {
  interface SessionData {
    wallet: string;
  }
}

/** Express 5 + express-session + connect-redis 9 on a node-redis 5 client: the usual Node stack. */
export async function expressSession(context: TargetContext): Promise<RunningTarget> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const secret = randomBytes(32).toString('base64url');
  const store = new RedisStore({ client, prefix: `${context.keyPrefix}sess:` });
  const ids = await createAll(context.sessions, async (i) => {
    const sid = randomBytes(24).toString('base64url');
    const cookie = new session.Cookie(); // path '/', httpOnly, as express-session makes them
    cookie.maxAge = COOKIE_MAX_AGE_MS;
    await store.set(sid, { cookie, wallet: walletOf(i) });
    return sid;
  });

  const app = express();
  app.use(session({ store, secret, resave: false, saveUninitialized: false, cookie: { maxAge: COOKIE_MAX_AGE_MS } }));
  app.get('/v1/session', (req, res) => {
    const wallet = req.session.wallet;
    if (wallet === undefined) res.status(401).json({ error: { code: 'SESSION_NOT_FOUND' } });
    else res.json({ wallet });
  });
  const server = createServer(app);
  const port = await listen(server);
  return {
    port,
    credentialHeader: 'cookie',
    credentials: ids.map((sid) => `connect.sid=${encodeURIComponent(`s:${signCookieValue(sid, secret)}`)}`),
    close: async () => {
      await closeServer(server);
      await client.quit();
    },
  };
}
