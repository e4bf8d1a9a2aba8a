import {
  keepRawBody,
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
 * With the engine or a remote server, a router at `/api` takes signed requests (stamps).
 */
export function createApp(options: ExampleAppOptions): Express {
  // One authenticator for every route: the required and optional guards share its remote cache.
  const latchkey = options.latchkey instanceof WalletAuthenticator ? options.latchkey : new WalletAuthenticator(options.latchkey);
  const app = express();
  // keepRawBody keeps the bytes as received for stamped requests: a stamp signs those, not a re-serialised req.body.
  app.use(express.json({ verify: keepRawBody }));

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

  // Signed requests. Stamps are checked against session keys, which JWT mode cannot reach.
  if (latchkey.mode !== 'jwt') app.use('/api', signedRoutes(latchkey));

  return app;
}

/**
 * Routes that take stamps, mounted under `/api`: the guard checks the stamp against the full path as
 * sent (`/api/transfer?…`), not the router's view of it.
 */
function signedRoutes(latchkey: WalletAuthenticator): express.Router {
  const api = express.Router();
  const signer = (req: express.Request) => ({
    keyId: req.latchkey.stamp?.keyId ?? null,
    scope: req.latchkey.stamp?.scope ?? null,
  });

  // A stamp is verified when sent, not required.
  api.get('/balance', requireWalletAuthentication(latchkey), (req, res) => {
    res.json({ balance: 100, currency: req.query.currency ?? 'eth', ...signer(req) });
  });
  // A stamp is required; a read-only key is refused (403 SCOPE_READ_ONLY).
  api.post('/transfer', requireWalletAuthentication(latchkey, { stamps: 'required' }), (req, res) => {
    res.json({ sent: (req.body as { amount?: unknown }).amount ?? null, ...signer(req) });
  });
  // A POST that changes nothing: a read-only key may sign it.
  api.post('/search', requireWalletAuthentication(latchkey, { stamps: 'required', isWrite: false }), (req, res) => {
    res.json({ results: [], query: (req.body as { query?: unknown }).query ?? null, ...signer(req) });
  });
  return api;
}
