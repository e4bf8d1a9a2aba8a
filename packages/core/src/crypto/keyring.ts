import { LatchkeyError } from '../errors/index.js';
import type { RandomSource } from '../runtime.js';
import { aesGcmOpen, aesGcmSeal } from './aead.js';

/**
 * Keys for session data at rest. New writes use `current`; every listed key still decrypts, so a
 * rotation is: add the new key, make it current, drop the old one once no session uses it.
 */
export interface DataKeyRing {
  current: string;
  /** Key id → 32-byte key, base64url (or base64). */
  keys: Record<string, string>;
}

const FORMAT = 'v1';

/** AAD binds the ciphertext to its app and session: moved elsewhere, it does not decrypt. */
const aadFor = (appId: string, sessionId: string): string => `latchkey/session-data/v1|${appId}|${sessionId}`;

export class SessionDataCipher {
  readonly #keys: Map<string, Uint8Array>;
  readonly #current: string;
  readonly #random: RandomSource;

  constructor(ring: DataKeyRing, random: RandomSource) {
    this.#keys = new Map();
    for (const [id, encoded] of Object.entries(ring.keys)) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id))
        throw new LatchkeyError('CONFIG_INVALID', { message: `dataKeys: key id "${id}" must be 1-32 of [A-Za-z0-9_-]` });
      const key = Buffer.from(encoded, 'base64');
      if (key.length !== 32)
        throw new LatchkeyError('CONFIG_INVALID', {
          message: `dataKeys: key "${id}" must be 32 bytes (base64), got ${key.length}`,
        });
      this.#keys.set(id, new Uint8Array(key));
    }
    if (!this.#keys.has(ring.current))
      throw new LatchkeyError('CONFIG_INVALID', { message: `dataKeys: current key "${ring.current}" is not in keys` });
    this.#current = ring.current;
    this.#random = random;
  }

  seal(appId: string, sessionId: string, value: unknown): string {
    return this.sealWith(aadFor(appId, sessionId), value);
  }

  /** Throws SESSION_DATA_UNREADABLE with one fixed message for every failure (unknown key, bad tag, bad shape). */
  open(appId: string, sessionId: string, sealed: string): unknown {
    return this.openWith(aadFor(appId, sessionId), sealed);
  }

  /** Seals any JSON value under the current key, bound to `aad` (which says what the value is and whose). */
  sealWith(aad: string, value: unknown): string {
    const key = this.#keys.get(this.#current)!;
    const sealed = aesGcmSeal(key, Buffer.from(JSON.stringify(value)), aad, this.#random);
    return `${FORMAT}.${this.#current}.${Buffer.from(sealed).toString('base64url')}`;
  }

  /** Opens what `sealWith` sealed under the same `aad`; SESSION_DATA_UNREADABLE otherwise, one fixed message. */
  openWith(aad: string, sealed: string): unknown {
    const [format, kid, body, extra] = sealed.split('.');
    const key = kid === undefined ? undefined : this.#keys.get(kid);
    const plain =
      format === FORMAT && key && body && extra === undefined ? aesGcmOpen(key, Buffer.from(body, 'base64url'), aad) : null;
    if (!plain) throw new LatchkeyError('SESSION_DATA_UNREADABLE');
    return JSON.parse(Buffer.from(plain).toString('utf8'));
  }
}
