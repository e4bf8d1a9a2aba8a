import { LatchkeyClientError } from '../errors/index.js';
import type { LatchkeyStorage, StoredValue } from './types.js';

const OBJECT_STORE = 'values';

function failed(operation: string, cause: unknown): LatchkeyClientError {
  return new LatchkeyClientError('STORAGE_FAILED', { message: `IndexedDB ${operation} failed`, cause });
}

/**
 * The browser default: one IndexedDB database (`latchkey` unless named), values kept by structured
 * clone. A non-extractable CryptoKey is stored as the key object itself, so it survives reloads and its
 * private bytes never reach script: what an XSS can do is use the key while it runs, not carry it away.
 */
export class IndexedDbStorage implements LatchkeyStorage {
  readonly requiresExtractableKeys = false;
  readonly #name: string;
  #db: Promise<IDBDatabase> | undefined;

  constructor(options: { databaseName?: string } = {}) {
    this.#name = options.databaseName ?? 'latchkey';
  }

  /** True where IndexedDB exists (browsers, some workers). */
  static isAvailable(): boolean {
    return typeof indexedDB !== 'undefined';
  }

  #open(): Promise<IDBDatabase> {
    this.#db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(this.#name, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(OBJECT_STORE)) request.result.createObjectStore(OBJECT_STORE);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(failed('open', request.error));
      request.onblocked = () => reject(failed('open (blocked by another tab)', null));
    }).catch((error: unknown) => {
      this.#db = undefined;
      throw error;
    });
    return this.#db;
  }

  /** Resolves when the transaction has committed, so a write is durable once this settles. */
  async #run<T>(mode: IDBTransactionMode, operation: string, call: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.#open();
    return new Promise<T>((resolve, reject) => {
      try {
        const transaction = db.transaction(OBJECT_STORE, mode);
        const request = call(transaction.objectStore(OBJECT_STORE));
        transaction.oncomplete = () => resolve(request.result);
        transaction.onerror = () => reject(failed(operation, transaction.error ?? request.error));
        transaction.onabort = () => reject(failed(operation, transaction.error));
      } catch (error) {
        reject(failed(operation, error));
      }
    });
  }

  async get(key: string): Promise<StoredValue | undefined> {
    return (await this.#run('readonly', 'get', (store) => store.get(key))) as StoredValue | undefined;
  }

  async set(key: string, value: StoredValue): Promise<void> {
    await this.#run('readwrite', 'put', (store) => store.put(value, key));
  }

  async delete(key: string): Promise<void> {
    await this.#run('readwrite', 'delete', (store) => store.delete(key));
  }
}
