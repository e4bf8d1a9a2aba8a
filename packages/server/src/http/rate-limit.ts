import { isIP } from 'node:net';
import type { Clock, LatchkeyError, Store } from '@latchkey/core';
import type { RateLimitSettings } from './options.js';
import { HttpRejection } from './problems.js';

/** Where the counters live, per app. */
export const RATE_NAMESPACE = 'rate';

export type RateBucket = 'nonce' | 'signIn' | 'refresh';

export interface RateLimiterHost {
  store: Store;
  clock: Clock;
  limits: RateLimitSettings;
  storeFailed(operation: string, error: unknown): LatchkeyError;
  limited(bucket: RateBucket, subject: 'ip'): void;
}

/**
 * Fixed windows aligned to the epoch (`floor(now / window)`), one counter per bucket, client address
 * and window, incremented atomically in the store: every node that shares the store shares the count.
 * A counter lapses when its window ends. A store that cannot count refuses the request (503): the
 * limits guard sign-in, which fails closed anyway.
 *
 * Only the client address is counted. A per-wallet count before the engine has verified anything
 * would count what the request claims (the address in an unsigned sign-in message, the public wallet
 * tag at the start of a session id), and anyone could spend a wallet's budget and lock it out.
 */
export class RateLimiter {
  readonly #host: RateLimiterHost;

  constructor(host: RateLimiterHost) {
    this.#host = host;
  }

  /**
   * Counts one hit for the client (`rateKey` of its address: an IPv6 client by its /64); throws 429
   * RATE_LIMITED with `Retry-After` (whole seconds to the window's end) past the limit.
   */
  async hit(appId: string, bucket: RateBucket, client: string): Promise<void> {
    const limit = this.#host.limits[bucket];
    if (limit === 0) return;
    const now = this.#host.clock.now();
    const windowMs = this.#host.limits.windowMs;
    const window = Math.floor(now / windowMs);
    const windowEnd = (window + 1) * windowMs;
    const key = `${bucket}:ip:${window}:${client}`.slice(0, 256);
    let count: number;
    try {
      count = await this.#host.store.incrementEntry(appId, RATE_NAMESPACE, key, windowEnd, now);
    } catch (error) {
      throw this.#host.storeFailed('incrementEntry', error);
    }
    if (count <= limit) return;
    this.#host.limited(bucket, 'ip');
    throw new HttpRejection('RATE_LIMITED', {
      headers: { 'retry-after': String(Math.max(1, Math.ceil((windowEnd - now) / 1000))) },
    });
  }
}

/**
 * What a client address is counted as: an IPv4 address as itself; an IPv6 address by its /64 prefix
 * (`2001:db8:aa:bb::/64`), since one subscriber is usually given a whole /64 and could otherwise take
 * a fresh address, and a fresh budget, for every request. Anything else (no address) as given.
 */
export function rateKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = ipv6Groups(ip);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : ip;
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros; null if it is not one. */
function ipv6Groups(ip: string): string[] | null {
  let address = ip;
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  // A dotted IPv4 tail (`::ffff:192.0.2.1`) is two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    address = `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return groups.map((g) => Number.parseInt(g, 16).toString(16));
}
