/** Target 4 of bench/http.bench.ts: Fastify + @fastify/cookie + @fastify/session with an ioredis store. */
import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify, { type Session } from 'fastify';
import { Redis } from 'ioredis';
import {
  COOKIE_MAX_AGE_MS,
  createAll,
  listenFastify,
  REDIS_URL,
  type RunningTarget,
  signCookieValue,
  type TargetContext,
  walletOf,
} from './http-target.js';

declare module 'fastify' {
  interface Session {
    wallet?: string;
  }
}

/** The @fastify/session store contract over ioredis: one GET to load, one SET with expiry to save. */
class IoredisSessionStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }
  set(sessionId: string, value: Session, callback: (error?: unknown) => void): void {
    const expires = value.cookie.expires ? new Date(value.cookie.expires).getTime() : Date.now() + COOKIE_MAX_AGE_MS;
    this.#redis.set(this.#prefix + sessionId, JSON.stringify(value), 'PXAT', expires).then(() => callback(), callback);
  }
  get(sessionId: string, callback: (error: unknown, value?: Session | null) => void): void {
    this.#redis.get(this.#prefix + sessionId).then(
      (json) => callback(null, json === null ? null : (JSON.parse(json) as Session)),
      (error: unknown) => callback(error),
    );
  }
  destroy(sessionId: string, callback: (error?: unknown) => void): void {
    this.#redis.del(this.#prefix + sessionId).then(() => callback(), callback);
  }
}

/** Fastify + @fastify/cookie + @fastify/session on Redis, configured as its README shows for HTTP. */
export async function fastifySessionOnRedis(context: TargetContext): Promise<RunningTarget> {
  const redis = new Redis(REDIS_URL);
  const secret = randomBytes(32).toString('base64url');
  const store = new IoredisSessionStore(redis, `${context.keyPrefix}sess:`);
  const ids = await createAll(context.sessions, async (i) => {
    const sid = randomBytes(24).toString('base64url');
    const expires = new Date(Date.now() + COOKIE_MAX_AGE_MS);
    const stored: Session = {
      cookie: { originalMaxAge: COOKIE_MAX_AGE_MS, expires, httpOnly: true, path: '/', secure: false },
      wallet: walletOf(i),
    };
    await new Promise<void>((resolve, reject) => store.set(sid, stored, (error) => (error ? reject(error) : resolve())));
    return sid;
  });

  const app = Fastify({ logger: false });
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret,
    store,
    saveUninitialized: false,
    cookie: { secure: false, maxAge: COOKIE_MAX_AGE_MS },
  });
  app.get('/v1/session', async (request, reply) => {
    const wallet = request.session.get('wallet');
    return wallet === undefined ? reply.code(401).send({ error: { code: 'SESSION_NOT_FOUND' } }) : { wallet };
  });
  const port = await listenFastify(app);
  return {
    port,
    credentialHeader: 'cookie',
    credentials: ids.map((sid) => `sessionId=${encodeURIComponent(signCookieValue(sid, secret))}`),
    close: async () => {
      await app.close();
      redis.disconnect();
    },
  };
}
