import fastifyCookie from '@fastify/cookie';
import { cryptoRandom, LatchkeyError, SessionDataCipher } from '@latchkey/core';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import { mountRelay } from '../relay/mount.js';
import { ApiKeyVerifier } from './api-keys.js';
import { AppDirectory } from './apps.js';
import { challenge, SessionCookies } from './credentials.js';
import { requestId, serverLogger } from './logging.js';
import { ServerMetrics } from './metrics.js';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.js';
import { BODY_LIMIT_BYTES, resolveServerOptions, type ServerOptions } from './options.js';
import { errorBody, HttpRejection, toLatchkeyError } from './problems.js';
import { RateLimiter } from './rate-limit.js';
import { fastifyPath, mountRoute, type RouteSpec, type Services } from './route.js';
import { connectRoutes } from './routes/connect.js';
import { operatorRoutes } from './routes/operator.js';
import { serviceRoutes } from './routes/service.js';
import { sessionKeyRoutes } from './routes/session-keys.js';
import { sessionRoutes } from './routes/sessions.js';
import { signInRoutes } from './routes/signin.js';
import { keepRawJsonBodies } from './stamps.js';

/** Every route of the v1 API, in the order the document lists them. */
export const ROUTES: readonly RouteSpec[] = [
  ...signInRoutes,
  ...connectRoutes,
  ...sessionRoutes,
  ...sessionKeyRoutes,
  ...operatorRoutes,
  ...serviceRoutes,
];

/** Path templates as patterns, to tell 405 (the path exists for other methods) from 404. */
const PATH_METHODS: readonly { pattern: RegExp; methods: string[] }[] = (() => {
  const byPath = new Map<string, string[]>();
  for (const r of ROUTES) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r.method, ...(r.method === 'GET' ? ['HEAD'] : [])]);
  return [...byPath].map(([path, methods]) => ({
    pattern: new RegExp(`^${fastifyPath(path).replace(/[.]/g, '\\.').replace(/:\w+/g, '[^/]+')}$`),
    methods,
  }));
})();

/**
 * Builds the Latchkey HTTP API on Fastify (not listening yet: call `listen`). Apps kept in the store
 * join the engine first; a stored app with bad settings makes this throw `CONFIG_INVALID`.
 *
 * @example
 * const app = await createServer({ latchkey, store });
 * await app.listen({ port: 8080, host: '0.0.0.0' });
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const resolved = resolveServerOptions(options);
  const { latchkey, store, clock } = resolved;
  const logger = resolved.logger === false ? undefined : serverLogger(resolved.logger);
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: resolved.trustProxy,
    genReqId: requestId,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
    // A URL that does not decode, or a path parameter over 256 characters: the client's mistake, in our format.
    frameworkErrors: (_error, request, reply) => {
      const failure = new LatchkeyError('VALIDATION_FAILED', { message: 'url: not a valid URL for this API', field: 'url' });
      // This answer skips the onSend hook, so it carries the /v1 answers' no-store itself.
      if (request.url.startsWith('/v1/')) void reply.header('cache-control', 'no-store');
      void (reply as unknown as FastifyReply).code(failure.status).send(errorBody(failure));
    },
    // Bytes that are not HTTP at all never reach a route; they still get a JSON 400, then the socket closes.
    clientErrorHandler: (_error, socket) => {
      if (!socket.writable) return socket.destroy();
      const body = JSON.stringify(errorBody(new LatchkeyError('VALIDATION_FAILED', { message: 'Malformed HTTP request.' })));
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  }) as unknown as FastifyInstance;
  const log: FastifyBaseLogger = app.log;

  let document: OpenApiDocument | undefined;
  const storeFailed = (operation: string, error: unknown): LatchkeyError => {
    if (error instanceof LatchkeyError && error.code !== 'STORE_UNAVAILABLE') return error;
    log.error({ operation, cause: String(error instanceof LatchkeyError ? (error.cause ?? error) : error) }, 'store call failed');
    return new HttpRejection('STORE_UNAVAILABLE');
  };
  const metrics = new ServerMetrics({
    latchkey,
    clock,
    statsIntervalMs: resolved.statsIntervalMs,
    onStatsFailure: (error) => log.error({ cause: String(error) }, 'session stats unavailable'),
  });
  const cipher = resolved.dataKeys ? new SessionDataCipher(resolved.dataKeys, cryptoRandom) : null;
  const apps = new AppDirectory({ latchkey, store, clock, log, cipher, storeFailed });
  const services: Services = {
    options: resolved,
    latchkey,
    store,
    clock,
    apps,
    apiKeys: new ApiKeyVerifier({ latchkey, store, clock, storeFailed, challenge, reloadApps: () => apps.reload() }),
    rateLimiter: new RateLimiter({
      store,
      clock,
      limits: resolved.rateLimits,
      storeFailed,
      limited: (bucket, subject) => metrics.rateLimited(bucket, subject),
    }),
    cookies: new SessionCookies({
      secure: resolved.secureCookies,
      originOf: (appId) => latchkey.settings(appId).signIn?.origin ?? null,
    }),
    metrics,
    storeFailed,
    document: () => {
      document ??= buildOpenApiDocument(ROUTES);
      return document;
    },
  };
  await apps.load();

  await app.register(fastifyCookie);
  // JSON only: a body of any other type is 415. Its bytes are kept for stamp verification.
  app.removeContentTypeParser(['text/plain']);
  keepRawJsonBodies(app);

  // Callback hooks, not async ones: no promise per request on the hot path.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    // Every /v1 answer, errors raised before a handler ran (bad JSON, 404, 405) included.
    if (request.url.startsWith('/v1/')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((error, request, reply) => {
    const failure = toLatchkeyError(error);
    if (failure.status >= 500) {
      if (failure.code === 'STORE_UNAVAILABLE') metrics.storeError(request.routeOptions.url ?? 'unmatched');
      // A bug's own message stays in the log; the answer carries the registry's fixed one.
      if (failure.code === 'INTERNAL_ERROR') request.log.error({ err: error }, 'request failed');
      else request.log.warn({ code: failure.code }, 'request failed');
    } else {
      request.log.info({ code: failure.code }, 'request refused');
    }
    if (failure instanceof HttpRejection) reply.headers(failure.headers);
    const answer = failure.code === 'INTERNAL_ERROR' ? new LatchkeyError('INTERNAL_ERROR') : failure;
    return reply.code(answer.status).send(errorBody(answer));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    const allowed = PATH_METHODS.find((p) => p.pattern.test(path))?.methods;
    const failure = allowed ? new LatchkeyError('METHOD_NOT_ALLOWED') : new LatchkeyError('ROUTE_NOT_FOUND');
    if (allowed) reply.header('allow', allowed.join(', '));
    return reply.code(failure.status).send(errorBody(failure));
  });

  for (const route of ROUTES) mountRoute(app, route, services);
  if (resolved.relay) {
    const relay = await mountRelay({
      httpServer: app.server,
      relay: resolved.relay,
      registry: metrics.registry,
      log,
      trustProxy: resolved.trustProxy,
    });
    // Before the listener closes: its WebSocket connections would otherwise hold it open.
    app.addHook('preClose', () => relay.close());
  }
  return app;
}
