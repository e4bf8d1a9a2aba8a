/**
 * The targets bench/http.bench.ts can run, by name. Each loads only its own stack, in its own process
 * (bench/http-server.ts), so one stack's modules never sit in another's server.
 */
import type { TargetBuilder } from './http-target.js';

export const TARGETS = {
  'latchkey-redis': async () => (await import('./http-latchkey.js')).latchkeyOnRedis,
  'latchkey-sqlite': async () => (await import('./http-latchkey.js')).latchkeyOnSqlite,
  'express-session': async () => (await import('./http-express.js')).expressSession,
  'fastify-session': async () => (await import('./http-fastify-session.js')).fastifySessionOnRedis,
  'fastify-redis-get': async () => (await import('./http-baselines.js')).fastifyRedisGet,
  'node-http': async () => (await import('./http-baselines.js')).bareNodeHttp,
} satisfies Record<string, () => Promise<TargetBuilder>>;

export type TargetName = keyof typeof TARGETS;

export const isTargetName = (name: string): name is TargetName => Object.hasOwn(TARGETS, name);
