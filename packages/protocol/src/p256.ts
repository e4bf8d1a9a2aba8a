import type { ProjPointType } from '@noble/curves/abstract/weierstrass';
import { p256 } from '@noble/curves/nist';
import { assertBytes, fromHex } from './encoding.js';
import { ProtocolError } from './errors.js';

/** A P-256 key pair as bytes: the 32-byte scalar and the 65-byte uncompressed SEC1 point. */
export interface P256KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * A fresh P-256 key pair from the platform's CSPRNG.
 *
 * @example
 * ```ts
 * const { privateKey, publicKey } = generateP256KeyPair(); // 32 and 65 bytes
 * ```
 */
export function generateP256KeyPair(): P256KeyPair {
  const privateKey = p256.utils.randomPrivateKey();
  return { privateKey, publicKey: p256.getPublicKey(privateKey, false) };
}

/** The 65-byte uncompressed public key of a 32-byte P-256 private scalar. */
export function p256PublicKey(privateKey: Uint8Array): Uint8Array {
  assertBytes('privateKey', privateKey, 32);
  return p256.getPublicKey(privateKey, false);
}

/**
 * A P-256 public key from the wire (hex or bytes; SEC1 compressed 33 or uncompressed 65 bytes),
 * checked to be a point on the curve, as 65 uncompressed bytes.
 * @throws ProtocolError `SESSION_KEY_TARGET_INVALID` for anything else.
 */
export function parseP256PublicKey(input: string | Uint8Array): Uint8Array {
  return curvePoint(input).toRawBytes(false);
}

/**
 * The 33-byte compressed form of a P-256 public key (33 or 65 bytes).
 * @throws ProtocolError `SESSION_KEY_TARGET_INVALID` when it is not a point on the curve.
 */
export function compressP256PublicKey(publicKey: Uint8Array): Uint8Array {
  return curvePoint(publicKey).toRawBytes(true);
}

function curvePoint(input: string | Uint8Array): ProjPointType<bigint> {
  try {
    const bytes = typeof input === 'string' ? fromHex(input) : input;
    assertBytes('publicKey', bytes, 33, 65);
    return p256.ProjectivePoint.fromHex(bytes);
  } catch {
    throw new ProtocolError('SESSION_KEY_TARGET_INVALID');
  }
}
