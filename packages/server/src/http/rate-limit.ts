import type { Clock, LatchkeyError, Store } from '@latchkey/core';
import type { RateLimitSettings } from './options.js';
import { HttpRejection } from './problems.js';

/** Where the counters live, per app. */
export const RATE_NAMESPACE = 'rate';

export type RateBucket = 'nonce' | 'signIn' | 'refresh';

/** Who a hit is counted against: always the client address, and the wallet when the request names one. */
export interface RateSubjects {
  ip: string;
  wallet?: string;
}

export interface RateLimiterHost {
  store: Store;
  clock: Clock;
  limits: RateLimitSettings;
  storeFailed(operation: string, error: unknown): LatchkeyError;
  limited(bucket: RateBucket, subject: 'ip' | 'wallet'): void;
}

/**
 * Fixed windows aligned to the epoch (`floor(now / window)`), one counter per bucket, subject and
 * window, incremented atomically in the store: every node that shares the store shares the count.
 * A counter lapses when its window ends. A store that cannot count refuses the request (503): the
 * limits guard sign-in, which fails closed anyway.
 */
export class RateLimiter {
  readonly #host: RateLimiterHost;

  constructor(host: RateLimiterHost) {
    this.#host = host;
  }

  /** Counts one hit; throws 429 RATE_LIMITED with `Retry-After` (whole seconds to the window's end) past the limit. */
  async hit(appId: string, bucket: RateBucket, subjects: RateSubjects): Promise<void> {
    const limit = this.#host.limits[bucket];
    if (limit === 0) return;
    const now = this.#host.clock.now();
    const windowMs = this.#host.limits.windowMs;
    const window = Math.floor(now / windowMs);
    const windowEnd = (window + 1) * windowMs;
    const keys: ['ip' | 'wallet', string][] = [['ip', `${bucket}:ip:${window}:${subjects.ip}`]];
    if (subjects.wallet !== undefined) keys.push(['wallet', `${bucket}:wallet:${window}:${subjects.wallet}`]);
    let counts: number[];
    try {
      counts = await Promise.all(
        keys.map(([, key]) => this.#host.store.incrementEntry(appId, RATE_NAMESPACE, key.slice(0, 256), windowEnd, now)),
      );
    } catch (error) {
      throw this.#host.storeFailed('incrementEntry', error);
    }
    const over = keys.findIndex((_, i) => counts[i]! > limit);
    if (over < 0) return;
    this.#host.limited(bucket, keys[over]![0]);
    throw new HttpRejection('RATE_LIMITED', {
      headers: { 'retry-after': String(Math.max(1, Math.ceil((windowEnd - now) / 1000))) },
    });
  }
}
