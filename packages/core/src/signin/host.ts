import type { AuditDraft } from '../audit/entry.js';
import type { ErrorCode } from '../errors/index.js';
import type { Clock, RandomSource } from '../runtime.js';
import type { AppSettings } from '../session/config.js';
import type { CreateSessionInput } from '../session/inputs.js';
import type { IssuedSession } from '../session/issue.js';
import type { Store } from '../store/contract.js';
import { parseAccount } from '../subject/index.js';

/** What the sign-in flow needs of the engine that hosts it. */
export interface SignInHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: RandomSource;
  settings(appId: string): AppSettings;
  createSession(input: CreateSessionInput): Promise<IssuedSession>;
  /** The server's own word on who a signed-in wallet is: roles and user id. */
  resolveSignIn?: ResolveSignIn;
  storeCall<T>(operation: string, call: () => Promise<T>): Promise<T>;
  record(appId: string, drafts: AuditDraft[]): Promise<void>;
}

/** How a wallet proved itself: Sign-In with Ethereum, Sign-In with Solana, or a QR-connect session token. */
export type SignInMethod = 'siwe' | 'siws' | 'connect';

/**
 * Called after a wallet proved itself and before its session is created: returns the roles and
 * user id the app grants that account (from its own database). Without it, the app's default roles.
 */
export type ResolveSignIn = (event: {
  appId: string;
  account: string;
  method: SignInMethod;
}) => Promise<{ roles?: string[]; userId?: string } | undefined> | { roles?: string[]; userId?: string } | undefined;

/** What a wallet proved (its account, by which method) and what the request asked for. */
export interface ProvenSignIn {
  appId: string;
  account: string;
  method: SignInMethod;
  /** The proof's own end (a message's Expiration Time, a token's expiresAt), ms: the session ends no later. */
  notAfter?: number | undefined;
  scope?: 'read-only' | 'read-write' | undefined;
  device?: CreateSessionInput['device'];
}

/**
 * The end every sign-in shares: roles and user id from the app's `resolveSignIn` hook (never from the
 * request), then a fresh session for the proven account, capped at `notAfter`.
 */
export async function issueSignInSession(host: SignInHost, proven: ProvenSignIn): Promise<IssuedSession> {
  const { appId, account, method } = proven;
  const granted = (await host.resolveSignIn?.({ appId, account, method })) ?? {};
  return host.createSession({
    appId,
    account,
    authMethod: method,
    ...(proven.notAfter === undefined ? {} : { notAfter: proven.notAfter }),
    ...(granted.userId === undefined ? {} : { userId: granted.userId }),
    ...(granted.roles === undefined ? {} : { roles: granted.roles }),
    ...(proven.scope === undefined ? {} : { scope: proven.scope }),
    ...(proven.device === undefined ? {} : { device: proven.device }),
  });
}

/**
 * The audit entry of a failed sign-in: the code and the account the request claimed (unverified, so
 * only when it parses), never a signature or token. `details` adds non-secret detail (a field name).
 */
export function signInFailure(
  now: number,
  method: SignInMethod,
  claimedAccount: string | null,
  code: ErrorCode,
  details: Record<string, string> = {},
): AuditDraft {
  let subject: string | null = null;
  try {
    subject = claimedAccount ? parseAccount(claimedAccount).account : null;
  } catch {
    subject = null;
  }
  return { at: now, type: 'signin_failed', sessionId: null, subject, details: { method, code, ...details } };
}
