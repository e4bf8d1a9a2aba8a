// §4 keys and channel key, §5 AEAD.
import { xchacha20poly1305 } from '@noble/ciphers/chacha';
import { x25519 } from '@noble/curves/ed25519';
import { hkdf } from '@noble/hashes/hkdf';
import { sha256 } from '@noble/hashes/sha2';
import { b64uDecode, b64uEncode, utf8 } from './encoding.js';
import { fail } from './errors.js';

export type ConnectEvent = 'connected_uuid' | 'request' | 'response';

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  const privateKey = crypto.getRandomValues(new Uint8Array(32));
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

/** X25519; null when the result is all zero (low-order peer key). */
export function sharedSecret(ownPrivate: Uint8Array, peerPublic: Uint8Array): Uint8Array | null {
  let z: Uint8Array;
  try {
    z = x25519.getSharedSecret(ownPrivate, peerPublic);
  } catch {
    return null; // noble throws on an all-zero result
  }
  return z.every((b) => b === 0) ? null : z;
}

/** Any clamped scalar is a multiple of 8, so a low-order point always maps to zero. */
export function isLowOrderPublicKey(pub: Uint8Array): boolean {
  const probe = new Uint8Array(32).fill(0x42);
  return sharedSecret(probe, pub) === null;
}

export const HKDF_SALT = utf8('latchkey-connect-v1');

export function hkdfInfo(uuid: string, dappPublicKey: Uint8Array, walletPublicKey: Uint8Array): Uint8Array {
  const u = utf8(uuid);
  const info = new Uint8Array(u.length + 64);
  info.set(u, 0);
  info.set(dappPublicKey, u.length);
  info.set(walletPublicKey, u.length + 32);
  return info;
}

export function deriveChannelKey(
  z: Uint8Array,
  uuid: string,
  dappPublicKey: Uint8Array,
  walletPublicKey: Uint8Array,
): Uint8Array {
  return hkdf(sha256, z, HKDF_SALT, hkdfInfo(uuid, dappPublicKey, walletPublicKey), 32);
}

export const aad = (event: ConnectEvent, uuid: string): Uint8Array => utf8(`latchkey-connect-v1:${event}:${uuid}`);

export function seal(
  key: Uint8Array,
  event: ConnectEvent,
  uuid: string,
  plaintext: string,
  nonce: Uint8Array = crypto.getRandomValues(new Uint8Array(24)),
): { nonce: string; data: string } {
  const ct = xchacha20poly1305(key, nonce, aad(event, uuid)).encrypt(utf8(plaintext));
  return { nonce: b64uEncode(nonce), data: b64uEncode(ct) };
}

/** Returns the authenticated plaintext bytes or throws CONNECT_DECRYPT_FAILED (one fixed message). */
export function open(key: Uint8Array, event: ConnectEvent, uuid: string, nonce: unknown, data: unknown): Uint8Array {
  const n = typeof nonce === 'string' ? b64uDecode(nonce) : null;
  const d = typeof data === 'string' ? b64uDecode(data) : null;
  if (n === null || d === null || n.length !== 24 || d.length < 16) return fail('CONNECT_DECRYPT_FAILED');
  try {
    return xchacha20poly1305(key, n, aad(event, uuid)).decrypt(d);
  } catch {
    return fail('CONNECT_DECRYPT_FAILED');
  }
}
