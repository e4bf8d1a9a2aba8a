import { z } from 'zod';
import { defineRoute, type RouteSpec } from '../route.js';
import { healthSchema, jwksSchema, readySchema } from '../schemas.js';

const jwks = defineRoute({
  method: 'GET',
  path: '/.well-known/jwks.json',
  operationId: 'getJwks',
  tag: 'service',
  summary: "The app's access-token signing keys",
  description:
    'Every key that signs, will sign, or signed an access token that has not expired (empty for HS256). The app comes from `Latchkey-App` or `?app=`.',
  access: 'public',
  app: 'header-or-query',
  query: z.object({ app: z.string().max(64).optional().describe('The app, when no Latchkey-App header is sent.') }).strict(),
  success: [{ status: 200, description: 'A JWKS document.', schema: jwksSchema }],
  errors: ['ACCESS_TOKENS_NOT_CONFIGURED'],
  async handle({ appId, services }) {
    return services.latchkey.getJwks({ appId });
  },
});

const openapi = defineRoute({
  method: 'GET',
  path: '/openapi.json',
  operationId: 'getOpenApi',
  tag: 'service',
  summary: 'This document',
  description: 'The OpenAPI 3.1 document, generated from the same route definitions the server runs.',
  access: 'public',
  app: 'none',
  success: [{ status: 200, description: 'The OpenAPI document.', schema: z.looseObject({ openapi: z.string() }) }],
  errors: [],
  async handle({ services }) {
    return services.document();
  },
});

const health = defineRoute({
  method: 'GET',
  path: '/healthz',
  operationId: 'health',
  tag: 'service',
  summary: 'Liveness',
  description: 'The process answers. Does not touch the store.',
  access: 'public',
  app: 'none',
  success: [{ status: 200, description: 'Alive.', schema: healthSchema }],
  errors: [],
  async handle() {
    return { status: 'ok' };
  },
});

const ready = defineRoute({
  method: 'GET',
  path: '/readyz',
  operationId: 'ready',
  tag: 'service',
  summary: 'Readiness',
  description: 'Pings the store: 200 when it answers, 503 STORE_UNAVAILABLE when it does not.',
  access: 'public',
  app: 'none',
  success: [{ status: 200, description: 'The store answers.', schema: readySchema }],
  errors: ['STORE_UNAVAILABLE'],
  async handle({ services }) {
    try {
      await services.store.ping();
    } catch (error) {
      throw services.storeFailed('ping', error);
    }
    return { status: 'ready' };
  },
});

const metrics = defineRoute({
  method: 'GET',
  path: '/metrics',
  operationId: 'metrics',
  tag: 'service',
  summary: 'Prometheus metrics',
  description:
    'Request counts and latency by route and status, active sessions per app (read from the store at most every 15 s, `metrics.statsIntervalSeconds`; scrapes in between get the last values), sign-ins by result, refresh-reuse detections, rate-limit refusals, store errors, process metrics.',
  access: 'public',
  app: 'none',
  success: [
    {
      status: 200,
      description: 'Prometheus text exposition format.',
      schema: z.string(),
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
    },
  ],
  errors: [],
  async handle({ reply, services }) {
    reply.type(services.metrics.registry.contentType);
    return services.metrics.scrape();
  },
});

export const serviceRoutes: readonly RouteSpec[] = [jwks, openapi, health, ready, metrics];
