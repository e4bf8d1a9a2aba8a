import { latchkey, type WalletAuthenticationOptions } from '@latchkey/fastify';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';

export interface ExampleAppOptions {
  /**
   * How sessions are checked: `{ engine }`, `{ remote: { url, apiKey } }` or `{ jwt: { jwksUrl, issuer, audience } }`.
   * Bearer tokens only, unless `cookieName` and `allowedOrigins` are given too.
   */
  latchkey: WalletAuthenticationOptions;
  /** The Latchkey server that `DELETE /session` signs out at (remote mode). */
  latchkeyUrl?: string;
}

/**
 * A tiny API guarded by Latchkey: one public route, one that needs a session, one that needs the
 * `write:profile` permission, one that greets anyone, and a sign-out that goes through the guard.
 * With the engine or a remote server, routes registered under the prefix `/api` take signed requests (stamps).
 */
export async function createApp(options: ExampleAppOptions): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(latchkey, options.latchkey);

  app.get('/public', async () => ({ hello: 'world' }));

  app.get('/me', { preHandler: app.latchkey.require() }, async (request, reply) => {
    const { session, wallet } = request.latchkey;
    if (!session) return reply.code(500).send(); // never: the guard let a session through
    return { address: wallet.address, chainType: wallet.chainType, scope: session.scope, permissions: session.permissions };
  });

  app.put<{ Body: { name?: string } }>(
    '/profile',
    { preHandler: [app.latchkey.require(), app.latchkey.requirePermission('write:profile')] },
    async (request) => ({ saved: true, by: request.latchkey.wallet?.address, name: request.body?.name ?? null }),
  );

  app.get('/greeting', { preHandler: app.latchkey.optional() }, async (request) => ({
    greeting: request.latchkey.wallet ? `gm ${request.latchkey.wallet.address}` : 'gm, stranger',
  }));

  // Sign-out proxied to the Latchkey server. A DELETE on a session path through the guard makes the
  // remote-mode cache forget this wallet's answers at once. The caller's credential (its bearer token,
  // or its session cookie when the app reads one) is forwarded as a bearer token: server to server, no
  // cookie and no CSRF rule apply, and the guard has already checked both.
  app.delete('/session', { preHandler: app.latchkey.require() }, async (request, reply) => {
    if (!options.latchkeyUrl) return reply.code(501).send({ error: { code: 'NOT_CONFIGURED', message: 'No Latchkey server.' } });
    const upstream = await fetch(`${options.latchkeyUrl}/v1/session`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${app.latchkey.authenticator.tokenOf(request.headers)}` },
    });
    return reply.code(upstream.status).send();
  });

  // Signed requests. Stamps are checked against session keys, which JWT mode cannot reach.
  if (app.latchkey.authenticator.mode !== 'jwt') await app.register(signedRoutes, { prefix: '/api' });

  return app;
}

/**
 * Routes that take stamps, registered with the prefix `/api`: the guard checks the stamp against the
 * full path as sent (`/api/transfer?…`). The plugin keeps the raw body of stamped requests; the
 * JSON parser is Fastify's own. Guards run as `preHandler`, after the body is read.
 */
async function signedRoutes(api: FastifyInstance): Promise<void> {
  const signer = (request: FastifyRequest) => ({
    keyId: request.latchkey.stamp?.keyId ?? null,
    scope: request.latchkey.stamp?.scope ?? null,
  });

  // A stamp is verified when sent, not required.
  api.get<{ Querystring: { currency?: string } }>('/balance', { preHandler: api.latchkey.require() }, async (request) => ({
    balance: 100,
    currency: request.query.currency ?? 'eth',
    ...signer(request),
  }));
  // A stamp is required; a read-only key is refused (403 SCOPE_READ_ONLY).
  api.post<{ Body: { amount?: number } }>(
    '/transfer',
    { preHandler: api.latchkey.require({ stamps: 'required' }) },
    async (request) => ({ sent: request.body?.amount ?? null, ...signer(request) }),
  );
  // A POST that changes nothing: a read-only key may sign it.
  api.post<{ Body: { query?: string } }>(
    '/search',
    { preHandler: api.latchkey.require({ stamps: 'required', isWrite: false }) },
    async (request) => ({ results: [], query: request.body?.query ?? null, ...signer(request) }),
  );
}
