import { p256 } from '@noble/curves/nist';
import { sha256 } from '@noble/hashes/sha2';
import { createBase58check } from '@scure/base';
import { assertBytes, concatBytes, utf8 } from './encoding.js';
import { ProtocolError } from './errors.js';
import { P256_SHA256_AES256GCM, setupBaseRecipient, setupBaseSender } from './hpke.js';
import { parseP256PublicKey } from './p256.js';

/** HPKE `info` of Turnkey's credential bundles (docs/credential-bundles.md). */
const BUNDLE_INFO = utf8('turnkey_hpke');
/** Largest plaintext a bundle carries; bounds the quadratic base58 decoding of untrusted input. */
export const MAX_BUNDLE_PLAINTEXT_BYTES = 1024;
/** Longest bundle string accepted: 33 + 1024 + 16 + 4 bytes need at most 1471 base58 characters. */
const MAX_BUNDLE_CHARS = 2048;

const base58check = createBase58check(sha256);

/**
 * Seals `plaintext` to a device's P-256 key, in Turnkey's credential-bundle format:
 * base58check(compressed enc (33 bytes) || AES-256-GCM ciphertext and tag), HPKE base mode with
 * info `turnkey_hpke` and AAD = enc (65 bytes, uncompressed) || target public key (65 bytes).
 *
 * @param targetPublicKey the device's P-256 public key, 33 or 65 bytes.
 * @throws ProtocolError `SESSION_KEY_TARGET_INVALID` when the key is not on the curve.
 * @example
 * ```ts
 * const bundle = await sealCredentialBundle(sessionKey.privateKey, devicePublicKey);
 * ```
 */
export async function sealCredentialBundle(plaintext: Uint8Array, targetPublicKey: Uint8Array): Promise<string> {
  assertBytes('plaintext', plaintext);
  if (plaintext.length > MAX_BUNDLE_PLAINTEXT_BYTES) {
    throw new RangeError(`plaintext: expected at most ${MAX_BUNDLE_PLAINTEXT_BYTES} bytes, got ${plaintext.length}`);
  }
  const target = parseP256PublicKey(targetPublicKey);
  const sender = await setupBaseSender(P256_SHA256_AES256GCM, target, BUNDLE_INFO);
  const ciphertext = await sender.seal(plaintext, concatBytes(sender.enc, target));
  const compressedEnc = p256.ProjectivePoint.fromHex(sender.enc).toRawBytes(true);
  return base58check.encode(concatBytes(compressedEnc, ciphertext));
}

/**
 * Opens a credential bundle with the device's 32-byte P-256 private key. Accepts bundles made by
 * Turnkey's `@turnkey/crypto` as well as by {@link sealCredentialBundle}.
 *
 * @throws ProtocolError `CREDENTIAL_BUNDLE_INVALID`, with one fixed message, for any bundle that does
 *   not open with this key (bad encoding, checksum, point, tag, wrong key).
 * @example
 * ```ts
 * const sessionPrivateKey = await openCredentialBundle(response.credentialBundle, device.privateKey);
 * ```
 */
export async function openCredentialBundle(bundle: string, targetPrivateKey: Uint8Array): Promise<Uint8Array> {
  assertBytes('targetPrivateKey', targetPrivateKey, 32);
  try {
    if (typeof bundle !== 'string' || bundle.length > MAX_BUNDLE_CHARS) throw new Error('size');
    const bytes = base58check.decode(bundle);
    if (bytes.length <= 33) throw new Error('size');
    const enc = p256.ProjectivePoint.fromHex(bytes.subarray(0, 33)).toRawBytes(false);
    const target = p256.getPublicKey(targetPrivateKey, false);
    const recipient = await setupBaseRecipient(P256_SHA256_AES256GCM, targetPrivateKey, enc, BUNDLE_INFO);
    return await recipient.open(bytes.subarray(33), concatBytes(enc, target));
  } catch {
    throw new ProtocolError('CREDENTIAL_BUNDLE_INVALID');
  }
}
