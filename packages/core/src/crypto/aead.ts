import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import type { RandomSource } from '../runtime.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM seal: returns iv || ciphertext || tag. */
export function aesGcmSeal(key: Uint8Array, plaintext: Uint8Array, aad: string, random: RandomSource): Uint8Array {
  const iv = random.bytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** AES-256-GCM open of `aesGcmSeal` output; null when the tag does not verify (any cause). */
export function aesGcmOpen(key: Uint8Array, sealed: Uint8Array, aad: string): Uint8Array | null {
  if (sealed.length < IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

/** HKDF-SHA256 to a 32-byte key. */
export function deriveKey(ikm: string | Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, new Uint8Array(0), info, 32));
}
