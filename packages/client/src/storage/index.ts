import { IndexedDbStorage } from './indexeddb.js';
import { MemoryStorage } from './memory.js';
import type { LatchkeyStorage } from './types.js';

export { IndexedDbStorage } from './indexeddb.js';
export { MemoryStorage } from './memory.js';
export { copyStored, isCryptoKey, type LatchkeyStorage, type StoredValue } from './types.js';

/** IndexedDB where the platform has it (browsers), else memory (Node: pass `FileStorage` from `@latchkey/client/node` to persist). */
export function defaultStorage(): LatchkeyStorage {
  return IndexedDbStorage.isAvailable() ? new IndexedDbStorage() : new MemoryStorage();
}
