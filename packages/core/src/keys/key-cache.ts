import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { sessionIdOfKey } from './record.js';

/** DER prefix of a SubjectPublicKeyInfo for an uncompressed P-256 point (id-ecPublicKey, prime256v1). */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/** More than any node verifies at once in practice; past it the oldest entries go first. */
const MAX_CACHED_KEYS = 10_000;

/**
 * What stamp verification (the hot path) would otherwise redo per request, by key id: the session a
 * key id names, and the public key imported as a node:crypto `KeyObject`. Bounded: the oldest entry
 * is dropped first. The record's public key is compared on every hit, so a cached key never outlives
 * the record it came from; the record itself (revocation, expiry) is read on every request.
 */
export class SessionKeyCache {
  readonly #keys = new Map<string, { publicKey: string; key: KeyObject }>();
  readonly #sessions = new Map<string, string | null>();

  /** `sessionIdOfKey`, remembered (base58 decoding costs more than the rest of a key lookup). */
  sessionOf(keyId: string): string | null {
    let sessionId = this.#sessions.get(keyId);
    if (sessionId === undefined) {
      sessionId = sessionIdOfKey(keyId);
      if (this.#sessions.size >= MAX_CACHED_KEYS) this.#sessions.delete(this.#sessions.keys().next().value as string);
      this.#sessions.set(keyId, sessionId);
    }
    return sessionId;
  }

  /** The KeyObject for a stored public key (hex of the 65-byte point), imported on first use. */
  get(keyId: string, publicKeyHex: string): KeyObject {
    const hit = this.#keys.get(keyId);
    if (hit && hit.publicKey === publicKeyHex) return hit.key;
    const key = createPublicKey({
      key: Buffer.concat([P256_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]),
      format: 'der',
      type: 'spki',
    });
    if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.delete(this.#keys.keys().next().value as string);
    this.#keys.set(keyId, { publicKey: publicKeyHex, key });
    return key;
  }

  forget(keyId: string): void {
    this.#keys.delete(keyId);
    this.#sessions.delete(keyId);
  }

  get size(): number {
    return this.#keys.size;
  }
}

/**
 * ECDSA P-256 with SHA-256 over `payload`, signature as 64 bytes r||s. OpenSSL on libuv's thread pool
 * (as WebCrypto's checks run), so the event loop does not wait for the curve arithmetic. A key or
 * signature OpenSSL refuses is `false`, never an exception.
 */
export function verifyP256Signature(key: KeyObject, payload: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      verify('sha256', payload, { key, dsaEncoding: 'ieee-p1363' }, signature, (error, ok) => resolve(!error && ok));
    } catch {
      resolve(false);
    }
  });
}
