/** The current time in milliseconds since the epoch. Injected everywhere; tests freeze it. */
export interface Clock {
  now(): number;
}

/** Cryptographically secure random bytes. */
export interface RandomSource {
  bytes(length: number): Uint8Array;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

export const cryptoRandom: RandomSource = Object.freeze({
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    globalThis.crypto.getRandomValues(out);
    return out;
  },
});

/** A clock that stands still until told to move. For tests and benchmarks. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  set(ms: number): void {
    this.#now = ms;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s;
}
