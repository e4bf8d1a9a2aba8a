/** Time as an input: ms since the epoch. Tests pass a manual clock; the default reads `Date.now()`. */
export interface ConnectClock {
  now(): number;
}

export const systemClock: ConnectClock = Object.freeze({ now: () => Date.now() });
