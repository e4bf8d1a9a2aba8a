import { readFileSync } from 'node:fs';
import { p256 } from '@noble/curves/nist';
import { sha256 } from '@noble/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './encoding.js';
import { p256PublicKey } from './p256.js';
import { signP256 } from './signer.js';
import { bodyDigest, createStamp, type StampClaims, stampPayload, verifyStampSignature } from './stamp.js';
import { parseStampHeader } from './stamp-header.js';

// The worked example of docs/stamps.md is read from the page itself, so the page and the code cannot drift.
const doc = readFileSync(new URL('../../../docs/stamps.md', import.meta.url), 'utf8');
const block = /<!-- stamp-test-vector[^>]*-->\s*```json\n([\s\S]*?)\n```/.exec(doc);
interface DocVector {
  privateKey: string;
  publicKey: string;
  request: { method: string; path: string; body: string };
  claims: StampClaims;
  payloadSha256: string;
  signature: string;
  header: string;
}
const vector = JSON.parse(block?.[1] ?? 'null') as DocVector;

describe('docs/stamps.md test vector', () => {
  it('is on the page', () => {
    expect(vector).not.toBeNull();
  });

  it('matches the code: public key, body digest, canonical payload (printed on the page), its SHA-256', () => {
    const privateKey = fromHex(vector.privateKey);
    expect(toHex(p256PublicKey(privateKey))).toBe(vector.publicKey);
    expect(bodyDigest(vector.request.body)).toBe(vector.claims.body);
    const payload = new TextDecoder().decode(stampPayload(vector.claims));
    expect(doc).toContain(`\`\`\`text\n${payload}\n\`\`\``);
    expect(toHex(sha256(utf8(payload)))).toBe(vector.payloadSha256);
    expect(doc).toContain(`Its SHA-256 is \`${vector.payloadSha256}\``);
  });

  it('createStamp reproduces the signature and header byte for byte, and they verify', async () => {
    const { claims } = vector;
    const header = await createStamp(fromHex(vector.privateKey), claims.keyId, vector.request, {
      now: claims.timestamp,
      nonce: claims.nonce,
    });
    expect(header).toBe(vector.header);
    const parsed = parseStampHeader(header);
    expect(toHex(parsed.signature)).toBe(vector.signature);
    expect(verifyStampSignature(fromHex(vector.publicKey), claims, parsed.signature)).toBe(true);
  });

  it('the raw-scalar signer is RFC 6979 (A.2.5, SHA-256, "sample") with s normalized low', async () => {
    const r = 'efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716';
    const s = BigInt('0xf7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');
    const signature = await signP256(fromHex(vector.privateKey), utf8('sample'));
    expect(toHex(signature)).toBe(r + (p256.CURVE.n - s).toString(16).padStart(64, '0'));
  });
});
