import { copyStored, type LatchkeyStorage, type StoredValue } from './types.js';

/**
 * Keeps everything in this JavaScript realm: gone on reload or exit. Keys stay non-extractable and
 * never leave the process. The default where there is no IndexedDB (Node, workers without it).
 */
export class MemoryStorage implements LatchkeyStorage {
  readonly requiresExtractableKeys = false;
  readonly #values = new Map<string, StoredValue>();

  async get(key: string): Promise<StoredValue | undefined> {
    const value = this.#values.get(key);
    return value === undefined ? undefined : copyStored(value);
  }

  async set(key: string, value: StoredValue): Promise<void> {
    this.#values.set(key, copyStored(value));
  }

  async delete(key: string): Promise<void> {
    this.#values.delete(key);
  }
}
