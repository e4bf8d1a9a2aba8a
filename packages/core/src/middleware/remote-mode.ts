import type { Logger } from '../logger.js';
import type { Clock } from '../runtime.js';
import type { Session } from '../session/view.js';
import { hashSecret, parseToken } from '../tokens/index.js';
import { AnswerCache } from './answer-cache.js';
import { AUTHORITY_UNAVAILABLE, invalidToken } from './answers.js';
import { type SessionTokenContext, walletOf } from './context.js';
import type { FetchFunction } from './options.js';
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

type Introspection = { active: true; session: Session } | { active: false } | null;

const INACTIVE = invalidToken('TOKEN_INVALID');

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
 * cached. Concurrent requests with one token share one round trip.
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

  async validate(token: string, key: string = RemoteValidator.keyOf(token)): Promise<Verdict> {
    // Not a session token at all: refused here, the server is not bothered.
    if (!parseToken('session', token)) return refuse(invalidToken('TOKEN_MALFORMED'));
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
    const { session } = answer;
    const context: SessionTokenContext = {
      via: 'remote',
      session,
      wallet: walletOf(session.account, session.address, session.chainType),
      claims: null,
    };
    if (cacheMs > 0 && epoch === this.#epoch) {
      const now = clock.now();
      const expiresAt = Math.min(now + cacheMs, session.expiresAt);
      if (expiresAt > now) this.#cache.set(key, context, expiresAt);
    }
    return { ok: true, context };
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
  async #introspect(token: string): Promise<Introspection> {
    const { introspectUrl, apiKey, timeoutMs, logger } = this.#options;
    let response: Response;
    try {
      response = await this.#options.fetch(introspectUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ token }),
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
      const body = (await response.json()) as { active?: unknown; session?: unknown };
      if (body?.active === false) return { active: false };
      if (body?.active === true && isSession(body.session)) return { active: true, session: body.session };
      logger.error('latchkey introspection answered an unexpected shape', { url: introspectUrl });
      return null;
    } catch (error) {
      logger.error('latchkey introspection answer unreadable', { url: introspectUrl, error: String(error) });
      return null;
    }
  }
}
