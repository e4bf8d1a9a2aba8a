import { ConnectError } from '@latchkey/protocol/connect';

/**
 * The wallet's replay defence: a request's timestamp must be within `windowMs` of the wallet clock
 * (either way), and its id must not have been seen. An id is remembered only while its timestamp can
 * still pass the window, so the set is bounded by what arrives in one window.
 */
export class ReplayWindow {
  readonly #windowMs: number;
  /** id → the request's timestamp. */
  readonly #seen = new Map<string, number>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /**
   * Admits a request id once, atomically (check and record in one synchronous step).
   * @throws ConnectError `CONNECT_REQUEST_STALE` or `CONNECT_REQUEST_REPLAYED`, carrying `requestId`.
   */
  admit(id: string, timestamp: number, now: number): void {
    this.#prune(now);
    this.checkFresh(id, timestamp, now);
    if (this.#seen.has(id)) throw new ConnectError('CONNECT_REQUEST_REPLAYED', { requestId: id, field: 'id' });
    this.#seen.set(id, timestamp);
  }

  /**
   * The time check alone, with the same edges, for a request admitted earlier that waited (for its turn
   * with the user). Its id stays remembered for as long as this check can pass, so a copy still cannot pass.
   * @throws ConnectError `CONNECT_REQUEST_STALE`, carrying `requestId`.
   */
  checkFresh(id: string, timestamp: number, now: number): void {
    if (Math.abs(now - timestamp) > this.#windowMs)
      throw new ConnectError('CONNECT_REQUEST_STALE', { requestId: id, field: 'timestamp' });
  }

  /** How many ids are remembered now. */
  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    for (const [id, timestamp] of this.#seen) if (now - timestamp > this.#windowMs) this.#seen.delete(id);
  }
}
