/**
 * The stacks bench/http.bench.ts compares. Each builder pre-creates its sessions the way that stack
 * would (its own store API), listens on a free loopback port, and answers `GET /v1/session` with the
 * caller's wallet: 2xx only for a credential that names a live session, 401 otherwise.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { Latchkey, type Store } from '@latchkey/core';
import { RedisStore as LatchkeyRedisStore } from '@latchkey/redis';
import { createServer } from '@latchkey/server';
import { SqliteStore } from '@latchkey/sqlite';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import Fastify, { type FastifyInstance, type Session } from 'fastify';
import { Redis } from 'ioredis';
import { createClient } from 'redis';

declare module 'express-session' {
  interface SessionData {
    wallet: string;
  }
}
declare module 'fastify' {
  interface Session {
    wallet?: string;
  }
}

const HOST = '127.0.0.1';
const REDIS_URL = 'redis://127.0.0.1:6379';
/** Cookie sessions live 7 days, as long as a Latchkey session's absolute lifetime. */
const COOKIE_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** How many session writes are in flight while pre-creating. */
const CREATE_CONCURRENCY = 64;

export interface TargetContext {
  /** Every Redis key the target writes starts with this; the parent deletes them afterwards. */
  readonly keyPrefix: string;
  /** A directory of the parent's that the target may write files into. */
  readonly directory: string;
  /** How many sessions to pre-create. */
  readonly sessions: number;
}

export interface RunningTarget {
  readonly port: number;
  /** The request header that carries the credential, and one value per pre-created session. */
  readonly credentialHeader: string;
  readonly credentials: readonly string[];
  close(): Promise<void>;
}

type TargetBuilder = (context: TargetContext) => Promise<RunningTarget>;

/** A distinct wallet per session, as a CAIP-10 account (10,000 users, one session each). */
const walletOf = (i: number): string => `eip155:1:0x${(i + 1).toString(16).padStart(40, '0')}`;

/** Runs `create(i)` for every i below `count`, CREATE_CONCURRENCY at a time, keeping the order. */
async function createAll<T>(count: number, create: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: CREATE_CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await create(i);
      }
    }),
  );
  return out;
}

/** cookie-signature's scheme, which express-session and @fastify/cookie both use: value.HMAC-SHA256 (base64, unpadded). */
function signCookieValue(value: string, secret: string): string {
  return `${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`;
}

const portOf = (server: Server): number => (server.address() as AddressInfo).port;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  return portOf(server);
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function listenFastify(app: FastifyInstance): Promise<number> {
  await app.listen({ host: HOST, port: 0 });
  return portOf(app.server);
}

/** The Latchkey server as shipped (`createServer`), logs off, sessions created with the engine. */
async function latchkeyServer(store: Store, context: TargetContext): Promise<RunningTarget> {
  const latchkey = new Latchkey({ store, cleanupIntervalSeconds: 0 });
  const issued = await createAll(context.sessions, (i) => latchkey.createSession({ account: walletOf(i), authMethod: 'siwe' }));
  const app = await createServer({ latchkey, store, logger: false });
  const port = await listenFastify(app);
  return {
    port,
    credentialHeader: 'authorization',
    credentials: issued.map(({ token }) => `Bearer ${token}`),
    close: async () => {
      await app.close();
      latchkey.close();
      await store.close();
    },
  };
}

/** Express 5 + express-session + connect-redis 9 on a node-redis 5 client: the usual Node stack. */
async function expressSession(context: TargetContext): Promise<RunningTarget> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const secret = randomBytes(32).toString('base64url');
  const store = new ConnectRedisStore({ client, prefix: `${context.keyPrefix}sess:` });
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
  const server = createHttpServer(app);
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
async function fastifySessionTarget(context: TargetContext): Promise<RunningTarget> {
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

/** The floor for any Redis-backed check: a Fastify route doing one raw GET of a 600-byte value per token. */
async function fastifyRedisGet(context: TargetContext): Promise<RunningTarget> {
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
async function bareNodeHttp(context: TargetContext): Promise<RunningTarget> {
  const body = JSON.stringify({ ok: true });
  const server = createHttpServer((_req, res) => {
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

export const TARGETS = {
  'latchkey-redis': (context) =>
    latchkeyServer(new LatchkeyRedisStore({ url: REDIS_URL, keyPrefix: context.keyPrefix }), context),
  'latchkey-sqlite': (context) => latchkeyServer(new SqliteStore({ path: join(context.directory, 'latchkey.db') }), context),
  'express-session': expressSession,
  'fastify-session': fastifySessionTarget,
  'fastify-redis-get': fastifyRedisGet,
  'node-http': bareNodeHttp,
} satisfies Record<string, TargetBuilder>;

export type TargetName = keyof typeof TARGETS;

export const isTargetName = (name: string): name is TargetName => Object.hasOwn(TARGETS, name);
