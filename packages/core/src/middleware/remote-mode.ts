import type { Logger } from '../logger.js';
import type { Clock } from '../runtime.js';
import type { Session } from '../session/view.js';
import { hashSecret, parseToken } from '../tokens/index.js';
import { AnswerCache } from './answer-cache.js';
import { AUTHORITY_UNAVAILABLE, invalidToken, type StampRefusalCode, stampRefused } from './answers.js';
import { type SessionTokenContext, type StampContext, walletOf } from './context.js';
import type { FetchFunction } from './options.js';
import type { StampCheck } from './stamps.js';
import { refuse, type TokenValidator, type Verdict } from './verdict.js';

export interface RemoteValidatorOptions {
  introspectUrl: string;
  apiKey: string;
  cacheMs: number;
  timeoutMs: number;
  maxCacheEntries: number;
  clock: Clock;
  logger: Logger;
  fetch: FetchFunction;
}

/** The server's verdict on a stamp sent along (`stamp` of the introspection answer). */
type StampVerdict =
  | { valid: true; keyId: string; scope: StampContext['scope']; expiresAt: number }
  | { valid: false; code: StampRefusalCode; expiresAt?: number };

type Introspection = { active: true; session: Session; stamp?: StampVerdict } | { active: false } | null;

const INACTIVE = invalidToken('TOKEN_INVALID');

const STAMP_REFUSALS: ReadonlySet<string> = new Set<StampRefusalCode>([
  'SIGNATURE_MALFORMED',
  'SESSION_KEY_NOT_FOUND',
  'SESSION_KEY_MISMATCH',
  'SESSION_KEY_REVOKED',
  'SESSION_KEY_EXPIRED',
  'SIGNATURE_STALE',
  'SCOPE_READ_ONLY',
  'SIGNATURE_REPLAYED',
  'SIGNATURE_INVALID',
]);

function isStampVerdict(value: unknown): value is StampVerdict {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.valid === true) {
    return (
      typeof v.keyId === 'string' && (v.scope === 'read-only' || v.scope === 'read-write') && typeof v.expiresAt === 'number'
    );
  }
  return (
    v.valid === false &&
    typeof v.code === 'string' &&
    STAMP_REFUSALS.has(v.code) &&
    (v.code !== 'SESSION_KEY_EXPIRED' || typeof v.expiresAt === 'number')
  );
}

function isSession(value: unknown): value is Session {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    typeof s.id === 'string' &&
    typeof s.account === 'string' &&
    typeof s.address === 'string' &&
    (s.chainType === 'eip155' || s.chainType === 'solana') &&
    (s.scope === 'read-only' || s.scope === 'read-write') &&
    Array.isArray(s.roles) &&
    Array.isArray(s.permissions) &&
    s.permissions.every((p) => typeof p === 'string') &&
    typeof s.expiresAt === 'number'
  );
}

/**
 * Asks a Latchkey server (`POST /v1/sessions/introspect` with an app API key) and reuses a positive
 * answer for at most `cacheMs` (and never past the session's expiry). Negative answers are never
 * cached. Concurrent requests with one token share one round trip. A stamped request always asks
 * (the stamp goes along, and the server verifies it after the session); its answer is neither taken
 * from nor put in the cache, and never shared, since each stamp's nonce is good for one request.
 */
export class RemoteValidator implements TokenValidator {
  readonly #options: RemoteValidatorOptions;
  readonly #cache: AnswerCache<SessionTokenContext>;
  readonly #inflight = new Map<string, Promise<Introspection>>();
  /** Bumped by every forget: an answer that was in flight across a forget is not cached. */
  #epoch = 0;

  constructor(options: RemoteValidatorOptions) {
    this.#options = options;
    this.#cache = new AnswerCache(options.maxCacheEntries);
  }

  /** SHA-256 of the token: the cache key, so the cache never holds a token. */
  static keyOf(token: string): string {
    return hashSecret(token);
  }

  get cachedAnswers(): number {
    return this.#cache.size;
  }

  async validate(token: string, key: string = RemoteValidator.keyOf(token), stamp?: StampCheck): Promise<Verdict> {
    // Not a session token at all: refused here, the server is not bothered.
    if (!parseToken('session', token)) return refuse(invalidToken('TOKEN_MALFORMED'));
    if (stamp) return this.#validateStamped(token, key, stamp);
    const { clock, cacheMs } = this.#options;
    if (cacheMs > 0) {
      const cached = this.#cache.get(key, clock.now());
      if (cached) return { ok: true, context: cached };
    }
    const epoch = this.#epoch;
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#introspect(token);
      this.#inflight.set(key, pending);
      const settled = pending;
      void settled.finally(() => {
        if (this.#inflight.get(key) === settled) this.#inflight.delete(key);
      });
    }
    const answer = await pending;
    if (answer === null) return refuse(AUTHORITY_UNAVAILABLE);
    if (!answer.active) {
      this.forget(key);
      return refuse(INACTIVE);
    }
    const context = remoteContext(answer.session, null);
    if (cacheMs > 0 && epoch === this.#epoch) {
      const now = clock.now();
      const expiresAt = Math.min(now + cacheMs, answer.session.expiresAt);
      if (expiresAt > now) this.#cache.set(key, context, expiresAt);
    }
    return { ok: true, context };
  }

  /** One round trip of its own, with the stamp; nothing cached, nothing shared. */
  async #validateStamped(token: string, key: string, stamp: StampCheck): Promise<Verdict> {
    const answer = await this.#introspect(token, stamp);
    if (answer === null) return refuse(AUTHORITY_UNAVAILABLE);
    if (!answer.active) {
      this.forget(key);
      return refuse(INACTIVE);
    }
    const verdict = answer.stamp;
    if (verdict === undefined) {
      // A server that ignored the stamp (one from before stamps) must not turn it into a pass.
      this.#options.logger.error('latchkey introspection answered without a stamp verdict', { url: this.#options.introspectUrl });
      return refuse(AUTHORITY_UNAVAILABLE);
    }
    if (!verdict.valid) return refuse(stampRefused(verdict.code, verdict.expiresAt));
    return {
      ok: true,
      context: remoteContext(answer.session, { keyId: verdict.keyId, scope: verdict.scope, expiresAt: verdict.expiresAt }),
    };
  }

  /** Drops the remembered answer for one token key (and any round trip in flight for it). */
  forget(key: string): void {
    this.#epoch++;
    this.#cache.delete(key);
    this.#inflight.delete(key);
  }

  /** Drops every remembered answer about a wallet's sessions. */
  forgetAccount(account: string): void {
    this.#epoch++;
    this.#cache.deleteAccount(account);
    this.#inflight.clear();
  }

  /** Null when the server could not give a usable answer: the caller answers 503, never a pass. */
  async #introspect(token: string, stamp?: StampCheck): Promise<Introspection> {
    const { introspectUrl, apiKey, timeoutMs, logger } = this.#options;
    let response: Response;
    try {
      response = await this.#options.fetch(introspectUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(stamp ? { token, stamp } : { token }),
        // The API key must not follow a redirect to wherever it points.
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      logger.error('latchkey introspection failed', { url: introspectUrl, error: String(error) });
      return null;
    }
    try {
      if (response.status !== 200) {
        await response.body?.cancel();
        logger.error('latchkey introspection refused', { url: introspectUrl, status: response.status });
        return null;
      }
      const body = (await response.json()) as { active?: unknown; session?: unknown; stamp?: unknown };
      if (body?.active === false) return { active: false };
      if (body?.active === true && isSession(body.session)) {
        if (body.stamp === undefined) return { active: true, session: body.session };
        if (stamp && isStampVerdict(body.stamp)) return { active: true, session: body.session, stamp: body.stamp };
      }
      logger.error('latchkey introspection answered an unexpected shape', { url: introspectUrl });
      return null;
    } catch (error) {
      logger.error('latchkey introspection answer unreadable', { url: introspectUrl, error: String(error) });
      return null;
    }
  }
}

function remoteContext(session: Session, stamp: StampContext | null): SessionTokenContext {
  return { via: 'remote', session, wallet: walletOf(session.account, session.address, session.chainType), claims: null, stamp };
}
