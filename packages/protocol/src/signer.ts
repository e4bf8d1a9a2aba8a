import { p256 } from '@noble/curves/nist';
import { assertBytes } from './encoding.js';

/**
 * What signs stamps and registration proofs: a WebCrypto ECDSA P-256 private key (it may be
 * non-extractable, e.g. kept in IndexedDB) or a raw 32-byte P-256 scalar.
 */
export type StampSigner = CryptoKey | Uint8Array;

/** ECDSA P-256 with SHA-256 over `message`; the signature is 64 bytes r||s (IEEE P1363, WebCrypto's form). */
export async function signP256(signer: StampSigner, message: Uint8Array): Promise<Uint8Array> {
  if (signer instanceof Uint8Array) {
    assertBytes('signer', signer, 32);
    // RFC 6979 deterministic nonce; low-S is not required by verifiers but costs nothing.
    return p256.sign(message, signer, { prehash: true, lowS: true }).toCompactRawBytes();
  }
  const signature = await globalThis.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signer, new Uint8Array(message));
  return new Uint8Array(signature);
}

/**
 * Whether `signature` (64 bytes r||s) is a valid ECDSA P-256/SHA-256 signature of `message` by
 * `publicKey` (33 or 65 bytes). High-S signatures are accepted: WebCrypto does not normalise S.
 * Never throws; anything malformed is `false`.
 */
export function verifyP256(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
    const parsed = p256.Signature.fromCompact(signature);
    return p256.verify(parsed, message, publicKey, { prehash: true, lowS: false });
  } catch {
    return false;
  }
}
