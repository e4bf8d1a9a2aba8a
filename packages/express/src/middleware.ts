import {
  type Answer,
  assertPermission,
  permissionAnswer,
  type WalletAuthenticationOptions,
  WalletAuthenticator,
} from '@latchkey/core/middleware';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
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

function guard(authenticator: WalletAuthenticator, isRequired: boolean): RequestHandler {
  const watchesResponses = authenticator.watchesResponses;
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    // The method feeds the CSRF rule on cookie credentials.
    const outcome = await authenticator.authenticate(req.headers, { isRequired, method: req.method });
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
 * @example
 * const latchkey = new WalletAuthenticator({ engine });
 * app.get('/me', requireWalletAuthentication(latchkey), (req, res) => res.json(req.latchkey.session));
 */
export function requireWalletAuthentication(
  options: WalletAuthenticationOptions | WalletAuthenticator,
): WalletAuthenticationHandler {
  const authenticator = authenticatorFrom(options);
  return named('requireWalletAuthentication', authenticator, guard(authenticator, true));
}

/**
 * Like `requireWalletAuthentication`, but a request without any credential passes as anonymous
 * (`req.latchkey.session === null`). A credential that is sent must be valid (else 401 or 400), and
 * an authority that cannot answer is a 503, never an anonymous pass.
 */
export function optionalWalletAuthentication(
  options: WalletAuthenticationOptions | WalletAuthenticator,
): WalletAuthenticationHandler {
  const authenticator = authenticatorFrom(options);
  return named('optionalWalletAuthentication', authenticator, guard(authenticator, false));
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
