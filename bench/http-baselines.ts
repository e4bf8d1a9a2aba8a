/** Targets 5 and 6 of bench/http.bench.ts: what a session check costs at least, and the server ceiling. */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import {
  COOKIE_MAX_AGE_MS,
  closeServer,
  createAll,
  listen,
  listenFastify,
  REDIS_URL,
  type RunningTarget,
  type TargetContext,
} from './http-target.js';

/** The floor for any Redis-backed check: a Fastify route doing one raw GET of a 600-byte value per token. */
export async function fastifyRedisGet(context: TargetContext): Promise<RunningTarget> {
  const redis = new Redis(REDIS_URL);
  const value = 'x'.repeat(600);
  const tokens = await createAll(context.sessions, async () => {
    const token = randomBytes(32).toString('base64url');
    await redis.set(`${context.keyPrefix}raw:${token}`, value, 'PX', COOKIE_MAX_AGE_MS);
    return token;
  });

  const app = Fastify({ logger: false });
  app.get('/v1/session', async (request, reply) => {
    const token = (request.headers.authorization ?? '').slice('Bearer '.length);
    const stored = token.length > 0 ? await redis.get(`${context.keyPrefix}raw:${token}`) : null;
    return stored === null ? reply.code(401).send({ error: { code: 'SESSION_NOT_FOUND' } }) : { ok: true };
  });
  const port = await listenFastify(app);
  return {
    port,
    credentialHeader: 'authorization',
    credentials: tokens.map((token) => `Bearer ${token}`),
    close: async () => {
      await app.close();
      redis.disconnect();
    },
  };
}

/** The ceiling: node:http answering 200 without looking at the request. */
export async function bareNodeHttp(context: TargetContext): Promise<RunningTarget> {
  const body = JSON.stringify({ ok: true });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const port = await listen(server);
  return {
    port,
    credentialHeader: 'authorization',
    credentials: Array.from({ length: context.sessions }, () => `Bearer ${randomBytes(32).toString('base64url')}`),
    close: () => closeServer(server),
  };
}
