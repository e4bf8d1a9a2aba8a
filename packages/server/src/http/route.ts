import {
  type Clock,
  DEFAULT_APP_ID,
  type ErrorCode,
  type Latchkey,
  type LatchkeyError,
  type Session,
  type Store,
  type VerifiedStamp,
} from '@latchkey/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ApiKeyCaller, ApiKeyVerifier } from './api-keys.js';
import type { AppDirectory } from './apps.js';
import { bearerCredential, type CookieNames, challenge, checkSameOrigin, type SessionCookies } from './credentials.js';
import type { ServerMetrics } from './metrics.js';
import type { ResolvedServerOptions } from './options.js';
import { HttpRejection } from './problems.js';
import type { RateLimiter } from './rate-limit.js';
import { checkStamp, STAMP_HEADER_NAME, type StampRule } from './stamps.js';

/** Who may call a route: anyone, the holder of a session (bearer token or cookie), or an app API key. */
export type Access = 'public' | 'session' | 'api-key';

/**
 * Where a route's app comes from: the `Latchkey-App` header (default `default`), that header or the
 * `app` query parameter, the API key, or nowhere (service routes).
 */
export type AppSource = 'header' | 'header-or-query' | 'api-key' | 'none';

/** What the route handlers share: the engine, the store and the server's own parts. */
export interface Services {
  readonly options: ResolvedServerOptions;
  readonly latchkey: Latchkey;
  readonly store: Store;
  readonly clock: Clock;
  readonly apps: AppDirectory;
  readonly apiKeys: ApiKeyVerifier;
  readonly rateLimiter: RateLimiter;
  readonly cookies: SessionCookies;
  readonly metrics: ServerMetrics;
  /** A STORE_UNAVAILABLE for a store call the server made itself (logged, never the cause's text in the answer). */
  storeFailed(operation: string, error: unknown): LatchkeyError;
  /** The OpenAPI document (built once, on first use). */
  document(): object;
}

/**
 * The session behind a request, and how it came (with the cookie names when it came in a cookie);
 * `stamp` is the request's verified stamp, or null when it carried none.
 */
export type SessionCaller = (
  | { session: Session; source: 'bearer' }
  | { session: Session; source: 'cookie'; cookies: CookieNames }
) & { stamp: VerifiedStamp | null };

export interface SuccessSpec {
  status: number;
  description: string;
  /** The body's shape; absent for an empty body. */
  schema?: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
  /** Answers with `Set-Cookie` in cookie mode. */
  setsCookies?: boolean;
}

export interface RouteContext<A extends Access, P, Q, B> {
  request: FastifyRequest;
  reply: FastifyReply;
  params: P;
  query: Q;
  body: B;
  appId: string;
  caller: A extends 'session' ? SessionCaller : undefined;
  apiKey: A extends 'api-key' ? ApiKeyCaller : undefined;
  services: Services;
}

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

interface RouteFields<A extends Access, P, Q, B> {
  method: 'GET' | 'POST' | 'DELETE';
  /** OpenAPI path template, e.g. `/v1/sessions/{id}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description: string;
  access: A;
  app: AppSource;
  params?: P;
  query?: Q;
  body?: B;
  success: readonly SuccessSpec[];
  /** Codes the handler itself may answer; those of access, app and parsing are added by `routeErrors`. */
  errors: readonly ErrorCode[];
  /** Session routes: how stamps are treated (see StampRule); default: required under `requireStamps`. */
  stamps?: StampRule;
}

/** One route of the API: everything the server registers and the OpenAPI document describes. */
export interface RouteSpec extends RouteFields<Access, z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined> {
  handle(context: RouteContext<Access, unknown, unknown, unknown>): Promise<unknown>;
}

/** Defines a route with its handler typed from its schemas. */
export function defineRoute<
  A extends Access,
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  route: RouteFields<A, P, Q, B> & { handle(context: RouteContext<A, Parsed<P>, Parsed<Q>, Parsed<B>>): Promise<unknown> },
): RouteSpec {
  return route as unknown as RouteSpec;
}

/** Every route parses its query strictly, so an empty one still refuses unknown parameters. */
const NO_QUERY = z.object({}).strict();

/** Every error code a route can answer, for the document and the conformance test. */
export function routeErrors(route: RouteSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>(['VALIDATION_FAILED']);
  if (route.method !== 'GET') {
    for (const c of ['VALIDATION_JSON_MALFORMED', 'VALIDATION_BODY_TOO_LARGE', 'VALIDATION_MEDIA_TYPE_UNSUPPORTED'] as const)
      codes.add(c);
  }
  if (route.app === 'header' || route.app === 'header-or-query') {
    codes.add('APP_UNKNOWN');
    codes.add('STORE_UNAVAILABLE');
  }
  if (route.access === 'session') {
    for (const c of [
      'AUTHENTICATION_REQUIRED',
      'VALIDATION_AUTHORIZATION_MALFORMED',
      'TOKEN_MALFORMED',
      'TOKEN_INVALID',
      'SESSION_NOT_FOUND',
      'SESSION_EXPIRED',
      'STORE_UNAVAILABLE',
    ] as const)
      codes.add(c);
    if (route.method !== 'GET') codes.add('CSRF_REJECTED');
    for (const c of [
      'SIGNATURE_MALFORMED',
      'SESSION_KEY_NOT_FOUND',
      'SESSION_KEY_MISMATCH',
      'SESSION_KEY_REVOKED',
      'SESSION_KEY_EXPIRED',
      'SIGNATURE_STALE',
      'SIGNATURE_REPLAYED',
      'SIGNATURE_INVALID',
    ] as const)
      codes.add(c);
    if (route.stamps === undefined || route.stamps === 'revocation') codes.add('SIGNATURE_REQUIRED');
    if (route.stamps === undefined && route.method !== 'GET') codes.add('SCOPE_READ_ONLY');
  }
  if (route.access === 'api-key') {
    for (const c of [
      'APP_UNKNOWN',
      'AUTHENTICATION_REQUIRED',
      'VALIDATION_AUTHORIZATION_MALFORMED',
      'API_KEY_INVALID',
      'API_KEY_APP_MISMATCH',
      'STORE_UNAVAILABLE',
    ] as const)
      codes.add(c);
  }
  for (const c of route.errors) codes.add(c);
  return [...codes];
}

/** `/v1/sessions/{id}` → `/v1/sessions/:id`. */
export function fastifyPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/** Parses one part of a request; VALIDATION_FAILED names the first bad field (`body.message`, `query.limit`). */
export function parsePart<T extends z.ZodType>(schema: T, value: unknown, part: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = [part, ...issue.path.map(String)].join('.');
  const message =
    keys.length > 0 ? `${field}: unknown field ${JSON.stringify(keys[0]!.slice(0, 64))}` : `${field}: ${issue.message}`;
  throw new HttpRejection('VALIDATION_FAILED', { message, field });
}

function isEmptyObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const _ in value) return false;
  return true;
}

/** A route without a body takes none, or `{}` (some clients always send one). */
function isEmptyBody(value: unknown): boolean {
  return value === undefined || isEmptyObject(value);
}

/** The `Latchkey-App` header as given (undefined when absent); its syntax is checked where it is resolved. */
export function requestedApp(request: FastifyRequest): string | undefined {
  const header = request.headers['latchkey-app'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string') {
    throw new HttpRejection('VALIDATION_FAILED', { message: 'Latchkey-App: one app id', field: 'Latchkey-App' });
  }
  return header;
}

/**
 * Validates the session a request carries. A bearer header wins over cookies; a cookie-borne
 * credential on a state-changing request must pass the same-origin check first (before any store
 * call). RFC 6750 answers: 401 without `error` for no credential, 401 `invalid_token` for a bad one,
 * 400 `invalid_request` for a malformed header; 503 when the store cannot answer (never a pass). Then
 * the request's stamp (`Latchkey-Signature`), when it has one or the app requires one (stamps.ts).
 * A request that carries a stamp, or any request under `requireStamps`, counts as session activity (the
 * sliding idle expiry) only once its stamp passed, so a refused one keeps nobody's session alive; a
 * request without a stamp where the app requires none is touched by the validation itself (one store
 * call, as ever).
 */
async function authenticateSession(
  request: FastifyRequest,
  appId: string,
  services: Services,
  isStateChanging: boolean,
  rule: StampRule | undefined,
): Promise<SessionCaller> {
  let token = bearerCredential(request);
  let cookies: CookieNames | undefined;
  if (token === undefined) {
    cookies = services.cookies.names(appId);
    token = request.cookies?.[cookies.session];
    if (token === undefined) throw new HttpRejection('AUTHENTICATION_REQUIRED', { headers: challenge() });
    if (isStateChanging) checkSameOrigin(request, services.latchkey.settings(appId).signIn?.origin ?? null);
  }
  const isStampRequired = services.latchkey.settings(appId).sessionKeys.isStampRequired;
  const isStampChecked = isStampRequired || request.headers[STAMP_HEADER_NAME] !== undefined;
  const result = await services.latchkey.validateSession(token, isStampChecked ? { appId, activity: 'defer' } : { appId });
  if (!result.valid) {
    if (result.code === 'STORE_UNAVAILABLE') throw new HttpRejection('STORE_UNAVAILABLE');
    throw new HttpRejection(result.code, { headers: challenge('invalid_token') });
  }
  // The stamp, if any, is verified only for a session that validated: a key is never looked at for a dead one.
  const stamp = await checkStamp(
    request,
    { appId, sessionId: result.session.id, rule, isStampRequired, basePath: services.options.basePath },
    (input) => services.latchkey.sessionKeys.verifyStamp(input),
  );
  // Deferred validation left the activity out: only a request whose stamp passed records it. (Under
  // requireStamps an unstamped request that gets this far is a first key, its challenge, or a sign-out.)
  let session = result.session;
  if (stamp !== null) {
    session = await services.latchkey.recordActivity(token, { appId, session }).catch((error: unknown) => {
      throw services.storeFailed('recordActivity', error);
    });
  }
  return cookies ? { session, source: 'cookie', cookies, stamp } : { session, source: 'bearer', stamp };
}

/**
 * Verifies an app API key. A `Latchkey-App` header is resolved first, like on every other route (400 for
 * an id that cannot be one, 404 APP_UNKNOWN for an app that exists nowhere); then the key must be that
 * app's (403 API_KEY_APP_MISMATCH for a valid key of another app).
 */
async function authenticateApiKey(request: FastifyRequest, services: Services): Promise<ApiKeyCaller> {
  const credential = bearerCredential(request);
  if (credential === undefined) throw new HttpRejection('AUTHENTICATION_REQUIRED', { headers: challenge() });
  const requested = requestedApp(request);
  const app = requested === undefined ? undefined : await services.apps.resolve(requested);
  const caller = await services.apiKeys.verify(credential, app);
  await services.apps.resolve(caller.appId);
  return caller;
}

/**
 * Registers a route: parse params, query and body (nothing else runs on bad input), find the app,
 * authenticate, then hand over to the route's handler.
 */
export function mountRoute(app: FastifyInstance, route: RouteSpec, services: Services): void {
  const isStateChanging = route.method !== 'GET';
  app.route({
    method: route.method,
    url: fastifyPath(route.path),
    handler: async (request, reply) => {
      const params = route.params ? parsePart(route.params, request.params, 'params') : undefined;
      const query = route.query
        ? parsePart(route.query, request.query, 'query')
        : isEmptyObject(request.query)
          ? {}
          : parsePart(NO_QUERY, request.query, 'query');
      let body: unknown;
      if (route.body) body = parsePart(route.body, request.body, 'body');
      else if (!isEmptyBody(request.body))
        throw new HttpRejection('VALIDATION_FAILED', { message: 'body: none expected', field: 'body' });
      let appId = DEFAULT_APP_ID;
      let caller: SessionCaller | undefined;
      let apiKey: ApiKeyCaller | undefined;
      if (route.app === 'header') {
        const resolved = services.apps.resolve(requestedApp(request));
        appId = typeof resolved === 'string' ? resolved : await resolved;
      } else if (route.app === 'header-or-query') {
        const fromQuery = (query as { app?: string } | undefined)?.app;
        appId = await services.apps.resolve(requestedApp(request) ?? fromQuery);
      }
      if (route.access === 'session') caller = await authenticateSession(request, appId, services, isStateChanging, route.stamps);
      else if (route.access === 'api-key') {
        apiKey = await authenticateApiKey(request, services);
        appId = apiKey.appId;
      }
      return route.handle({ request, reply, params, query, body, appId, caller, apiKey, services });
    },
  });
}
