import { LatchkeyError } from '@latchkey/core';
import {
  type Answer,
  assertPermission,
  type LatchkeyContext,
  permissionAnswer,
  type RememberedToken,
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
   */
  require(): LatchkeyHook;
  /** Lets a request without any credential through as anonymous; a sent credential must still be valid. */
  optional(): LatchkeyHook;
  /** Requires a permission of the session an earlier Latchkey hook set: 403 `insufficient_scope` without it. */
  requirePermission(permission: string): LatchkeyHook;
  /** Remote mode: drop the cached answer for this token so the next request asks the server. No-op otherwise. */
  forget(token: string): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by `fastify.latchkey.require()` (a session, always) and `.optional()` (a session, or the
     * anonymous context whose `session` is null). Null on routes that neither guards.
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

function named<T extends object>(name: string, hook: T): T {
  Object.defineProperty(hook, 'name', { value: name });
  return hook;
}

async function latchkeyPlugin(fastify: FastifyInstance, options: LatchkeyPluginOptions): Promise<void> {
  const authenticator = authenticatorFrom(options);
  const remembered = authenticator.watchesResponses ? new WeakMap<FastifyRequest, RememberedToken>() : null;

  const guard = (name: string, isRequired: boolean): LatchkeyHook =>
    named(name, async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      // The method feeds the CSRF rule on cookie credentials.
      const outcome = await authenticator.authenticate(request.headers, { isRequired, method: request.method });
      if (outcome.kind === 'refused') return send(reply, outcome.answer);
      request.latchkey = outcome.context;
      if (remembered && outcome.kind === 'authenticated' && outcome.remembered) remembered.set(request, outcome.remembered);
      return undefined;
    });
  const requireHook = guard('requireWalletAuthentication', true);
  const optionalHook = guard('optionalWalletAuthentication', false);

  const decorator: LatchkeyDecorator = Object.freeze({
    authenticator,
    require: () => requireHook,
    optional: () => optionalHook,
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
 */
export const latchkey = fp(latchkeyPlugin, { fastify: '5.x', name: '@latchkey/fastify' });
