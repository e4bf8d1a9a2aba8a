import { p256PublicKey, parseP256PublicKey, toBase64Url, toHex } from '@latchkey/protocol';
import { LatchkeyClientError } from '../errors/index.js';

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** A P-256 key pair held by WebCrypto, with the public half as the hex the server speaks. */
export interface SessionKeyPair {
  /** ECDSA P-256 private key; non-extractable unless asked otherwise. */
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Hex of the 65-byte uncompressed public key. */
  publicKeyHex: string;
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) {
    throw new LatchkeyClientError('CLIENT_OPTIONS_INVALID', {
      message: 'WebCrypto (crypto.subtle) is not available: a secure context (https or localhost) is needed',
    });
  }
  return s;
}

/**
 * Generates a P-256 key pair in WebCrypto (origin 000's "ECDH P-256 keypair for session signers":
 * the same curve, used here for ECDSA request stamps). The private key is non-extractable by default,
 * so its bytes never reach script; pass `extractable: true` only for a storage that must write it out.
 *
 * @example
 * const pair = await generateSessionKeyPair();
 * pair.privateKey.extractable; // false
 */
export async function generateSessionKeyPair(options: { extractable?: boolean } = {}): Promise<SessionKeyPair> {
  const pair = (await subtle().generateKey(ECDSA_P256, options.extractable === true, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicKeyHex: toHex(raw) };
}

/**
 * Imports a P-256 private scalar (a credential bundle's plaintext) as a WebCrypto ECDSA signing key,
 * checking it against the public key the server registered, then wipes the scalar. The JWK names
 * `d`, `x` and `y`; x and y come from `publicKeyHex`.
 * @throws CREDENTIAL_BUNDLE_INVALID when the scalar is not the private half of `publicKeyHex`.
 */
export async function importSessionPrivateKey(
  scalar: Uint8Array,
  publicKeyHex: string,
  options: { extractable: boolean },
): Promise<CryptoKey> {
  try {
    const publicKey = parseP256PublicKey(publicKeyHex);
    const derived = p256PublicKey(scalar);
    if (toHex(derived) !== toHex(publicKey)) {
      throw new LatchkeyClientError('CREDENTIAL_BUNDLE_INVALID', {
        message: 'The credential bundle does not hold the private key of the session key the server registered.',
      });
    }
    const jwk: JsonWebKey = {
      kty: 'EC',
      crv: 'P-256',
      d: toBase64Url(scalar),
      x: toBase64Url(publicKey.subarray(1, 33)),
      y: toBase64Url(publicKey.subarray(33, 65)),
      ext: options.extractable,
      key_ops: ['sign'],
    };
    return await subtle().importKey('jwk', jwk, ECDSA_P256, options.extractable, ['sign']);
  } catch (error) {
    if (error instanceof LatchkeyClientError) throw error;
    throw new LatchkeyClientError('CREDENTIAL_BUNDLE_INVALID', { cause: error });
  } finally {
    // The JWK's `d` string cannot be wiped (JS strings are immutable); the bytes can.
    scalar.fill(0);
  }
}

/** A private key as a JWK (custodial storage only: the key must be extractable). */
export async function exportPrivateKeyJwk(key: CryptoKey): Promise<JsonWebKey> {
  return subtle().exportKey('jwk', key);
}
