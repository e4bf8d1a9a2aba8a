import { type Client, untilSnapshotHolds } from './client.js';
import type { KeyLayout } from './keys.js';

/** Settles when `p` does or after `ms`, whichever comes first; never rejects. */
function waitAtMost(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The wallet snapshot scripts of one store instance (see scripts.ts), queued per wallet. */
export class WalletSnapshots {
  readonly #keys: KeyLayout;
  /** How long a call waits for the one ahead of it on the same wallet: the store's `commandTimeoutMs`. */
  readonly #queueWaitMs: number;
  readonly #queues = new Map<string, Promise<void>>();

  constructor(keys: KeyLayout, queueWaitMs: number) {
    this.#keys = keys;
    this.#queueWaitMs = queueWaitMs;
  }

  /**
   * Runs a wallet snapshot script: reads the wallet's ids, hands them to `attempt` (which runs the
   * script with those ids' keys), and repeats while the script answers 'retry' because the index
   * changed in between. Operations on one wallet from this instance run one at a time, so they do
   * not make each other retry; only other instances can.
   */
  async run(
    c: Client,
    appId: string,
    subject: string,
    attempt: (walletKey: string, ids: string[]) => Promise<unknown>,
  ): Promise<unknown[]> {
    const walletKey = this.#keys.wallet(appId, subject);
    return this.#serially(`${appId}\u0000${subject}`, () =>
      untilSnapshotHolds('wallet script', async () => attempt(walletKey, await c.zrange(walletKey, 0, -1))),
    );
  }

  /**
   * Runs `run` after the previous operation on `key` from this instance, but waits for it at most
   * `commandTimeoutMs`: the queue only spares snapshot retries (the snapshot check is what keeps
   * the operation correct), and a hanging Redis must not make the tenth queued call fail ten
   * timeouts late.
   */
  async #serially<T>(key: string, run: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(key);
    const result = (previous ? waitAtMost(previous, this.#queueWaitMs) : Promise.resolve()).then(run);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return result;
  }
}
