/**
 * What a storage holds: JSON values, and CryptoKey objects anywhere inside them. A private key is
 * stored as the CryptoKey itself, so a storage that keeps objects by structured clone (IndexedDB)
 * keeps a non-extractable key usable across reloads without its bytes ever leaving WebCrypto.
 */
export type StoredValue =
  | null
  | boolean
  | number
  | string
  | CryptoKey
  | readonly StoredValue[]
  | { readonly [key: string]: StoredValue };

/**
 * Where the client keeps its session and its session key. Every method may be called concurrently;
 * `set` replaces the whole value under its key.
 */
export interface LatchkeyStorage {
  /**
   * False when CryptoKey objects are kept as objects (IndexedDB, memory): keys are created
   * non-extractable. True when the storage must write a key out (a file): keys are created extractable
   * and the private key sits in the storage, so whoever reads it holds the key (custodial).
   */
  readonly requiresExtractableKeys: boolean;
  get(key: string): Promise<StoredValue | undefined>;
  set(key: string, value: StoredValue): Promise<void>;
  delete(key: string): Promise<void>;
}

export function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof CryptoKey !== 'undefined' && value instanceof CryptoKey;
}

/** A copy of the JSON parts; CryptoKey objects are shared (they are immutable). */
export function copyStored(value: StoredValue): StoredValue {
  if (value === null || typeof value !== 'object' || isCryptoKey(value)) return value;
  if (Array.isArray(value)) return value.map(copyStored);
  const out: Record<string, StoredValue> = {};
  for (const [k, v] of Object.entries(value as Record<string, StoredValue>)) out[k] = copyStored(v);
  return out;
}
