import {
  optionalWalletAuthentication,
  requirePermission,
  requireWalletAuthentication,
  type WalletAuthenticationOptions,
  WalletAuthenticator,
} from '@latchkey/express';
import express, { type Express } from 'express';

export interface ExampleAppOptions {
  /**
   * How sessions are checked: `{ engine }`, `{ remote: { url, apiKey } }` or `{ jwt: { jwksUrl, issuer, audience } }`,
   * or a `WalletAuthenticator` made from them (to call its `forget(token)` from elsewhere). Bearer tokens only,
   * unless `cookieName` and `allowedOrigins` are given too.
   */
  latchkey: WalletAuthenticationOptions | WalletAuthenticator;
  /** The Latchkey server that `DELETE /session` signs out at (remote mode). */
  latchkeyUrl?: string;
}

/**
 * A tiny API guarded by Latchkey: one public route, one that needs a session, one that needs the
 * `write:profile` permission, one that greets anyone, and a sign-out that goes through the guard.
 */
export function createApp(options: ExampleAppOptions): Express {
  // One authenticator for every route: the required and optional guards share its remote cache.
  const latchkey = options.latchkey instanceof WalletAuthenticator ? options.latchkey : new WalletAuthenticator(options.latchkey);
  const app = express();
  app.use(express.json());

  app.get('/public', (_req, res) => {
    res.json({ hello: 'world' });
  });

  app.get('/me', requireWalletAuthentication(latchkey), (req, res) => {
    const { session, wallet } = req.latchkey;
    if (!session) return void res.status(500).end(); // never: the guard let a session through
    res.json({ address: wallet.address, chainType: wallet.chainType, scope: session.scope, permissions: session.permissions });
  });

  app.put('/profile', requireWalletAuthentication(latchkey), requirePermission('write:profile'), (req, res) => {
    res.json({ saved: true, by: req.latchkey.wallet?.address, name: (req.body as { name?: unknown })?.name ?? null });
  });

  app.get('/greeting', optionalWalletAuthentication(latchkey), (req, res) => {
    res.json({ greeting: req.latchkey.wallet ? `gm ${req.latchkey.wallet.address}` : 'gm, stranger' });
  });

  // Sign-out proxied to the Latchkey server. A DELETE on a session path through the guard makes the
  // remote-mode cache forget this wallet's answers at once. The caller's credential (its bearer token,
  // or its session cookie when the app reads one) is forwarded as a bearer token: server to server, no
  // cookie and no CSRF rule apply, and the guard has already checked both.
  app.delete('/session', requireWalletAuthentication(latchkey), async (req, res) => {
    if (!options.latchkeyUrl)
      return void res.status(501).json({ error: { code: 'NOT_CONFIGURED', message: 'No Latchkey server.' } });
    const upstream = await fetch(`${options.latchkeyUrl}/v1/session`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${latchkey.tokenOf(req.headers)}` },
    });
    res.status(upstream.status).end();
  });

  return app;
}
