/**
 * A token bucket: holds up to `burst` tokens, refills `perSecond` of them each second, and every event
 * takes one. Time comes in as an argument, so the bucket needs no clock of its own.
 */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(options: { perSecond: number; burst: number; now: number }) {
    this.#perMs = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#tokens = options.burst;
    this.#at = options.now;
  }

  /** Takes one token if there is one; answers whether it did. */
  take(now: number): boolean {
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
