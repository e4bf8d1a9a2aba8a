/**
 * The server half of bench/jwt.bench.ts, run in its own process so the load generator does not
 * share its core. Prints one JSON line (port and tokens) when it listens; exits on SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { Latchkey, MemoryStore, verificationKeyFromJwk, verifyAccessJwt } from '@latchkey/core';
import { RedisStore } from '@latchkey/redis';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { createLocalJWKSet, importJWK, jwtVerify } from 'jose';

const ACCOUNT = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const access = { issuer: 'https://auth.example.com', audience: 'api.example.com' };
const prefix = `lkbench:${randomBytes(4).toString('hex')}:`;

const redisStore = new RedisStore({ keyPrefix: prefix });
const latchkey = new Latchkey({
  store: new MemoryStore(),
  cleanupIntervalSeconds: 0,
  dataKeys: { current: 'k', keys: { k: randomBytes(32).toString('base64') } },
  defaults: { accessTokens: access },
  apps: { es: { accessTokens: { ...access, algorithm: 'ES256' } } },
});
const sessions = new Latchkey({ store: redisStore, cleanupIntervalSeconds: 0 });

const ed = await latchkey.createSession({ account: ACCOUNT, authMethod: 'siwe' });
const es = await latchkey.createSession({ account: ACCOUNT, authMethod: 'siwe', appId: 'es' });
const opaque = await sessions.createSession({ account: ACCOUNT, authMethod: 'siwe' });
const edJwks = await latchkey.getJwks();
const esJwks = await latchkey.getJwks({ appId: 'es' });
const joseEdSet = createLocalJWKSet(edJwks);
const joseEsSet = createLocalJWKSet(esJwks);
const joseEdKey = await importJWK(edJwks.keys[0]!, 'EdDSA');
const joseEsKey = await importJWK(esJwks.keys[0]!, 'ES256');

const redis = new Redis({ host: '127.0.0.1', port: 6379 });
await redis.set(`${prefix}get`, 'x'.repeat(600));

const bearer = (request: FastifyRequest): string => (request.headers.authorization ?? '').slice('Bearer '.length);
const deny = (reply: FastifyReply) => reply.code(401).send({ error: 'unauthorized' });

const app = Fastify({ logger: false });
app.get('/none', async () => ({ ok: true }));
app.get('/jose/eddsa', async (request, reply) => {
  try {
    const { payload } = await jwtVerify(bearer(request), joseEdSet, access);
    return { sub: payload.sub };
  } catch {
    return deny(reply);
  }
});
app.get('/jose-key/eddsa', async (request, reply) => {
  try {
    const { payload } = await jwtVerify(bearer(request), joseEdKey, access);
    return { sub: payload.sub };
  } catch {
    return deny(reply);
  }
});
app.get('/jose/es256', async (request, reply) => {
  try {
    const { payload } = await jwtVerify(bearer(request), joseEsSet, access);
    return { sub: payload.sub };
  } catch {
    return deny(reply);
  }
});
app.get('/jose-key/es256', async (request, reply) => {
  try {
    const { payload } = await jwtVerify(bearer(request), joseEsKey, access);
    return { sub: payload.sub };
  } catch {
    return deny(reply);
  }
});
app.get('/latchkey/eddsa', async (request, reply) => {
  const result = await latchkey.verifyAccessToken(bearer(request));
  return result.valid ? { sub: result.claims.sub } : deny(reply);
});
// Every request pays for the signature, as for a token seen for the first time.
const edKey = verificationKeyFromJwk(edJwks.keys[0]!)!;
app.get('/latchkey-uncached/eddsa', async (request, reply) => {
  const result = await verifyAccessJwt(bearer(request), () => edKey, {
    ...access,
    nowSeconds: Math.floor(Date.now() / 1000),
    clockSkewSeconds: 30,
  });
  return result.valid ? { sub: result.claims.sub } : deny(reply);
});
app.get('/latchkey/es256', async (request, reply) => {
  const result = await latchkey.verifyAccessToken(bearer(request), { appId: 'es' });
  return result.valid ? { sub: result.claims.sub } : deny(reply);
});
app.get('/redis/get', async (_request, reply) => {
  const value = await redis.get(`${prefix}get`);
  return value ? { ok: true } : deny(reply);
});
app.get('/latchkey/session-redis', async (request, reply) => {
  const result = await sessions.validateSession(bearer(request));
  return result.valid ? { sub: result.session.account } : deny(reply);
});

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ port, ed: ed.accessToken, es: es.accessToken, opaque: opaque.token })}\n`);

process.on('SIGTERM', async () => {
  await app.close();
  await redis.del(`${prefix}get`);
  await sessions.invalidateAllWalletSessions(ACCOUNT);
  redis.disconnect();
  await redisStore.close();
  latchkey.close();
  process.exit(0);
});
