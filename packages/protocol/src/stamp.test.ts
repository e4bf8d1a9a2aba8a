import { createPublicKey, KeyObject, verify as nodeVerify } from 'node:crypto';
import { p256 } from '@noble/curves/nist';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from './canonical.js';
import { toBase64Url, utf8 } from './encoding.js';
import { generateP256KeyPair } from './p256.js';
import { bodyDigest, createStamp, type StampClaims, stampPayload, verifyStampSignature } from './stamp.js';
import { parseStampHeader } from './stamp-header.js';

const EMPTY_DIGEST = '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU';
const request = { method: 'post', path: '/v1/wallets/0xabc/transfer?dryRun=1&a=%2F', body: '{"amount":"1.5"}' };
const now = 1_767_225_600_000;

async function nonExtractableKey(): Promise<{ signer: CryptoKey; publicKey: Uint8Array; keyObject: KeyObject }> {
  const pair = await globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const publicKey = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', pair.publicKey));
  return { signer: pair.privateKey, publicKey, keyObject: KeyObject.from(pair.publicKey) };
}

/** The claims a server rebuilds from the request and the parsed header. */
function claimsOf(header: string, req = request): { claims: StampClaims; signature: Uint8Array } {
  const { keyId, timestamp, nonce, signature } = parseStampHeader(header);
  const claims: StampClaims = {
    version: 1,
    keyId,
    method: req.method.toUpperCase(),
    path: req.path,
    body: bodyDigest(req.body),
    timestamp,
    nonce,
  };
  return { claims, signature };
}

describe('bodyDigest', () => {
  it('is base64url SHA-256 of the body bytes; no body is the empty string', () => {
    for (const none of [undefined, null, '', new Uint8Array(0)]) expect(bodyDigest(none)).toBe(EMPTY_DIGEST);
    expect(bodyDigest('{"é":1}')).toBe(bodyDigest(utf8('{"é":1}')));
    expect(bodyDigest('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});

describe('stampPayload', () => {
  it('is the canonical JSON of exactly the seven claims, keys sorted', () => {
    const claims = {
      version: 1,
      keyId: 'k',
      method: 'GET',
      path: '/',
      body: EMPTY_DIGEST,
      timestamp: 5,
      nonce: 'n',
      extra: true,
    } as StampClaims;
    expect(new TextDecoder().decode(stampPayload(claims))).toBe(
      `{"body":"${EMPTY_DIGEST}","keyId":"k","method":"GET","nonce":"n","path":"/","timestamp":5,"version":1}`,
    );
  });
});

describe('stampPayload fast path', () => {
  it('gives the same bytes as the generic RFC 8785 canonicaliser for strings with escapes, controls and non-ASCII', () => {
    const alphabet = [
      'a',
      'Z',
      '/',
      '"',
      '\\',
      '\n',
      '\t',
      '\u0001',
      '\u001f',
      '\u007f',
      'é',
      '€',
      '\u2028',
      '😀',
      '?',
      '&',
      '%2F',
      ' ',
    ];
    let seed = 7;
    const pick = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return alphabet[seed % alphabet.length]!;
    };
    const text = () => Array.from({ length: 1 + (seed % 12) }, pick).join('');
    for (let i = 0; i < 500; i += 1) {
      const claims: StampClaims = {
        version: 1,
        keyId: text(),
        method: text(),
        path: `/${text()}`,
        body: text(),
        timestamp: seed * 1000,
        nonce: text(),
      };
      const { version, keyId, method, path, body, timestamp, nonce } = claims;
      expect(stampPayload(claims)).toEqual(canonicalBytes({ version, keyId, method, path, body, timestamp, nonce }));
    }
  });
});

describe('createStamp and verifyStampSignature', () => {
  it('signs with a non-extractable WebCrypto key; the signature verifies, here and with node:crypto', async () => {
    const key = await nonExtractableKey();
    expect(key.signer.extractable).toBe(false);
    const header = await createStamp(key.signer, 'lksk_1', request, { now });
    const { claims, signature } = claimsOf(header);
    expect(claims).toMatchObject({ method: 'POST', timestamp: now, keyId: 'lksk_1' });
    expect(verifyStampSignature(key.publicKey, claims, signature)).toBe(true);
    expect(nodeVerify('sha256', stampPayload(claims), { key: key.keyObject, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
  });

  it('signs with a raw scalar, deterministically (RFC 6979); node:crypto verifies it too', async () => {
    const { privateKey, publicKey } = generateP256KeyPair();
    const opts = { now, nonce: 'AAECAwQFBgcICQoLDA0ODw' };
    const header = await createStamp(privateKey, 'lksk_1', request, opts);
    expect(await createStamp(privateKey, 'lksk_1', request, opts)).toBe(header);
    const { claims, signature } = claimsOf(header);
    expect(verifyStampSignature(publicKey, claims, signature)).toBe(true);
    const jwk = { kty: 'EC', crv: 'P-256', x: toBase64Url(publicKey.subarray(1, 33)), y: toBase64Url(publicKey.subarray(33)) };
    const keyObject = createPublicKey({ key: jwk, format: 'jwk' });
    expect(nodeVerify('sha256', stampPayload(claims), { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
  });

  it('defaults to the current time and a fresh 16-byte nonce', async () => {
    const { privateKey } = generateP256KeyPair();
    const before = Date.now();
    const a = parseStampHeader(await createStamp(privateKey, 'k', request));
    const b = parseStampHeader(await createStamp(privateKey, 'k', request));
    expect(a.timestamp).toBeGreaterThanOrEqual(before);
    expect(a.timestamp).toBeLessThanOrEqual(Date.now());
    expect(a.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('fails when any claim is altered, or for another key', async () => {
    const key = await nonExtractableKey();
    const { claims, signature } = claimsOf(await createStamp(key.signer, 'lksk_1', request, { now }));
    const altered: Partial<Record<keyof StampClaims, unknown>> = {
      version: 2,
      keyId: 'lksk_2',
      method: 'PUT',
      path: '/v1/wallets/0xabc/transfer?dryRun=0&a=%2F',
      body: bodyDigest('{"amount":"15"}'),
      timestamp: now + 1,
      nonce: 'AAECAwQFBgcICQoLDA0ODw',
    };
    for (const [name, value] of Object.entries(altered)) {
      expect(verifyStampSignature(key.publicKey, { ...claims, [name]: value }, signature), name).toBe(false);
    }
    expect(verifyStampSignature(key.publicKey, { ...claims, path: '/v1/wallets/0xabc/transfer' }, signature)).toBe(false);
    expect(verifyStampSignature((await nonExtractableKey()).publicKey, claims, signature)).toBe(false);
  });

  it('never throws: a bad key or signature is false', async () => {
    const { privateKey, publicKey } = generateP256KeyPair();
    const { claims, signature } = claimsOf(await createStamp(privateKey, 'k', request, { now }));
    expect(verifyStampSignature(new Uint8Array(65), claims, signature)).toBe(false);
    expect(verifyStampSignature(publicKey, claims, signature.subarray(0, 63))).toBe(false);
    expect(verifyStampSignature(publicKey, claims, new Uint8Array(64))).toBe(false);
  });

  it('accepts high-S signatures, as WebCrypto makes them', async () => {
    const { privateKey, publicKey } = generateP256KeyPair();
    const { claims, signature } = claimsOf(await createStamp(privateKey, 'k', request, { now }));
    const low = p256.Signature.fromCompact(signature);
    const high = new p256.Signature(low.r, p256.CURVE.n - low.s).toCompactRawBytes();
    expect(low.hasHighS()).toBe(false);
    expect(verifyStampSignature(publicKey, claims, high)).toBe(true);
  });

  it('refuses arguments it cannot sign', async () => {
    const { privateKey } = generateP256KeyPair();
    await expect(createStamp(privateKey, 'bad key', request)).rejects.toThrow(TypeError);
    await expect(createStamp(privateKey, 'k', { ...request, method: 'GE T' })).rejects.toThrow(TypeError);
    await expect(createStamp(privateKey, 'k', { ...request, path: 'https://x/v1' })).rejects.toThrow(TypeError);
    await expect(createStamp(privateKey, 'k', { ...request, path: '/a b' })).rejects.toThrow(TypeError);
    await expect(createStamp(privateKey, 'k', request, { now: 1.5 })).rejects.toThrow(TypeError);
    await expect(createStamp(privateKey, 'k', request, { nonce: 'short' })).rejects.toThrow(TypeError);
    await expect(createStamp(new Uint8Array(31), 'k', request)).rejects.toThrow(TypeError);
  });
});
