import type { AccessTokenClaims } from '../access/jwt.js';
import type { Session } from '../session/view.js';
import type { WalletAccount } from '../subject/index.js';

/**
 * The session behind a verified access token. A JWT carries no device, times or data, so this is
 * the part of a `Session` the token can vouch for; `permissions` come from the verifier's role map.
 */
export interface AccessTokenSession {
  /** Session id (the `sid` claim). */
  readonly id: string;
  /** CAIP-10 account (the `sub` claim). */
  readonly account: string;
  readonly address: string;
  readonly chainType: Session['chainType'];
  readonly scope: Session['scope'];
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  /** When the access token expires (ms), not the session. */
  readonly expiresAt: number;
}

/** How a request's credential was checked. */
export type ValidationMode = 'engine' | 'remote' | 'jwt';

/**
 * The verified stamp (`Latchkey-Signature`, docs/stamps.md) of a request: the session key of the
 * request's session that signed its method, path and body. Null when the request carried none.
 */
export interface StampContext {
  /** The session key's id (`lksk_…`). */
  readonly keyId: string;
  /** `read-only` keys may sign only GET, HEAD and OPTIONS (or a route with `isWrite: false`). */
  readonly scope: Session['scope'];
  /** When the key expires (ms). */
  readonly expiresAt: number;
}

/** A request that presented a valid session token (engine or a remote Latchkey server). */
export interface SessionTokenContext {
  readonly via: 'engine' | 'remote';
  readonly session: Session;
  readonly wallet: WalletAccount;
  readonly claims: null;
  /** The request's verified stamp, or null when it carried none. */
  readonly stamp: StampContext | null;
}

/** A request that presented a valid access token (JWT). */
export interface AccessTokenContext {
  readonly via: 'jwt';
  readonly session: AccessTokenSession;
  readonly wallet: WalletAccount;
  readonly claims: AccessTokenClaims;
  /** Always null: JWT mode cannot verify stamps (it has no session keys). */
  readonly stamp: null;
}

/** A request that `optionalWalletAuthentication` let through without a credential. */
export interface AnonymousContext {
  readonly via: null;
  readonly session: null;
  readonly wallet: null;
  readonly claims: null;
  readonly stamp: null;
}

export type AuthenticatedContext = SessionTokenContext | AccessTokenContext;

/**
 * What the middleware puts on a request (`req.latchkey` in Express, `request.latchkey` in Fastify).
 * Narrow on `session` (null for an anonymous request) or on `via` for the full `Session`.
 *
 * @example
 * if (req.latchkey.session) console.log(req.latchkey.wallet.address, req.latchkey.session.permissions);
 */
export type LatchkeyContext = AuthenticatedContext | AnonymousContext;

export const ANONYMOUS: AnonymousContext = Object.freeze({ via: null, session: null, wallet: null, claims: null, stamp: null });

/** A wallet from a CAIP-10 account the authority already normalised (no checksum work on the hot path). */
export function walletOf(account: string, address: string, chainType: Session['chainType']): WalletAccount {
  const first = account.indexOf(':');
  const last = account.lastIndexOf(':');
  return { account, chainType, reference: account.slice(first + 1, last), address };
}
