/**
 * Positive answers from a remote authority, keyed by SHA-256 of the token (never the token), each
 * with its own expiry. Bounded: when full, the oldest entry goes first. Forgetting is cheap and
 * always safe (it only costs one more round trip), so every doubt forgets.
 */
export class AnswerCache<V extends { readonly session: { readonly account: string } }> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (now >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, expiresAt: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops every answer about this wallet's sessions (after a revocation that may have named several). */
  deleteAccount(account: string): void {
    for (const [key, entry] of this.#entries) if (entry.value.session.account === account) this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
