import type { AccessTokenResult } from '../access/jwt.js';
import { AccessTokens, type PublicJwk } from '../access/service.js';
import { type AuditVerifyResult, verifyAuditChain } from '../audit/chain.js';
import type { AuditDraft, AuditEntry, AuditEventType } from '../audit/entry.js';
import { aesGcmOpen, aesGcmSeal, deriveKey } from '../crypto/aead.js';
import { SessionDataCipher } from '../crypto/keyring.js';
import { LatchkeyError } from '../errors/index.js';
import { type Logger, silentLogger } from '../logger.js';
import { type Clock, cryptoRandom, type RandomSource, systemClock } from '../runtime.js';
import { SignInFlow, type SignInRequest } from '../signin/flow.js';
import type { StatsCounter, Store, StoreStats } from '../store/contract.js';
import { parseAccount } from '../subject/index.js';
import { newSessionId } from '../tokens/ids.js';
import { formatToken, hashesEqual, hashSecret, newSecret, parseToken } from '../tokens/secret.js';
import {
  APP_ID_PATTERN,
  type AppSettings,
  type AppSettingsInput,
  DEFAULT_APP_ID,
  type LatchkeyOptions,
  resolveApp,
  resolveAppSettings,
} from './config.js';
import { appOption, type CreateSessionInput, createSessionInput, parseInput, sessionDataJson } from './inputs.js';
import { grants } from './permissions.js';
import { isLive, type SessionRecord, type SessionSnapshot } from './record.js';
import { type Session, toSession } from './view.js';

/** What sign-in and refresh hand back. The two tokens are shown once and never stored. */
export interface IssuedSession {
  session: Session;
  /** `lks_…`: the bearer credential for requests. */
  token: string;
  /** `lkr_…`: exchanged for a new pair by `refreshSession`. */
  refreshToken: string;
  /** A short-lived JWT, when the app has `accessTokens` configured. */
  accessToken?: string;
}

/** Every way a token can fail validation. Not exceptions: validation answers with a value. */
export type InvalidSessionCode =
  | 'TOKEN_MALFORMED'
  | 'SESSION_NOT_FOUND'
  | 'TOKEN_INVALID'
  | 'SESSION_EXPIRED'
  | 'STORE_UNAVAILABLE';

export type ValidationResult =
  | { valid: true; session: Session; refreshRecommended: boolean; data?: unknown }
  | { valid: false; code: InvalidSessionCode };

export interface ValidateOptions {
  appId?: string;
  /** Decrypt and return the session data. Off by default: validation does no decryption unless asked. */
  withData?: boolean;
}

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

export interface AuditQueryOptions {
  appId?: string;
  account?: string;
  since?: number;
  until?: number;
  afterSeq?: number;
  /** Default 100, at most 1000. */
  limit?: number;
}

const SUCCESSOR_INFO = 'latchkey/refresh-successor/v1';
const AUDIT_THROTTLE_NAMESPACE = 'audit-throttle';
const CLEANUP_BATCH = 500;

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
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #apps: Map<string, AppSettings>;
  readonly #defaults: AppSettingsInput | undefined;
  readonly #cipher: SessionDataCipher | null;
  readonly #signIn: SignInFlow;
  readonly #access: AccessTokens;
  #logger: Logger;
  #cleanupTimer: ReturnType<typeof setInterval> | null = null;

  constructor(options: LatchkeyOptions) {
    if (!options || typeof options.store?.validateSession !== 'function') {
      throw new LatchkeyError('CONFIG_INVALID', { message: 'store: a Store is required', field: 'store' });
    }
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? cryptoRandom;
    this.#logger = options.logger ?? silentLogger;
    this.#defaults = options.defaults;
    this.#apps = resolveAppSettings(options.defaults, options.apps);
    this.#cipher = options.dataKeys ? new SessionDataCipher(options.dataKeys, this.#random) : null;
    for (const [appId, settings] of this.#apps) AccessTokens.check(appId, settings.accessTokens, this.#cipher);
    this.#access = new AccessTokens({
      store: this.#store,
      clock: this.#clock,
      random: this.#random,
      cipher: this.#cipher,
      logger: () => this.#logger,
      settings: (appId) => this.settings(appId),
      storeCall: (operation, call) => this.#storeCall(operation, call),
    });
    this.#signIn = new SignInFlow(
      {
        store: this.#store,
        clock: this.#clock,
        random: this.#random,
        settings: (appId) => this.settings(appId),
        createSession: (input) => this.createSession(input),
        ...(options.resolveSignIn ? { resolveSignIn: options.resolveSignIn } : {}),
        storeCall: (operation, call) => this.#storeCall(operation, call),
        record: (appId, drafts) => this.#record(appId, drafts, {}),
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
          this.#logger.error('scheduled cleanup failed', { error: String(error) }),
        );
      }, interval * 1000);
      this.#cleanupTimer.unref?.();
    }
  }

  /** Stops the cleanup schedule. The store belongs to the caller and stays open. */
  close(): void {
    if (this.#cleanupTimer) clearInterval(this.#cleanupTimer);
    this.#cleanupTimer = null;
    this.#access.close();
  }

  /** Replaces the logger (origin 003's `setLogger`). */
  setLogger(logger: Logger): void {
    this.#logger = logger;
  }

  /**
   * Adds (or replaces) an app at run time, e.g. one created with the CLI and kept in the store:
   * `defaults` overridden by `settings`, validated exactly as at construction.
   */
  addApp(appId: string, settings: AppSettingsInput = {}): AppSettings {
    const resolved = resolveApp(appId, this.#defaults, settings);
    AccessTokens.check(appId, resolved.accessTokens, this.#cipher);
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
  async createSession(input: CreateSessionInput): Promise<IssuedSession> {
    const parsed = parseInput(createSessionInput, input, 'input');
    const appId = parsed.appId ?? DEFAULT_APP_ID;
    const settings = this.settings(appId);
    const wallet = parseAccount(parsed.account);
    if (parsed.data !== undefined) sessionDataJson(parsed.data);
    const now = this.#clock.now();
    const absoluteExpiresAt = Math.min(now + settings.absoluteLifetimeMs, parsed.notAfter ?? Number.POSITIVE_INFINITY);
    if (absoluteExpiresAt <= now)
      throw new LatchkeyError('VALIDATION_FAILED', { message: 'notAfter: must lie in the future', field: 'notAfter' });

    const id = newSessionId(appId, wallet.account, this.#random);
    const sessionSecret = newSecret(this.#random);
    const refreshSecret = newSecret(this.#random);
    const record: SessionRecord = {
      id,
      appId,
      subject: wallet.account,
      chainType: wallet.chainType,
      userId: parsed.userId ?? null,
      authMethod: parsed.authMethod,
      scope: parsed.scope,
      roles: [...new Set(parsed.roles ?? settings.defaultRoles)],
      device: parsed.device,
      createdAt: now,
      lastActiveAt: now,
      idleExpiresAt: Math.min(now + settings.idleTimeoutMs, absoluteExpiresAt),
      absoluteExpiresAt,
      tokenHash: hashSecret(sessionSecret),
      refresh: {
        hash: hashSecret(refreshSecret),
        generation: 0,
        previousHash: null,
        rotatedAt: null,
        successor: null,
        retired: [],
      },
      data: parsed.data === undefined ? null : this.#requireCipher().seal(appId, id, parsed.data),
    };

    // Minted before the write: a failure here leaves nothing stored.
    const accessToken = settings.accessTokens ? await this.#access.issue(appId, record) : undefined;
    const result = await this.#storeCall('createSession', () =>
      this.#store.createSession({ record, limit: settings.maxSessionsPerWallet, policy: settings.limitPolicy, now }),
    );
    if (!result.created) {
      throw new LatchkeyError('SESSION_LIMIT_REACHED', {
        message: `This wallet already holds ${settings.maxSessionsPerWallet} live sessions.`,
      });
    }
    const drafts: AuditDraft[] = result.evicted.map((r) => draft(now, 'session_evicted', r, { reason: 'limit', by: id }));
    drafts.push(
      draft(now, 'session_created', record, { authMethod: record.authMethod, scope: record.scope, ...deviceDetails(record) }),
    );
    await this.#record(appId, drafts, { created: 1, evicted: result.evicted.length });
    await this.#noteRevoked(
      appId,
      result.evicted.map((r) => r.id),
    );
    this.#logger.info('session created', { appId, sessionId: id, account: record.subject, authMethod: record.authMethod });
    return this.#issued(record, settings, sessionSecret, refreshSecret, accessToken);
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
    return this.#access.verify(options.appId ?? DEFAULT_APP_ID, token);
  }

  /** The app's JWKS document (empty for HS256). */
  getJwks(options: { appId?: string } = {}): Promise<{ keys: PublicJwk[] }> {
    return this.#access.jwks(options.appId ?? DEFAULT_APP_ID);
  }

  /** Publishes a new signing key now; it signs after `keyPublishSeconds`. */
  rotateSigningKey(options: { appId?: string } = {}): Promise<{ kid: string; activatesAt: number }> {
    return this.#access.rotate(options.appId ?? DEFAULT_APP_ID);
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
   * Validates a session token: one store round trip, an activity write at most once per throttle
   * interval, no decryption unless `withData`. Never throws for a bad token; a store that cannot
   * answer yields `STORE_UNAVAILABLE`, never a valid session. Aliased as `validateWalletSession`.
   */
  async validateSession(token: string, options: ValidateOptions = {}): Promise<ValidationResult> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    const settings = this.settings(appId);
    const parsed = parseToken('session', token);
    if (!parsed) return this.#invalid(appId, 'TOKEN_MALFORMED', null);
    const tokenHash = hashSecret(parsed.secret);
    const now = this.#clock.now();
    let record: SessionSnapshot | null;
    try {
      record = await this.#store.validateSession({
        appId,
        id: parsed.id,
        tokenHash,
        now,
        activeBefore: now - settings.activityThrottleMs,
        idleExpiresAt: now + settings.idleTimeoutMs,
      });
    } catch (error) {
      this.#logger.error('store unavailable during validation', { appId, sessionId: parsed.id, error: String(error) });
      return { valid: false, code: 'STORE_UNAVAILABLE' };
    }
    if (!record) return this.#invalid(appId, 'SESSION_NOT_FOUND', null);
    if (!hashesEqual(record.tokenHash, tokenHash)) return this.#invalid(appId, 'TOKEN_INVALID', record);
    if (!isLive(record, now)) return this.#invalid(appId, 'SESSION_EXPIRED', record);
    const session = toSession(record, settings.roles);
    const refreshRecommended = now >= session.idleExpiresAt - settings.refreshWindowMs;
    if (!options.withData) return { valid: true, session, refreshRecommended };
    const data = record.data === null ? null : this.#requireCipher().open(appId, record.id, record.data);
    return { valid: true, session, refreshRecommended, data };
  }

  /**
   * Rotates both secrets of a session and extends its idle expiry (never past the absolute one).
   * A refresh token used again inside the grace window gets the same successor back; any other reuse
   * revokes the session and throws REFRESH_TOKEN_REUSED. Aliased as `refreshWalletSession` and `refresh`.
   */
  async refreshSession(refreshToken: string, options: { appId?: string } = {}): Promise<IssuedSession> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    const settings = this.settings(appId);
    const parsed = parseToken('refresh', refreshToken);
    if (!parsed) throw new LatchkeyError('REFRESH_TOKEN_INVALID');
    const now = this.#clock.now();
    const presentedHash = hashSecret(parsed.secret);
    const sessionSecret = newSecret(this.#random);
    const refreshSecret = newSecret(this.#random);
    const successorKey = deriveKey(parsed.secret, SUCCESSOR_INFO);
    const successor = Buffer.from(
      aesGcmSeal(successorKey, Buffer.from(`${sessionSecret}.${refreshSecret}`), `${appId}|${parsed.id}`, this.#random),
    ).toString('base64url');

    const result = await this.#storeCall('rotateRefresh', () =>
      this.#store.rotateRefresh({
        appId,
        id: parsed.id,
        presentedHash,
        now,
        graceMs: settings.refreshGraceMs,
        retiredLimit: settings.retiredRefreshTokens,
        next: {
          tokenHash: hashSecret(sessionSecret),
          refreshHash: hashSecret(refreshSecret),
          successor,
          idleExpiresAt: now + settings.idleTimeoutMs,
        },
      }),
    );

    switch (result.outcome) {
      case 'rotated': {
        await this.#record(
          appId,
          [draft(now, 'session_refreshed', result.record, { generation: result.record.refresh.generation })],
          { refreshed: 1 },
        );
        return await this.#issued(result.record, settings, sessionSecret, refreshSecret);
      }
      case 'grace': {
        const sealed = result.record.refresh.successor;
        const opened =
          sealed === null ? null : aesGcmOpen(successorKey, Buffer.from(sealed, 'base64url'), `${appId}|${parsed.id}`);
        const [s, r] = opened ? Buffer.from(opened).toString('utf8').split('.') : [];
        if (!s || !r) {
          this.#logger.error('grace successor could not be opened', { appId, sessionId: parsed.id });
          throw new LatchkeyError('REFRESH_TOKEN_INVALID');
        }
        return await this.#issued(result.record, settings, s, r);
      }
      case 'reused': {
        const record = result.record;
        await this.#record(
          appId,
          [draft(now, 'refresh_token_reused', record, { generation: record.refresh.generation, revoked: true })],
          {
            reuseDetected: 1,
            revoked: 1,
          },
        );
        await this.#noteRevoked(appId, [record.id]);
        this.#logger.warn('refresh token reuse detected; session revoked', {
          appId,
          sessionId: record.id,
          account: record.subject,
        });
        throw new LatchkeyError('REFRESH_TOKEN_REUSED');
      }
      case 'invalid': {
        const record = await this.#storeCall('getSession', () => this.#store.getSession(appId, parsed.id));
        if (record && hashesEqual(record.refresh.hash, presentedHash) && !isLive(record, now))
          throw new LatchkeyError('SESSION_EXPIRED');
        throw new LatchkeyError('REFRESH_TOKEN_INVALID');
      }
    }
  }

  /**
   * Signs out the session a token belongs to. True when a session was revoked. Aliased as
   * `destroySession` and `invalidateWalletSession`.
   */
  async revokeSession(token: string, options: { appId?: string } = {}): Promise<boolean> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    const result = await this.validateSession(token, { appId });
    if (!result.valid) {
      if (result.code === 'STORE_UNAVAILABLE') throw new LatchkeyError('STORE_UNAVAILABLE');
      return false;
    }
    return this.revokeSessionById(result.session.id, { appId, reason: 'logout' });
  }

  /** Revokes a session by its public id (an operator action, or "sign out that device"). */
  async revokeSessionById(sessionId: string, options: { appId?: string; reason?: string } = {}): Promise<boolean> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    this.settings(appId);
    const now = this.#clock.now();
    // Access-token verifiers learn of the revocation BEFORE the session goes: if that cannot be
    // recorded, nothing is deleted and the caller hears STORE_UNAVAILABLE (a marker for a session
    // that survives only fails closed).
    await this.#storeCall('noteRevoked', () => this.#access.noteRevoked(appId, [sessionId]));
    const record = await this.#storeCall('deleteSession', () => this.#store.deleteSession(appId, sessionId));
    if (!record) return false;
    await this.#record(appId, [draft(now, 'session_revoked', record, { reason: options.reason ?? 'revoked' })], { revoked: 1 });
    return true;
  }

  /** A wallet's live sessions, oldest first (origin 002's `getWalletSessions`, 003's `getActiveSessions`). */
  async getWalletSessions(account: string, options: { appId?: string } = {}): Promise<Session[]> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    const settings = this.settings(appId);
    const wallet = parseAccount(account);
    const records = await this.#storeCall('listWalletSessions', () =>
      this.#store.listWalletSessions(appId, wallet.account, this.#clock.now()),
    );
    return records.map((r) => toSession(r, settings.roles));
  }

  /**
   * Revokes every session of a wallet, or all but one (`keepSessionId`: "sign out everywhere else").
   * Atomic in the store. Returns how many live sessions were revoked.
   */
  async invalidateAllWalletSessions(
    account: string,
    options: { appId?: string; keepSessionId?: string } = {},
  ): Promise<{ revoked: number }> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    this.settings(appId);
    const wallet = parseAccount(account);
    const now = this.#clock.now();
    if (this.#access.isRevocationChecked(appId)) {
      // Mark first (see revokeSessionById); a session created in between is marked after the delete.
      const live = await this.#storeCall('listWalletSessions', () => this.#store.listWalletSessions(appId, wallet.account, now));
      const ids = live.map((r) => r.id).filter((id) => id !== options.keepSessionId);
      await this.#storeCall('noteRevoked', () => this.#access.noteRevoked(appId, ids));
    }
    const deleted = await this.#storeCall('deleteWalletSessions', () =>
      this.#store.deleteWalletSessions(
        appId,
        wallet.account,
        options.keepSessionId === undefined ? { now } : { now, exceptId: options.keepSessionId },
      ),
    );
    await this.#record(
      appId,
      [
        {
          at: now,
          type: 'wallet_sessions_revoked',
          sessionId: options.keepSessionId ?? null,
          subject: wallet.account,
          details: { revoked: deleted.length, keptCurrent: options.keepSessionId !== undefined },
        },
      ],
      { revoked: deleted.length },
    );
    await this.#noteRevoked(
      appId,
      deleted.map((r) => r.id),
    );
    return { revoked: deleted.length };
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
  async getSessionData(token: string, options: { appId?: string } = {}): Promise<unknown> {
    const result = await this.validateSession(token, { ...options, withData: true });
    if (!result.valid) throw new LatchkeyError(result.code);
    return result.data;
  }

  /** Replaces the app data of the session behind a token, sealed with the current key. */
  async setSessionData(token: string, data: unknown, options: { appId?: string } = {}): Promise<void> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    if (data !== null) sessionDataJson(data);
    const result = await this.validateSession(token, { appId });
    if (!result.valid) throw new LatchkeyError(result.code);
    const sealed = data === null ? null : this.#requireCipher().seal(appId, result.session.id, data);
    const ok = await this.#storeCall('setSessionData', () =>
      this.#store.setSessionData(appId, result.session.id, sealed, this.#clock.now()),
    );
    if (!ok) throw new LatchkeyError('SESSION_EXPIRED');
  }

  // ---- operations -----------------------------------------------------------------------------

  /** Deletes expired sessions in every app and audits each one. Runs on a schedule too. */
  async cleanupExpiredSessions(): Promise<{ removed: number }> {
    const now = this.#clock.now();
    let removed = 0;
    for (;;) {
      const batch = await this.#storeCall('cleanupExpired', () => this.#store.cleanupExpired(now, CLEANUP_BATCH));
      const byApp = new Map<string, SessionRecord[]>();
      for (const r of batch) byApp.set(r.appId, [...(byApp.get(r.appId) ?? []), r]);
      for (const [appId, records] of byApp) {
        await this.#record(
          appId,
          records.map((r) => draft(now, 'session_expired', r, { reason: now >= r.absoluteExpiresAt ? 'absolute' : 'idle' })),
          { expired: records.length },
        );
      }
      removed += batch.length;
      if (batch.length < CLEANUP_BATCH) break;
    }
    if (removed > 0) this.#logger.info('expired sessions cleaned up', { removed });
    return { removed };
  }

  /** Live sessions by chain and auth method, and lifecycle counters (origin 003's `getSessionStats`). */
  async getSessionStats(options: { appId?: string } = {}): Promise<StoreStats & { appId: string }> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    this.settings(appId);
    const stats = await this.#storeCall('readStats', () => this.#store.readStats(appId, this.#clock.now()));
    return { appId, ...stats };
  }

  /** Audit entries in chain order, by wallet and time. */
  async queryAudit(options: AuditQueryOptions = {}): Promise<AuditEntry[]> {
    const appId = parseInput(appOption, { appId: options.appId }, 'appId').appId ?? DEFAULT_APP_ID;
    this.settings(appId);
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? 100)), 1000);
    const subject = options.account === undefined ? undefined : parseAccount(options.account).account;
    return this.#storeCall('queryAudit', () =>
      this.#store.queryAudit(appId, {
        limit,
        ...(subject === undefined ? {} : { subject }),
        ...(options.since === undefined ? {} : { since: options.since }),
        ...(options.until === undefined ? {} : { until: options.until }),
        ...(options.afterSeq === undefined ? {} : { afterSeq: options.afterSeq }),
      }),
    );
  }

  /** Walks the app's audit chain and reports the first edited, deleted or re-linked entry. */
  async verifyAudit(options: { appId?: string } = {}): Promise<AuditVerifyResult> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    this.settings(appId);
    return verifyAuditChain((afterSeq) =>
      this.#storeCall('queryAudit', () => this.#store.queryAudit(appId, { afterSeq, limit: 1000 })),
    );
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

  // ---- internals ------------------------------------------------------------------------------

  #requireCipher(): SessionDataCipher {
    if (!this.#cipher) throw new LatchkeyError('ENCRYPTION_KEY_MISSING');
    return this.#cipher;
  }

  async #issued(
    record: SessionRecord,
    settings: AppSettings,
    sessionSecret: string,
    refreshSecret: string,
    accessToken?: string,
  ): Promise<IssuedSession> {
    const issued: IssuedSession = {
      session: toSession(record, settings.roles),
      token: formatToken('session', record.id, sessionSecret),
      refreshToken: formatToken('refresh', record.id, refreshSecret),
    };
    if (settings.accessTokens) issued.accessToken = accessToken ?? (await this.#access.issue(record.appId, record));
    return issued;
  }

  /** Tells access-token verifiers on every node; a failure is logged (the session is already gone). */
  async #noteRevoked(appId: string, sessionIds: string[]): Promise<void> {
    try {
      await this.#access.noteRevoked(appId, sessionIds);
    } catch (error) {
      this.#logger.error('revocation could not be recorded for access-token verifiers', {
        appId,
        sessionIds,
        error: String(error),
      });
    }
  }

  async #storeCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof LatchkeyError) throw error;
      this.#logger.error('store call failed', { operation, error: String(error) });
      throw new LatchkeyError('STORE_UNAVAILABLE', { cause: error });
    }
  }

  async #invalid(
    appId: string,
    code: Exclude<InvalidSessionCode, 'STORE_UNAVAILABLE'>,
    record: SessionSnapshot | null,
  ): Promise<ValidationResult> {
    // Session ids are public, so anyone can make a token that names one: such failures are audited
    // at most once a minute per session (counted always), or they could fill the audit log.
    const now = this.#clock.now();
    let drafts: AuditDraft[] = [];
    if (record) {
      const isFirstThisMinute = await this.#store
        .addEntry(
          appId,
          AUDIT_THROTTLE_NAMESPACE,
          { key: `validation_failed:${record.id}`, value: '1', expiresAt: now + 60_000 },
          now,
        )
        .catch(() => false);
      if (isFirstThisMinute) drafts = [draft(now, 'validation_failed', record, { code })];
    }
    await this.#record(appId, drafts, { validationFailed: 1 });
    return { valid: false, code };
  }

  /** Audit and counters after an operation. Their failure is logged, not thrown: the operation already happened. */
  async #record(appId: string, drafts: AuditDraft[], counters: Partial<Record<StatsCounter, number>>): Promise<void> {
    const nonZero = Object.fromEntries(Object.entries(counters).filter(([, v]) => v !== 0));
    const writes: Promise<unknown>[] = [];
    if (drafts.length > 0) writes.push(this.#store.appendAudit(appId, drafts));
    if (Object.keys(nonZero).length > 0) writes.push(this.#store.incrementCounters(appId, nonZero));
    const results = await Promise.allSettled(writes);
    for (const r of results) {
      if (r.status === 'rejected')
        this.#logger.error('audit or counter write failed', {
          appId,
          events: drafts.map((d) => d.type),
          error: String(r.reason),
        });
    }
  }
}

function draft(
  at: number,
  type: AuditEventType,
  record: Pick<SessionRecord, 'id' | 'subject'>,
  details: AuditDraft['details'],
): AuditDraft {
  return { at, type, sessionId: record.id, subject: record.subject, details };
}

function deviceDetails(record: SessionRecord): AuditDraft['details'] {
  const d: AuditDraft['details'] = {};
  if (record.device.deviceId !== undefined) d.deviceId = record.device.deviceId;
  if (record.device.ip !== undefined) d.ip = record.device.ip;
  return d;
}
