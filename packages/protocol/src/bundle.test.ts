import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core';
import { p256 } from '@noble/curves/nist';
import { sha256 } from '@noble/hashes/sha2';
import { createBase58check } from '@scure/base';
import { decryptCredentialBundle, encryptOnRampSecret, hpkeEncrypt } from '@turnkey/crypto';
import { describe, expect, it } from 'vitest';
import { MAX_BUNDLE_PLAINTEXT_BYTES, openCredentialBundle, sealCredentialBundle } from './bundle.js';
import { concatBytes, fromHex, toHex, utf8 } from './encoding.js';
import { isProtocolError } from './errors.js';
import { compressP256PublicKey, generateP256KeyPair } from './p256.js';

const base58check = createBase58check(sha256);
const device = generateP256KeyPair();
const credential = generateP256KeyPair().privateKey;

async function expectInvalid(bundle: string, privateKey = device.privateKey): Promise<void> {
  const error = await openCredentialBundle(bundle, privateKey).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isProtocolError(error, 'CREDENTIAL_BUNDLE_INVALID')).toBe(true);
  expect((error as Error).message).toBe('The credential bundle could not be opened.');
}

describe('credential bundles', () => {
  it('round-trips, with a fresh ephemeral key per bundle', async () => {
    const a = await sealCredentialBundle(credential, device.publicKey);
    const b = await sealCredentialBundle(credential, compressP256PublicKey(device.publicKey));
    expect(a).not.toBe(b);
    expect(await openCredentialBundle(a, device.privateKey)).toEqual(credential);
    expect(await openCredentialBundle(b, device.privateKey)).toEqual(credential);
    expect(
      await openCredentialBundle(await sealCredentialBundle(new Uint8Array(0), device.publicKey), device.privateKey),
    ).toEqual(new Uint8Array(0));
  });

  it('has the layout base58check(compressed enc 33 || ciphertext || 16-byte tag)', async () => {
    const bytes = base58check.decode(await sealCredentialBundle(credential, device.publicKey));
    expect(bytes).toHaveLength(33 + 32 + 16);
    expect([2, 3]).toContain(bytes[0]);
  });

  it('opens with @turnkey/crypto decryptCredentialBundle', async () => {
    const bundle = await sealCredentialBundle(credential, device.publicKey);
    expect(decryptCredentialBundle(bundle, toHex(device.privateKey))).toBe(toHex(credential));
  });

  it('opens bundles made by @turnkey/crypto (encryptOnRampSecret, and hpkeEncrypt + base58check)', async () => {
    const onRamp = encryptOnRampSecret('sk_live_123', toHex(compressP256PublicKey(device.publicKey)));
    expect(await openCredentialBundle(onRamp, device.privateKey)).toEqual(utf8('sk_live_123'));
    const raw = hpkeEncrypt({ plainTextBuf: credential, targetKeyBuf: device.publicKey });
    expect(await openCredentialBundle(base58check.encode(raw), device.privateKey)).toEqual(credential);
  });

  it('opens directly with @hpke/core: base mode, info "turnkey_hpke", AAD enc || target public key', async () => {
    const bytes = base58check.decode(await sealCredentialBundle(credential, device.publicKey));
    const enc = p256.ProjectivePoint.fromHex(bytes.subarray(0, 33)).toRawBytes(false);
    const suite = new CipherSuite({ kem: new DhkemP256HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
    const pt = await suite.open(
      { recipientKey: await suite.kem.deserializePrivateKey(device.privateKey), enc, info: utf8('turnkey_hpke') },
      bytes.subarray(33),
      concatBytes(enc, device.publicKey),
    );
    expect(new Uint8Array(pt)).toEqual(credential);
  });

  it('refuses a wrong key and every tampered bundle with one fixed error', async () => {
    const bundle = await sealCredentialBundle(credential, device.publicKey);
    const bytes = base58check.decode(bundle);
    const flipped = (i: number): string => {
      const copy = bytes.slice();
      copy[i]! ^= 1;
      return base58check.encode(copy);
    };
    await expectInvalid(bundle, generateP256KeyPair().privateKey);
    await expectInvalid(bundle, fromHex('ff'.repeat(32))); // scalar >= n
    await expectInvalid(flipped(0)); // compressed-point prefix
    await expectInvalid(flipped(5)); // encapsulated key
    await expectInvalid(flipped(40)); // ciphertext
    await expectInvalid(flipped(bytes.length - 1)); // tag
    await expectInvalid(`${bundle.slice(0, -1)}${bundle.endsWith('1') ? '2' : '1'}`); // checksum
    await expectInvalid(base58check.encode(bytes.subarray(0, 33))); // no ciphertext
    await expectInvalid(base58check.encode(bytes.subarray(0, 60))); // truncated
    await expectInvalid('');
    await expectInvalid('0OIl');
    await expectInvalid('1'.repeat(2049));
  });

  it('refuses bad arguments before doing any work', async () => {
    await expect(sealCredentialBundle(credential, new Uint8Array(65))).rejects.toMatchObject({
      code: 'SESSION_KEY_TARGET_INVALID',
    });
    await expect(sealCredentialBundle(new Uint8Array(MAX_BUNDLE_PLAINTEXT_BYTES + 1), device.publicKey)).rejects.toThrow(
      RangeError,
    );
    await expect(openCredentialBundle('x', new Uint8Array(31))).rejects.toThrow(TypeError);
  });

  it('seals the largest plaintext into a bundle that opens', async () => {
    const big = new Uint8Array(MAX_BUNDLE_PLAINTEXT_BYTES).fill(7);
    expect(await openCredentialBundle(await sealCredentialBundle(big, device.publicKey), device.privateKey)).toEqual(big);
  });
});
