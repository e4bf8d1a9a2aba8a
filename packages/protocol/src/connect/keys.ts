import { x25519 } from '@noble/curves/ed25519';
import { hkdf } from '@noble/hashes/hkdf';
import { sha256 } from '@noble/hashes/sha2';
import { assertBytes, concatBytes, utf8 } from '../encoding.js';
import { ConnectError } from './errors.js';
import { isChannelId } from './uri.js';

/** An X25519 key pair: 32-byte private scalar (as RFC 7748 bytes), 32-byte public u-coordinate. */
export interface ConnectKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** HKDF salt for the channel key (docs/connect-protocol.md §3). */
export const CHANNEL_KEY_SALT = 'latchkey-connect-v1';

/** A fresh X25519 key pair for one channel. Never reuse one across channels. */
export function generateConnectKeyPair(): ConnectKeyPair {
  const privateKey = x25519.utils.randomPrivateKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

/** The X25519 public key of `privateKey`. */
export function connectPublicKey(privateKey: Uint8Array): Uint8Array {
  assertBytes('privateKey', privateKey, 32);
  return x25519.getPublicKey(privateKey);
}

/**
 * The channel's symmetric key, the same on both sides:
 * `HKDF-SHA256(ikm = X25519(own private, peer public), salt = "latchkey-connect-v1",
 *  info = UTF-8(uuid) || dApp public key || wallet public key, L = 32)`.
 * Binding both public keys and the channel id means a swapped key or another channel yields another key.
 *
 * @throws ConnectError `CONNECT_DECRYPT_FAILED` when the peer key is low-order (the shared secret would be zero).
 * @example
 * ```ts
 * const key = deriveChannelKey({ role: 'wallet', privateKey: wallet.privateKey, peerPublicKey: uri.dappPublicKey, uuid: uri.uuid });
 * ```
 */
export function deriveChannelKey(input: {
  role: 'dapp' | 'wallet';
  privateKey: Uint8Array;
  peerPublicKey: Uint8Array;
  uuid: string;
}): Uint8Array {
  assertBytes('privateKey', input.privateKey, 32);
  assertBytes('peerPublicKey', input.peerPublicKey, 32);
  if (!isChannelId(input.uuid)) throw new TypeError('uuid: expected an RFC 4122 v4 UUID in lowercase');
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(input.privateKey, input.peerPublicKey);
  } catch {
    throw new ConnectError('CONNECT_DECRYPT_FAILED');
  }
  const own = x25519.getPublicKey(input.privateKey);
  const [dappKey, walletKey] = input.role === 'dapp' ? [own, input.peerPublicKey] : [input.peerPublicKey, own];
  const key = hkdf(sha256, shared, utf8(CHANNEL_KEY_SALT), concatBytes(utf8(input.uuid), dappKey, walletKey), 32);
  shared.fill(0);
  return key;
}
