import { latchkey, type WalletAuthenticationOptions } from '@latchkey/fastify';
import Fastify, { type FastifyInstance } from 'fastify';

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

  return app;
}
