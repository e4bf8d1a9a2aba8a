import { randomBytes } from 'node:crypto';
import {
  APP_ID_PATTERN,
  type Clock,
  cryptoRandom,
  hashesEqual,
  hashSecret,
  type Latchkey,
  LatchkeyError,
  newSecret,
  type Store,
  systemClock,
} from '@latchkey/core';
import { API_KEY_CACHE_MS, RELOAD_INTERVAL_MS } from './options.js';
import { HttpRejection } from './problems.js';

/** Where an app's API keys live: entry key = key id, value = JSON `{ hash, name, createdAt }`. */
export const API_KEY_NAMESPACE = 'api-keys';
/** Keys do not lapse by themselves; they are deleted to revoke them. */
const API_KEY_LIFETIME_MS = 100 * 365 * 24 * 60 * 60 * 1000;
/** `lka_<16 hex id>.<base58 secret of 32 bytes>`. */
const API_KEY_PATTERN = /^lka_([0-9a-f]{16})\.([1-9A-HJ-NP-Za-km-z]{40,46})$/;
const NAME_PATTERN = /^[\x20-\x7e]{1,64}$/;

interface StoredApiKey {
  hash: string;
  name: string;
  createdAt: number;
}

/**
 * Creates an API key for an app's introspection and admin routes. Only SHA-256 of its secret is stored;
 * the key itself is returned once and cannot be shown again.
 *
 * @example
 * const { id, key } = await createApiKey(store, 'default', 'billing service');
 * // send as `Authorization: Bearer ${key}`
 */
export async function createApiKey(store: Store, appId: string, name: string): Promise<{ id: string; key: string }> {
  if (typeof appId !== 'string' || !APP_ID_PATTERN.test(appId)) {
    throw new LatchkeyError('VALIDATION_FAILED', { message: 'appId: not an app id', field: 'appId' });
  }
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new LatchkeyError('VALIDATION_FAILED', { message: 'name: 1-64 printable ASCII characters', field: 'name' });
  }
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const id = randomBytes(8).toString('hex');
    const secret = newSecret(cryptoRandom);
    const createdAt = systemClock.now();
    const value: StoredApiKey = { hash: hashSecret(secret), name, createdAt };
    let added: boolean;
    try {
      added = await store.addEntry(
        appId,
        API_KEY_NAMESPACE,
        { key: id, value: JSON.stringify(value), expiresAt: createdAt + API_KEY_LIFETIME_MS },
        createdAt,
      );
    } catch (error) {
      if (error instanceof LatchkeyError) throw error;
      throw new LatchkeyError('STORE_UNAVAILABLE', { cause: error });
    }
    if (added) return { id, key: `lka_${id}.${secret}` };
  }
  throw new LatchkeyError('INTERNAL_ERROR', { message: 'Could not find a free API key id.' });
}

/** Whose key it is, once verified. */
export interface ApiKeyCaller {
  appId: string;
  keyId: string;
}

interface AppKeys {
  loadedAt: number;
  keys: Map<string, StoredApiKey>;
}

export interface ApiKeyHost {
  latchkey: Latchkey;
  store: Store;
  clock: Clock;
  storeFailed(operation: string, error: unknown): LatchkeyError;
  challenge(error?: 'invalid_token' | 'invalid_request'): Record<string, string>;
  /** Re-reads the apps kept in the store, at most once a second (the AppDirectory's reload). */
  reloadApps(): Promise<void>;
}

/**
 * Verifies `lka_` keys against the stored hashes in constant time. An app's key list is read at most
 * every 5 seconds (so a deleted key stops working within 5 seconds), and a key id it does not hold
 * re-reads it at most once a second (so a new key works at once without junk ids driving store reads).
 * A key found in no app the engine knows re-reads the stored apps (at most once a second) and looks
 * once more in the apps that appeared, so the key of an app created after start works at once.
 */
export class ApiKeyVerifier {
  readonly #host: ApiKeyHost;
  readonly #cache = new Map<string, AppKeys>();
  readonly #loading = new Map<string, Promise<AppKeys>>();

  constructor(host: ApiKeyHost) {
    this.#host = host;
  }

  /**
   * The key's app. `requestedApp` (a `Latchkey-App` header, already resolved to a known app) must be that
   * app: 403 API_KEY_APP_MISMATCH for a valid key of another app. 401 API_KEY_INVALID for anything else
   * that is not a live key.
   */
  async verify(credential: string, requestedApp: string | undefined): Promise<ApiKeyCaller> {
    const match = API_KEY_PATTERN.exec(credential);
    if (!match) throw this.#invalid();
    const [, keyId, secret] = match as unknown as [string, string, string];
    const hash = hashSecret(secret);
    const searched = new Set<string>();
    let found = await this.#search(keyId, requestedApp, searched);
    if (!found) {
      await this.#host.reloadApps();
      found = await this.#search(keyId, requestedApp, searched);
    }
    if (!found) throw this.#invalid();
    if (!hashesEqual(found.stored.hash, hash)) throw this.#invalid();
    if (requestedApp !== undefined && requestedApp !== found.appId) {
      throw new HttpRejection('API_KEY_APP_MISMATCH', { field: 'Latchkey-App' });
    }
    return { appId: found.appId, keyId };
  }

  /** Looks for the key id in each app not searched yet, the requested app first. */
  async #search(
    keyId: string,
    requestedApp: string | undefined,
    searched: Set<string>,
  ): Promise<{ appId: string; stored: StoredApiKey } | undefined> {
    const apps = this.#host.latchkey.appIds();
    const order = requestedApp && apps.includes(requestedApp) ? [requestedApp, ...apps.filter((a) => a !== requestedApp)] : apps;
    for (const appId of order) {
      if (searched.has(appId)) continue;
      searched.add(appId);
      const stored = await this.#find(appId, keyId);
      if (stored) return { appId, stored };
    }
    return undefined;
  }

  #invalid(): HttpRejection {
    return new HttpRejection('API_KEY_INVALID', { headers: this.#host.challenge('invalid_token') });
  }

  async #find(appId: string, keyId: string): Promise<StoredApiKey | undefined> {
    const now = this.#host.clock.now();
    let entry = this.#cache.get(appId);
    if (!entry || now - entry.loadedAt >= API_KEY_CACHE_MS) entry = await this.#load(appId);
    const found = entry.keys.get(keyId);
    if (found || now - entry.loadedAt < RELOAD_INTERVAL_MS) return found;
    return (await this.#load(appId)).keys.get(keyId);
  }

  #load(appId: string): Promise<AppKeys> {
    let loading = this.#loading.get(appId);
    if (!loading) {
      loading = this.#read(appId).finally(() => this.#loading.delete(appId));
      this.#loading.set(appId, loading);
    }
    return loading;
  }

  async #read(appId: string): Promise<AppKeys> {
    const now = this.#host.clock.now();
    let entries: Awaited<ReturnType<Store['listEntries']>>;
    try {
      entries = await this.#host.store.listEntries(appId, API_KEY_NAMESPACE, now);
    } catch (error) {
      throw this.#host.storeFailed('listEntries', error);
    }
    const keys = new Map<string, StoredApiKey>();
    for (const e of entries) {
      const parsed = parseStoredKey(e.value);
      if (parsed) keys.set(e.key, parsed);
    }
    const loaded = { loadedAt: now, keys };
    this.#cache.set(appId, loaded);
    return loaded;
  }
}

function parseStoredKey(value: string): StoredApiKey | null {
  try {
    const v = JSON.parse(value) as Partial<StoredApiKey>;
    if (typeof v.hash !== 'string' || typeof v.name !== 'string' || typeof v.createdAt !== 'number') return null;
    return { hash: v.hash, name: v.name, createdAt: v.createdAt };
  } catch {
    return null;
  }
}
