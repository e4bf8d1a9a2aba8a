import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LatchkeyError } from '@latchkey/core';
import {
  type Answer,
  assertPermission,
  type GuardOptions,
  hasRequestBody,
  type LatchkeyContext,
  permissionAnswer,
  type RememberedToken,
  STAMP_HEADER_NAME,
  type WalletAuthenticationOptions,
  WalletAuthenticator,
} from '@latchkey/core/middleware';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** A Latchkey hook: use it as a route's `preHandler` (or `onRequest`, which runs before the body is read). */
export type LatchkeyHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** `fastify.latchkey`: the three behaviours, made once when the plugin is registered. */
export interface LatchkeyDecorator {
  readonly authenticator: WalletAuthenticator;
  /**
   * Requires a valid wallet session; RFC 6750 answers otherwise (401 with `WWW-Authenticate`, 400 for
   * a malformed header, 503 when the authority cannot answer). Sets `request.latchkey`. With a cookie
   * configured, a cookie on a state-changing method from an origin not allowed is 403 `CSRF_REJECTED`.
   * A stamp (`Latchkey-Signature`) that comes is verified against the path and query as sent and the
   * body bytes as received; `{ stamps: 'required' }` refuses a request without one (401
   * `SIGNATURE_REQUIRED`). Use it as a `preHandler` on routes with bodies: as `onRequest` the body is
   * not read yet, and a stamped request with a body is answered 500 (and logged).
   */
  require(options?: GuardOptions): LatchkeyHook;
  /** Lets a request without any credential through as anonymous; a sent credential must still be valid. */
  optional(options?: GuardOptions): LatchkeyHook;
  /** Requires a permission of the session an earlier Latchkey hook set: 403 `insufficient_scope` without it. */
  requirePermission(permission: string): LatchkeyHook;
  /** Remote mode: drop the cached answer for this token so the next request asks the server. No-op otherwise. */
  forget(token: string): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by `fastify.latchkey.require()` (a session, always) and `.optional()` (a session, or the
     * anonymous context whose `session` is null). Null on routes that neither guards. `stamp` holds the
     * session key that signed the request (`keyId`, `scope`), or null when it carried no stamp.
     */
    latchkey: LatchkeyContext;
  }
  interface FastifyInstance {
    latchkey: LatchkeyDecorator;
  }
}

/** Plugin options: the middleware options (exactly one of `engine`, `remote`, `jwt`), or an authenticator to share. */
export type LatchkeyPluginOptions = WalletAuthenticationOptions | { authenticator: WalletAuthenticator };

/** Keys Fastify's `register` itself reads; they are not Latchkey options. */
const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers']);

function authenticatorFrom(options: LatchkeyPluginOptions): WalletAuthenticator {
  if ('authenticator' in options && options.authenticator !== undefined) {
    if (!(options.authenticator instanceof WalletAuthenticator)) {
      throw new LatchkeyError('CONFIG_INVALID', {
        message: 'authenticator: expected a WalletAuthenticator',
        field: 'authenticator',
      });
    }
    return options.authenticator;
  }
  const own = Object.fromEntries(Object.entries(options).filter(([key]) => !REGISTER_KEYS.has(key)));
  return new WalletAuthenticator(own as WalletAuthenticationOptions);
}

function send(reply: FastifyReply, answer: Answer): FastifyReply {
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

const rawBodies = new WeakMap<FastifyRequest, Buffer>();

/** Methods whose body Fastify never reads: nobody acts on it, so it is hashed as empty, as the Latchkey server does. */
const UNREAD_BODY_METHODS = new Set(['GET', 'HEAD']);

/**
 * Copies the body bytes of a stamped request as they stream to the content-type parser, whatever it
 * is (the host's JSON parser, or any other): the parser reads exactly what it read before, under the
 * same body limit, and the copy is kept beside the request until it is gone. Requests without a
 * `Latchkey-Signature` are not touched.
 */
async function keepRawBody(request: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream) {
  if (request.headers[STAMP_HEADER_NAME] === undefined) return payload;
  const chunks: Buffer[] = [];
  const copy = new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(bytes);
      callback(null, bytes);
    },
    flush(callback) {
      rawBodies.set(request, Buffer.concat(chunks));
      callback();
    },
  });
  // An aborted upload errors the copy, and the parser with it; the promise's own rejection is not needed.
  pipeline(payload, copy).catch(() => {});
  return copy;
}

/** The body as received; null without one; undefined when there is one the guard cannot see (it ran before parsing). */
function receivedBody(request: FastifyRequest): Uint8Array | null | undefined {
  const raw = rawBodies.get(request);
  if (raw !== undefined) return raw;
  if (UNREAD_BODY_METHODS.has(request.method)) return null;
  return hasRequestBody(request.headers) ? undefined : null;
}

function named<T extends object>(name: string, hook: T): T {
  Object.defineProperty(hook, 'name', { value: name });
  return hook;
}

async function latchkeyPlugin(fastify: FastifyInstance, options: LatchkeyPluginOptions): Promise<void> {
  const authenticator = authenticatorFrom(options);
  const remembered = authenticator.watchesResponses ? new WeakMap<FastifyRequest, RememberedToken>() : null;

  const guard = (name: string, isRequired: boolean, options: Readonly<GuardOptions>): LatchkeyHook =>
    named(name, async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      // The method feeds the CSRF rule on cookie credentials; method, target and body are what a stamp signs.
      // `originalUrl` is the request line's target (before any rewriteUrl); a register prefix never changes it.
      const outcome = await authenticator.authenticate(request.headers, {
        ...options,
        isRequired,
        method: request.method,
        target: request.originalUrl,
        body: request.headers[STAMP_HEADER_NAME] === undefined ? null : receivedBody(request),
      });
      if (outcome.kind === 'refused') return send(reply, outcome.answer);
      request.latchkey = outcome.context;
      if (remembered && outcome.kind === 'authenticated' && outcome.remembered) remembered.set(request, outcome.remembered);
      return undefined;
    });
  const requireHook = guard('requireWalletAuthentication', true, authenticator.guardOptions());
  const optionalHook = guard('optionalWalletAuthentication', false, authenticator.guardOptions());

  const decorator: LatchkeyDecorator = Object.freeze({
    authenticator,
    require: (options?: GuardOptions) =>
      options === undefined ? requireHook : guard('requireWalletAuthentication', true, authenticator.guardOptions(options)),
    optional: (options?: GuardOptions) =>
      options === undefined ? optionalHook : guard('optionalWalletAuthentication', false, authenticator.guardOptions(options)),
    requirePermission(permission: string): LatchkeyHook {
      assertPermission(permission);
      return named('requirePermission', async (request: FastifyRequest, reply: FastifyReply) => {
        const answer = permissionAnswer(request.latchkey, permission);
        return answer ? send(reply, answer) : undefined;
      });
    },
    forget: (token: string): void => authenticator.forget(token),
  });

  fastify.decorate('latchkey', decorator);
  fastify.addHook('preParsing', keepRawBody);
  // Null, not an object: Fastify shares a decorator's initial value between requests.
  if (!fastify.hasRequestDecorator('latchkey'))
    fastify.decorateRequest<LatchkeyContext, 'latchkey'>('latchkey', null as unknown as LatchkeyContext);
  if (remembered) {
    fastify.addHook('onResponse', (request, reply, done) => {
      const token = remembered.get(request);
      if (token) authenticator.responseFinished(token, { method: request.method, url: request.url, status: reply.statusCode });
      done();
    });
  }
}

/**
 * The Latchkey plugin for Fastify. Register it once with the options; routes then pick a behaviour.
 *
 * @example
 * await app.register(latchkey, { engine });
 * app.get('/me', { preHandler: app.latchkey.require() }, async (request) => request.latchkey.session);
 * app.put('/profile', { preHandler: [app.latchkey.require(), app.latchkey.requirePermission('write:profile')] }, handler);
 * app.post('/transfer', { preHandler: app.latchkey.require({ stamps: 'required' }) }, transfer);
 */
export const latchkey = fp(latchkeyPlugin, { fastify: '5.x', name: '@latchkey/fastify' });
