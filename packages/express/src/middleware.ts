import {
  type Answer,
  assertPermission,
  type GuardOptions,
  permissionAnswer,
  STAMP_HEADER_NAME,
  type WalletAuthenticationOptions,
  WalletAuthenticator,
} from '@latchkey/core/middleware';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { receivedBody } from './raw-body.js';
import './request.js';

/** A Latchkey middleware, with the authenticator it uses and a way to forget a remembered token. */
export type WalletAuthenticationHandler = RequestHandler & {
  readonly authenticator: WalletAuthenticator;
  /** Remote mode: drop the cached answer for this token so the next request asks the server. No-op otherwise. */
  forget(token: string): void;
};

function authenticatorFrom(options: WalletAuthenticationOptions | WalletAuthenticator): WalletAuthenticator {
  return options instanceof WalletAuthenticator ? options : new WalletAuthenticator(options);
}

function send(res: Response, answer: Answer): void {
  res.status(answer.status).set(answer.headers).json(answer.body);
}

function guard(authenticator: WalletAuthenticator, isRequired: boolean, options: Readonly<GuardOptions>): RequestHandler {
  const watchesResponses = authenticator.watchesResponses;
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    // The method feeds the CSRF rule on cookie credentials; method, target and body are what a stamp signs.
    // `originalUrl` is the request line's target whatever router or mount path this guard sits under.
    const outcome = await authenticator.authenticate(req.headers, {
      ...options,
      isRequired,
      method: req.method,
      target: req.originalUrl,
      body: req.headers[STAMP_HEADER_NAME] === undefined ? null : receivedBody(req),
    });
    if (outcome.kind === 'refused') {
      send(res, outcome.answer);
      return;
    }
    req.latchkey = outcome.context;
    if (watchesResponses && outcome.kind === 'authenticated' && outcome.remembered) {
      const remembered = outcome.remembered;
      res.once('finish', () =>
        authenticator.responseFinished(remembered, { method: req.method, url: req.originalUrl, status: res.statusCode }),
      );
    }
    next();
  };
}

function named(name: string, authenticator: WalletAuthenticator, handler: RequestHandler): WalletAuthenticationHandler {
  Object.defineProperty(handler, 'name', { value: name });
  return Object.assign(handler, { authenticator, forget: (token: string): void => authenticator.forget(token) });
}

/**
 * Requires a valid wallet session. The credential is `Authorization: Bearer <token>`, or the session
 * cookie when `cookieName` (with `allowedOrigins`) is set; the answer to anything else follows RFC 6750:
 * 401 with `WWW-Authenticate` when there is no credential or it is refused, 400 for a malformed header,
 * 503 when the authority cannot answer. A cookie on a state-changing method from an origin not in
 * `allowedOrigins` is 403 `CSRF_REJECTED`.
 * On success `req.latchkey.session` and `req.latchkey.wallet` are set. Options are validated here,
 * once; pass a `WalletAuthenticator` to share one (and its remote cache) between several handlers.
 *
 * A stamp (`Latchkey-Signature`) that comes is verified against the path and query as sent
 * (`req.originalUrl`, whatever router this sits under) and the raw body kept by `keepRawBody`; with
 * `{ stamps: 'required' }` a request without one is 401 `SIGNATURE_REQUIRED`. `req.latchkey.stamp`
 * then holds the key that signed (`keyId`, `scope`).
 *
 * @example
 * const latchkey = new WalletAuthenticator({ engine });
 * app.get('/me', requireWalletAuthentication(latchkey), (req, res) => res.json(req.latchkey.session));
 * app.post('/transfer', requireWalletAuthentication(latchkey, { stamps: 'required' }), transfer);
 */
export function requireWalletAuthentication(
  options: WalletAuthenticationOptions | WalletAuthenticator,
  guardOptions?: GuardOptions,
): WalletAuthenticationHandler {
  const authenticator = authenticatorFrom(options);
  const resolved = authenticator.guardOptions(guardOptions);
  return named('requireWalletAuthentication', authenticator, guard(authenticator, true, resolved));
}

/**
 * Like `requireWalletAuthentication`, but a request without any credential passes as anonymous
 * (`req.latchkey.session === null`). A credential that is sent must be valid (else 401 or 400), and
 * an authority that cannot answer is a 503, never an anonymous pass. Stamps as for
 * `requireWalletAuthentication`; an anonymous request's stamp is not looked at.
 */
export function optionalWalletAuthentication(
  options: WalletAuthenticationOptions | WalletAuthenticator,
  guardOptions?: GuardOptions,
): WalletAuthenticationHandler {
  const authenticator = authenticatorFrom(options);
  const resolved = authenticator.guardOptions(guardOptions);
  return named('optionalWalletAuthentication', authenticator, guard(authenticator, false, resolved));
}

/**
 * Requires a permission (`write:profile`, `read:*`, `*`) of the session that an earlier Latchkey
 * handler put on the request: 403 `PERMISSION_DENIED` with `error="insufficient_scope"` when it is
 * missing (a read-only session never holds a `write:` permission), 401 for an anonymous request.
 * Used without an earlier Latchkey handler it fails the request with an error (500), never a pass.
 *
 * @example
 * app.put('/profile', requireWalletAuthentication(latchkey), requirePermission('write:profile'), handler);
 */
export function requirePermission(permission: string): RequestHandler {
  assertPermission(permission);
  const handler = (req: Request, res: Response, next: NextFunction): void => {
    const answer = permissionAnswer(req.latchkey, permission);
    if (answer) send(res, answer);
    else next();
  };
  Object.defineProperty(handler, 'name', { value: 'requirePermission' });
  return handler;
}
