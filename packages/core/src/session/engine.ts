import type { AccessTokenResult } from '../access/jwt.js';
import { AccessTokens, type PublicJwk } from '../access/service.js';
import type { AuditVerifyResult } from '../audit/chain.js';
import type { AuditEntry } from '../audit/entry.js';
import { SessionDataCipher } from '../crypto/keyring.js';
import { LatchkeyError } from '../errors/index.js';
import { SessionKeys } from '../keys/service.js';
import { type Logger, silentLogger } from '../logger.js';
import { cryptoRandom, systemClock } from '../runtime.js';
import type { ConnectSignInRequest } from '../signin/connect.js';
import { SignInFlow, type SignInRequest } from '../signin/flow.js';
import type { StoreStats } from '../store/contract.js';
import {
  APP_ID_PATTERN,
  type AppSettings,
  type AppSettingsInput,
  DEFAULT_APP_ID,
  type LatchkeyOptions,
  resolveApp,
  resolveAppSettings,
} from './config.js';
import { createEngineContext, type EngineContext } from './context.js';
import { getSessionData, setSessionData } from './data.js';
import type { CreateSessionInput } from './inputs.js';
import { createSession, type IssuedSession } from './issue.js';
import {
  type AuditQueryOptions,
  cleanupExpiredSessions,
  getSessionStats,
  getWalletSessions,
  queryAudit,
  verifyAudit,
} from './operations.js';
import { grants } from './permissions.js';
import { refreshSession } from './refresh.js';
import { invalidateAllWalletSessions, revokeSession, revokeSessionById } from './revocation.js';
import { recordActivity, type ValidateOptions, type ValidationResult, validateSession } from './validation.js';
import type { Session } from './view.js';

export type { IssuedSession } from './issue.js';
export type { AuditQueryOptions } from './operations.js';
export type { InvalidSessionCode, ValidateOptions, ValidationResult } from './validation.js';

/** The wallet-facing identity behind a token (origin 003's `getUserFromToken`). */
export interface TokenUser {
  sessionId: string;
  account: string;
  address: string;
  chainType: Session['chainType'];
  userId: string | null;
  roles: string[];
  permissions: readonly string[];
  scope: Session['scope'];
}

/**
 * The wallet session engine: one instance per process, over one Store.
 *
 * @example
 * const latchkey = new Latchkey({ store: new MemoryStore() });
 * const { token, refreshToken } = await latchkey.createSession({
 *   account: 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045', authMethod: 'siwe' });
 * const result = await latchkey.validateSession(token);
 * if (result.valid) console.log(result.session.account);
 */
export class Latchkey {
  readonly #ctx: EngineContext;
  readonly #apps: Map<string, AppSettings>;
  readonly #defaults: AppSettingsInput | undefined;
  readonly #signIn: SignInFlow;
  /**
   * Device-bound session keys and request stamps: `create`, `list`, `revoke`, `createChallenge`,
   * `verifyStamp`. Settings per app under `sessionKeys`.
   */
  readonly sessionKeys: SessionKeys;
  #cleanupTimer: ReturnType<typeof setInterval> | null = null;

  constructor(options: LatchkeyOptions) {
    if (!options || typeof options.store?.validateSession !== 'function') {
      throw new LatchkeyError('CONFIG_INVALID', { message: 'store: a Store is required', field: 'store' });
    }
    const store = options.store;
    const clock = options.clock ?? systemClock;
    const random = options.random ?? cryptoRandom;
    const logger = options.logger ?? silentLogger;
    this.#defaults = options.defaults;
    this.#apps = resolveAppSettings(options.defaults, options.apps);
    const cipher = options.dataKeys ? new SessionDataCipher(options.dataKeys, random) : null;
    for (const [appId, settings] of this.#apps) AccessTokens.check(appId, settings.accessTokens, cipher);
    const ctx = createEngineContext({ store, clock, random, logger, cipher, settings: (appId) => this.settings(appId) });
    this.#ctx = ctx;
    this.sessionKeys = new SessionKeys(ctx);
    this.#signIn = new SignInFlow(
      {
        store,
        clock,
        random,
        settings: (appId) => this.settings(appId),
        createSession: (input) => this.createSession(input),
        ...(options.resolveSignIn ? { resolveSignIn: options.resolveSignIn } : {}),
        storeCall: ctx.storeCall,
        record: (appId, drafts) => ctx.record(appId, drafts, {}),
      },
      options.smartAccounts,
    );
    const interval = options.cleanupIntervalSeconds ?? 3600;
    if (!Number.isInteger(interval) || interval < 0) {
      throw new LatchkeyError('CONFIG_INVALID', {
        message: 'cleanupIntervalSeconds: a whole number of seconds, 0 to turn off',
        field: 'cleanupIntervalSeconds',
      });
    }
    if (interval > 0) {
      this.#cleanupTimer = setInterval(() => {
        this.cleanupExpiredSessions().catch((error: unknown) =>
          this.#ctx.logger.error('scheduled cleanup failed', { error: String(error) }),
        );
      }, interval * 1000);
      this.#cleanupTimer.unref?.();
    }
  }

  /** Stops the cleanup schedule. The store belongs to the caller and stays open. */
  close(): void {
    if (this.#cleanupTimer) clearInterval(this.#cleanupTimer);
    this.#cleanupTimer = null;
    this.#ctx.access.close();
  }

  /** Replaces the logger (origin 003's `setLogger`). */
  setLogger(logger: Logger): void {
    this.#ctx.logger = logger;
  }

  /**
   * Adds (or replaces) an app at run time, e.g. one created with the CLI and kept in the store:
   * `defaults` overridden by `settings`, validated exactly as at construction.
   */
  addApp(appId: string, settings: AppSettingsInput = {}): AppSettings {
    const resolved = resolveApp(appId, this.#defaults, settings);
    AccessTokens.check(appId, resolved.accessTokens, this.#ctx.cipher);
    this.#apps.set(appId, resolved);
    return resolved;
  }

  /** The ids of every app this engine serves. */
  appIds(): string[] {
    return [...this.#apps.keys()];
  }

  /** The settings in force for an app; throws APP_UNKNOWN for an app that is not configured. */
  settings(appId: string = DEFAULT_APP_ID): AppSettings {
    const s = this.#apps.get(appId);
    if (!s) {
      const shown = typeof appId === 'string' && APP_ID_PATTERN.test(appId) ? ` "${appId}"` : '';
      throw new LatchkeyError('APP_UNKNOWN', { message: `Unknown app${shown}.`, field: 'appId' });
    }
    return s;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /**
   * Creates a session for a wallet that has just proved itself (SIWE, SIWS, connect…). Always a new
   * session id. Enforces the per-wallet limit atomically. Aliased as `createWalletSession`.
   */
  createSession(input: CreateSessionInput): Promise<IssuedSession> {
    return createSession(this.#ctx, input);
  }

  // ---- access tokens ---------------------------------------------------------------------------

  /**
   * Verifies a JWT access token locally: no store round trip (keys are cached), distinct codes for
   * every failure. With the app's `revocationCheck`, tokens of revoked sessions fail within a second.
   */
  verifyAccessToken(
    token: string,
    options: { appId?: string } = {},
  ): Promise<AccessTokenResult | { valid: false; code: 'STORE_UNAVAILABLE' }> {
    return this.#ctx.access.verify(options.appId ?? DEFAULT_APP_ID, token);
  }

  /** The app's JWKS document (empty for HS256). */
  getJwks(options: { appId?: string } = {}): Promise<{ keys: PublicJwk[] }> {
    return this.#ctx.access.jwks(options.appId ?? DEFAULT_APP_ID);
  }

  /** Publishes a new signing key now; it signs after `keyPublishSeconds`. */
  rotateSigningKey(options: { appId?: string } = {}): Promise<{ kid: string; activatesAt: number }> {
    return this.#ctx.access.rotate(options.appId ?? DEFAULT_APP_ID);
  }

  // ---- wallet sign-in -------------------------------------------------------------------------

  /** Issues a single-use sign-in nonce for an app with `signIn` settings. */
  issueNonce(options: { appId?: string } = {}): Promise<{ nonce: string; expiresAt: number }> {
    return this.#signIn.issueNonce(options);
  }

  /**
   * Sign-In with Ethereum (EIP-4361): consumes the message's nonce, checks domain, URI origin,
   * chain id and time bounds against the app's settings, verifies the signature (EOA, ERC-1271,
   * ERC-6492), and creates a fresh session capped at the message's Expiration Time.
   */
  signInWithEthereum(request: SignInRequest): Promise<IssuedSession> {
    return this.#signIn.signInWithEthereum(request);
  }

  /** Sign-In with Solana: the same flow with an Ed25519 signature. */
  signInWithSolana(request: SignInRequest): Promise<IssuedSession> {
    return this.#signIn.signInWithSolana(request);
  }

  /**
   * The QR-connect session bridge: consumes the channel id (once per channel, CONNECT_CHANNEL_USED
   * after), checks the wallet-signed session token's channel, relay (the app's `connect.relayUrls`),
   * chain and times against this server, verifies its signature (EOA, ERC-1271, Ed25519),
   * and creates a fresh session capped at the token's expiry.
   *
   * @example
   * const { token } = await latchkey.signInWithConnect({ sessionToken, uuid });
   */
  signInWithConnect(request: ConnectSignInRequest): Promise<IssuedSession> {
    return this.#signIn.signInWithConnect(request);
  }

  /**
   * Validates a session token: one store round trip, an activity write at most once per throttle
   * interval, no decryption unless `withData`. Never throws for a bad token; a store that cannot
   * answer yields `STORE_UNAVAILABLE`, never a valid session. Aliased as `validateWalletSession`.
   */
  validateSession(token: string, options: ValidateOptions = {}): Promise<ValidationResult> {
    return validateSession(this.#ctx, token, options);
  }

  /**
   * The activity write of a validation made with `activity: 'defer'`, once the request is accepted
   * (its stamp checked): a store call only when one is due (once per throttle interval), never reviving
   * an expired session. Answers the session after the write. Throws STORE_UNAVAILABLE.
   *
   * @example
   * const result = await latchkey.validateSession(token, { activity: 'defer' });
   * if (!result.valid) return refuse(result.code);
   * const stamp = await latchkey.sessionKeys.verifyStamp({ sessionId: result.session.id, ...request });
   * if (!stamp.valid) return refuse(stamp.code); // the idle expiry did not move
   * const session = await latchkey.recordActivity(token, { session: result.session });
   */
  recordActivity(token: string, options: { appId?: string; session: Session }): Promise<Session> {
    return recordActivity(this.#ctx, token, options);
  }

  /**
   * Rotates both secrets of a session and extends its idle expiry (never past the absolute one).
   * A refresh token used again inside the grace window gets the same successor back; any other reuse
   * revokes the session and throws REFRESH_TOKEN_REUSED. Aliased as `refreshWalletSession` and `refresh`.
   */
  refreshSession(refreshToken: string, options: { appId?: string } = {}): Promise<IssuedSession> {
    return refreshSession(this.#ctx, refreshToken, options);
  }

  /**
   * Signs out the session a token belongs to. True when a session was revoked. Aliased as
   * `destroySession` and `invalidateWalletSession`.
   */
  revokeSession(token: string, options: { appId?: string } = {}): Promise<boolean> {
    return revokeSession(this.#ctx, token, options);
  }

  /** Revokes a session by its public id (an operator action, or "sign out that device"). */
  revokeSessionById(sessionId: string, options: { appId?: string; reason?: string } = {}): Promise<boolean> {
    return revokeSessionById(this.#ctx, sessionId, options);
  }

  /** A wallet's live sessions, oldest first (origin 002's `getWalletSessions`, 003's `getActiveSessions`). */
  getWalletSessions(account: string, options: { appId?: string } = {}): Promise<Session[]> {
    return getWalletSessions(this.#ctx, account, options);
  }

  /**
   * Revokes every session of a wallet, or all but one (`keepSessionId`: "sign out everywhere else").
   * Atomic in the store. Returns how many live sessions were revoked.
   */
  invalidateAllWalletSessions(
    account: string,
    options: { appId?: string; keepSessionId?: string } = {},
  ): Promise<{ revoked: number }> {
    return invalidateAllWalletSessions(this.#ctx, account, options);
  }

  /** The identity behind a valid token, or null (origin 003's `getUserFromToken`). */
  async getUserFromToken(token: string, options: { appId?: string } = {}): Promise<TokenUser | null> {
    const result = await this.validateSession(token, options);
    if (!result.valid) return null;
    const s = result.session;
    return {
      sessionId: s.id,
      account: s.account,
      address: s.address,
      chainType: s.chainType,
      userId: s.userId,
      roles: s.roles,
      permissions: s.permissions,
      scope: s.scope,
    };
  }

  /**
   * Whether a session (or the session behind a token) holds a permission. A read-only session never
   * holds a write permission, whatever its roles.
   */
  async hasPermission(sessionOrToken: Session | string, permission: string, options: { appId?: string } = {}): Promise<boolean> {
    if (typeof sessionOrToken !== 'string') return grants(sessionOrToken.permissions, permission);
    const result = await this.validateSession(sessionOrToken, options);
    return result.valid && grants(result.session.permissions, permission);
  }

  // ---- session data ---------------------------------------------------------------------------

  /** Decrypts the app data of the session behind a token (null when it has none). */
  getSessionData(token: string, options: { appId?: string } = {}): Promise<unknown> {
    return getSessionData(this.#ctx, token, options);
  }

  /** Replaces the app data of the session behind a token, sealed with the current key. */
  setSessionData(token: string, data: unknown, options: { appId?: string } = {}): Promise<void> {
    return setSessionData(this.#ctx, token, data, options);
  }

  // ---- operations -----------------------------------------------------------------------------

  /** Deletes expired sessions in every app and audits each one. Runs on a schedule too. */
  cleanupExpiredSessions(): Promise<{ removed: number }> {
    return cleanupExpiredSessions(this.#ctx);
  }

  /** Live sessions by chain and auth method, and lifecycle counters (origin 003's `getSessionStats`). */
  getSessionStats(options: { appId?: string } = {}): Promise<StoreStats & { appId: string }> {
    return getSessionStats(this.#ctx, options);
  }

  /** Audit entries in chain order, by wallet and time. */
  queryAudit(options: AuditQueryOptions = {}): Promise<AuditEntry[]> {
    return queryAudit(this.#ctx, options);
  }

  /** Walks the app's audit chain and reports the first edited, deleted or re-linked entry. */
  verifyAudit(options: { appId?: string } = {}): Promise<AuditVerifyResult> {
    return verifyAudit(this.#ctx, options);
  }

  // ---- the origin documents' names ------------------------------------------------------------

  /** Alias of `createSession` (origin 002). */
  createWalletSession(input: CreateSessionInput): Promise<IssuedSession> {
    return this.createSession(input);
  }

  /** Alias of `validateSession` (origin 002). */
  validateWalletSession(token: string, options?: ValidateOptions): Promise<ValidationResult> {
    return this.validateSession(token, options);
  }

  /** Alias of `refreshSession` (origin 002). */
  refreshWalletSession(refreshToken: string, options?: { appId?: string }): Promise<IssuedSession> {
    return this.refreshSession(refreshToken, options);
  }

  /** Alias of `refreshSession`. */
  refresh(refreshToken: string, options?: { appId?: string }): Promise<IssuedSession> {
    return this.refreshSession(refreshToken, options);
  }

  /** Alias of `revokeSession` (origin 003). */
  destroySession(token: string, options?: { appId?: string }): Promise<boolean> {
    return this.revokeSession(token, options);
  }

  /** Alias of `revokeSession` (origin 002). */
  invalidateWalletSession(token: string, options?: { appId?: string }): Promise<boolean> {
    return this.revokeSession(token, options);
  }

  /** Alias of `getWalletSessions` (origin 003). */
  getActiveSessions(account: string, options?: { appId?: string }): Promise<Session[]> {
    return this.getWalletSessions(account, options);
  }
}
