import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decryptCredentialBundle, encryptOnRampSecret } from '@turnkey/crypto';
import { describe, expect, it } from 'vitest';
import {
  bodyDigest,
  createStamp,
  generateP256KeyPair,
  openCredentialBundle,
  p256PublicKey,
  parseStampHeader,
  sealCredentialBundle,
  stampPayload,
  verifyStampSignature,
} from '../index.js';
import {
  DOC_EMPTY_BODY_DIGEST,
  type DocJson,
  type DocRequest,
  type DocStampClaims,
  docB64urlDecode,
  docB64urlEncode,
  docBase58checkDecode,
  docBase58checkEncode,
  docBodyDigest,
  docCanonicalJson,
  docClaims,
  docCompress,
  docCreateStamp,
  docFormatStampHeader,
  docFromHex,
  docHex,
  docHpkeDeriveKeyPair,
  docHpkeInfoHash,
  docHpkeOpenBase,
  docHpkeSealBase,
  docOpenCredentialBundle,
  docParseStampHeader,
  docPrivateKeyFromScalar,
  docPublicFromScalar,
  docRawPublicKey,
  docScalarFromPrivateKey,
  docSealCredentialBundle,
  docStampPayload,
  docVerifyStamp,
  P256_N,
} from './doc-impl.js';

const root = new URL('../../../../', import.meta.url);
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const REQUESTS: DocRequest[] = [
  { method: 'GET', path: '/v1/session' },
  { method: 'GET', path: '/v1/session-keys?include=current&limit=5' },
  { method: 'HEAD', path: '/v1/session-keys', body: null },
  { method: 'OPTIONS', path: '/v1/session-keys', body: '' },
  { method: 'POST', path: '/v1/session-keys?include=current', body: '{"scope":"read-only","ttlSeconds":900}' },
  { method: 'PUT', path: '/v1/items/%C3%A9t%C3%A9/?b=2&a=1&a=0', body: new Uint8Array([0, 1, 2, 255, 254]) },
  { method: 'PATCH', path: '/v1/x?q=%E2%9C%93&empty=&flag', body: '{"name":"héllo wörld ✓ 🎉","jp":"日本語"}' },
  { method: 'DELETE', path: '/v1/session-keys/lksk_abc', body: new Uint8Array(0) },
  { method: 'patch', path: '/v1/lower-case-method?x=%2F', body: 'ünïcödé' },
  { method: 'POST', path: '/a/b/c/', body: new Uint8Array(4096).fill(0x5a) },
];

function claimsOf(req: DocRequest, keyId: string, timestamp: number, nonce: string): DocStampClaims {
  // Built with the first implementation's own bodyDigest and ASCII uppercasing, as a server would.
  return { version: 1, keyId, method: req.method.toUpperCase(), path: req.path, body: bodyDigest(req.body), timestamp, nonce };
}

/** Verifies a header the way a server using the first implementation would (parse, rebuild claims, verify). */
function theirVerify(header: string, publicKey: Uint8Array, req: DocRequest): boolean {
  const p = parseStampHeader(header);
  return verifyStampSignature(publicKey, claimsOf(req, p.keyId, p.timestamp, p.nonce), p.signature);
}

function theirParses(header: string): boolean {
  try {
    parseStampHeader(header);
    return true;
  } catch {
    return false;
  }
}

function freshKey(): { scalar: Uint8Array; publicKey: Uint8Array; keyObject: KeyObject } {
  const { privateKey, publicKey } = generateP256KeyPair();
  return { scalar: privateKey, publicKey, keyObject: docPrivateKeyFromScalar(privateKey) };
}

function flipBit(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index] = (copy[index] as number) ^ 0x01;
  return copy;
}

async function theirOpenFails(bundle: string, privateKey: Uint8Array): Promise<unknown> {
  return openCredentialBundle(bundle, privateKey).then(
    () => undefined,
    (e: unknown) => e,
  );
}

function myOpenError(bundle: string, privateKey: Uint8Array): unknown {
  try {
    docOpenCredentialBundle(bundle, privateKey);
    return undefined;
  } catch (e) {
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// Stamps
// ---------------------------------------------------------------------------------------------

describe('independent stamps: docs/stamps.md worked vector', () => {
  const doc = readFileSync(new URL('docs/stamps.md', root), 'utf8');
  const block = /<!-- stamp-test-vector[^>]*-->\s*```json\n([\s\S]*?)\n```/.exec(doc);
  const v = JSON.parse(block?.[1] ?? 'null') as {
    privateKey: string;
    publicKey: string;
    request: { method: string; path: string; body: string };
    claims: DocStampClaims;
    payloadSha256: string;
    signature: string;
    header: string;
  };

  it('reproduces the public key, claims, printed payload and its SHA-256', async () => {
    const key = docPrivateKeyFromScalar(docFromHex(v.privateKey));
    expect(docHex(docRawPublicKey(key))).toBe(v.publicKey);
    const claims = docClaims(v.request, v.claims.keyId, v.claims.timestamp, v.claims.nonce);
    expect(claims).toEqual(v.claims);
    const payload = text(docStampPayload(claims));
    expect(doc).toContain(`\`\`\`text\n${payload}\n\`\`\``);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(payload).digest('hex')).toBe(v.payloadSha256);
    expect(docBodyDigest('')).toBe(DOC_EMPTY_BODY_DIGEST);
    expect(doc).toContain(DOC_EMPTY_BODY_DIGEST);
  });

  it('reproduces signature and header byte for byte (RFC 6979 + low-s), and verifies them', () => {
    const header = docCreateStamp({
      privateKey: docPrivateKeyFromScalar(docFromHex(v.privateKey)),
      keyId: v.claims.keyId,
      request: v.request,
      timestamp: v.claims.timestamp,
      nonce: v.claims.nonce,
      deterministic: true,
    });
    expect(header).toBe(v.header);
    const parsed = docParseStampHeader(v.header);
    expect(parsed && docHex(parsed.signature)).toBe(v.signature);
    expect(docVerifyStamp(v.header, docFromHex(v.publicKey), v.request)).toMatchObject({ ok: true, claims: v.claims });
    expect(docVerifyStamp(v.header, docFromHex(v.publicKey), { ...v.request, path: '/v1/session-keys' })).toEqual({
      ok: false,
      reason: 'invalid',
    });
  });
});

describe('independent stamps: interop with @latchkey/protocol', () => {
  it('payload bytes are identical for the same claims (incl. escapes, non-ASCII, big timestamps)', () => {
    const odd: DocStampClaims[] = [
      {
        version: 1,
        keyId: 'k',
        method: 'GET',
        path: '/',
        body: DOC_EMPTY_BODY_DIGEST,
        timestamp: 0,
        nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
      },
      {
        version: 1,
        keyId: 'lksk_Zz9.-_',
        method: 'POST',
        path: '/p/é/日本/🎉?q="quoted"&b=\\back\\&s=/slash/&c=\u0000\u0001\b\t\n\f\r\u001f\u007f\u2028',
        body: bodyDigest('x'),
        timestamp: Number.MAX_SAFE_INTEGER,
        nonce: 'AAECAwQFBgcICQoLDA0ODw',
      },
    ];
    for (const claims of odd) expect(docHex(docStampPayload(claims))).toBe(docHex(stampPayload(claims)));
    for (const [i, req] of REQUESTS.entries()) {
      const claims = claimsOf(req, `lksk_${i}`, 1767225600000 + i, docB64urlEncode(new Uint8Array(16).fill(i)));
      expect(docClaims(req, claims.keyId, claims.timestamp, claims.nonce)).toEqual(claims);
      expect(text(docStampPayload(claims))).toBe(text(stampPayload(claims)));
    }
    // Extra properties are not signed by either side.
    const extra = { ...odd[0]!, extra: 'x' } as DocStampClaims;
    expect(docHex(docStampPayload(extra))).toBe(docHex(stampPayload(extra)));
    expect(text(docStampPayload(extra))).not.toContain('extra');
  });

  it('body digests agree: none, empty, ASCII, non-ASCII string vs its UTF-8 bytes, binary', () => {
    const bodies: (string | Uint8Array | null | undefined)[] = [
      undefined,
      null,
      '',
      new Uint8Array(0),
      'abc',
      'héllo ✓ 🎉',
      new TextEncoder().encode('héllo ✓ 🎉'),
      new Uint8Array([0xff, 0xfe, 0x00]),
    ];
    for (const body of bodies) expect(docBodyDigest(body)).toBe(bodyDigest(body));
    expect(docBodyDigest('héllo ✓ 🎉')).toBe(docBodyDigest(new TextEncoder().encode('héllo ✓ 🎉')));
    expect(docBodyDigest(null)).toBe(DOC_EMPTY_BODY_DIGEST);
  });

  it('my stamps (random nonces, node ECDSA) verify with theirs, and with mine', () => {
    const key = freshKey();
    for (const req of REQUESTS) {
      const header = docCreateStamp({ privateKey: key.keyObject, keyId: 'lksk_4Mz8Xq2VbT9kP1sW', request: req });
      expect(theirVerify(header, key.publicKey, req)).toBe(true);
      expect(docVerifyStamp(header, key.publicKey, req).ok).toBe(true);
      // bound to method, path and body
      expect(theirVerify(header, key.publicKey, { ...req, method: req.method === 'GET' ? 'POST' : 'GET' })).toBe(false);
      expect(theirVerify(header, key.publicKey, { ...req, path: `${req.path}x` })).toBe(false);
      expect(theirVerify(header, key.publicKey, { ...req, body: 'tampered' })).toBe(false);
      // parsed identically
      expect(parseStampHeader(header)).toEqual(docParseStampHeader(header));
    }
  });

  it('their stamps (raw scalar: RFC 6979, and WebCrypto CryptoKey: random) verify with mine', async () => {
    const key = freshKey();
    const pair = (await globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const webPub = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', pair.publicKey));
    for (const req of REQUESTS) {
      const a = await createStamp(key.scalar, 'lksk_4Mz8Xq2VbT9kP1sW', req);
      expect(docVerifyStamp(a, key.publicKey, req).ok).toBe(true);
      expect(docVerifyStamp(a, key.keyObject, req).ok).toBe(true);
      const b = await createStamp(pair.privateKey, 'key.with-dots_1', req);
      expect(docVerifyStamp(b, webPub, req).ok).toBe(true);
      expect(docVerifyStamp(b, key.publicKey, req)).toEqual({ ok: false, reason: 'invalid' });
      expect(docVerifyStamp(a, key.publicKey, { ...req, body: `${String(req.body ?? '')} ` })).toEqual({
        ok: false,
        reason: 'invalid',
      });
      expect(docParseStampHeader(a)).toEqual(parseStampHeader(a));
    }
  });

  it('deterministic signing: my RFC 6979 header equals theirs for the same key, time and nonce', async () => {
    for (let i = 0; i < 5; i++) {
      const key = freshKey();
      for (const req of REQUESTS) {
        const opts = { now: 1767225600000 + i, nonce: docB64urlEncode(new Uint8Array(16 + i).fill(7 * i)) };
        const theirs = await createStamp(key.scalar, 'lksk_x', req, opts);
        const mine = docCreateStamp({
          privateKey: key.keyObject,
          keyId: 'lksk_x',
          request: req,
          timestamp: opts.now,
          nonce: opts.nonce,
          deterministic: true,
        });
        expect(mine).toBe(theirs);
      }
    }
  });

  it('high-s and low-s both verify on both sides; a flipped signature byte fails on both', () => {
    const key = freshKey();
    const req = REQUESTS[4]!;
    const header = docCreateStamp({ privateKey: key.keyObject, keyId: 'lksk_s', request: req, deterministic: true });
    const p = docParseStampHeader(header)!;
    const s = BigInt(`0x${docHex(p.signature.subarray(32))}`);
    expect(s <= P256_N / 2n).toBe(true);
    const highS = Uint8Array.from([...p.signature.subarray(0, 32), ...docFromHex((P256_N - s).toString(16).padStart(64, '0'))]);
    const highHeader = docFormatStampHeader({ ...p, signature: highS });
    expect(docVerifyStamp(highHeader, key.publicKey, req).ok).toBe(true);
    expect(theirVerify(highHeader, key.publicKey, req)).toBe(true);
    for (const index of [0, 31, 32, 63]) {
      const bad = docFormatStampHeader({ ...p, signature: flipBit(p.signature, index) });
      expect(docVerifyStamp(bad, key.publicKey, req)).toEqual({ ok: false, reason: 'invalid' });
      expect(theirVerify(bad, key.publicKey, req)).toBe(false);
    }
    // r = 0 and s = 0 are refused by both
    const zeros = docFormatStampHeader({ ...p, signature: new Uint8Array(64) });
    expect(docVerifyStamp(zeros, key.publicKey, req).ok).toBe(false);
    expect(theirVerify(zeros, key.publicKey, req)).toBe(false);
  });

  it('a tampered timestamp, nonce or keyId fails on both sides', () => {
    const key = freshKey();
    const req = REQUESTS[6]!;
    const header = docCreateStamp({ privateKey: key.keyObject, keyId: 'lksk_t', request: req, timestamp: 1000 });
    const p = docParseStampHeader(header)!;
    const variants = [
      { ...p, timestamp: 1001 },
      { ...p, keyId: 'lksk_u' },
      { ...p, nonce: docB64urlEncode(new Uint8Array(16).fill(1)) },
    ];
    for (const variant of variants) {
      const h = docFormatStampHeader(variant);
      expect(docVerifyStamp(h, key.publicKey, req).ok).toBe(false);
      expect(theirVerify(h, key.publicKey, req)).toBe(false);
    }
  });
});

describe('independent stamps: header grammar agrees with @latchkey/protocol', () => {
  const sig = docB64urlEncode(new Uint8Array(64).fill(0xab));
  const nonce = 'AAECAwQFBgcICQoLDA0ODw';
  const ok = `v=1, keyId=lksk_4Mz8Xq2VbT9kP1sW, ts=1767225600000, nonce=${nonce}, sig=${sig}`;
  const withParam = (name: string, value: string): string => ok.replace(new RegExp(`${name}=[^,]*`), `${name}=${value}`);
  // The last character of a 64-byte sig carries 2 data bits and 4 unused bits, which must be zero ('B' has one set).
  const sigBadBits = `${sig.slice(0, 85)}${sig.at(85) === 'g' ? 'h' : 'B'}`;

  const valid: string[] = [
    ok,
    `v=1,keyId=lksk_4Mz8Xq2VbT9kP1sW,ts=1767225600000,nonce=${nonce},sig=${sig}`,
    `sig=${sig}, nonce=${nonce}, ts=1767225600000, keyId=lksk_4Mz8Xq2VbT9kP1sW, v=1`,
    ` \t${ok.replaceAll(', ', ' \t ,\t ')}\t `,
    withParam('ts', '0'),
    withParam('ts', String(Number.MAX_SAFE_INTEGER)),
    withParam('keyId', 'a'),
    withParam('keyId', 'A.b-c_D'),
    withParam('keyId', 'k'.repeat(128)),
    withParam('nonce', 'A'.repeat(16)),
    withParam('nonce', 'A'.repeat(18)),
    withParam('nonce', 'A'.repeat(64)),
    withParam('nonce', '-_-_-_-_-_-_-_-_-_-_-w'),
  ];
  const malformed: string[] = [
    '',
    ok.replace('v=1, ', ''),
    ok.replace(/, sig=.*$/, ''),
    ok.replace(', nonce=', ', x=1, nonce='),
    `${ok}, v=1`,
    `${ok},`,
    `,${ok}`,
    ok.replace(', ts', ',, ts'),
    ok.replace(', ', '; '),
    ok.replace('keyId=lksk_4Mz8Xq2VbT9kP1sW', 'keyId="lksk_4Mz8Xq2VbT9kP1sW"'),
    ok.replace('keyId=', 'keyId ='),
    ok.replace('keyId=', 'keyId= '),
    ok.replace('keyId=', 'KeyId='),
    ok.replace('v=1', 'V=1'),
    ok.replace('v=1', 'v=2'),
    ok.replace('v=1', 'v=01'),
    ok.replace(', ', ',\r\n '),
    ok.replace(', ', ',\u00a0'),
    withParam('ts', '01'),
    withParam('ts', '-1'),
    withParam('ts', '+1'),
    withParam('ts', '1.0'),
    withParam('ts', '1e3'),
    withParam('ts', String(Number.MAX_SAFE_INTEGER + 1)),
    withParam('ts', '12345678901234567'),
    withParam('keyId', ''),
    withParam('keyId', 'k'.repeat(129)),
    withParam('keyId', 'a~b'),
    withParam('keyId', 'clé'),
    withParam('nonce', 'A'.repeat(15)),
    withParam('nonce', 'A'.repeat(17)),
    withParam('nonce', `${'A'.repeat(17)}B`),
    withParam('nonce', 'A'.repeat(65)),
    withParam('nonce', `${'A'.repeat(20)}==`),
    withParam('nonce', `${'A'.repeat(21)}+`),
    withParam('nonce', `${'A'.repeat(21)}/`),
    withParam('sig', sig.slice(0, 85)),
    withParam('sig', `${sig}A`),
    withParam('sig', `${sig}==`),
    withParam('sig', sigBadBits),
    withParam('sig', docB64urlEncode(new Uint8Array(63))),
    ok.replace(', sig', `${' '.repeat(512 - ok.length + 1)}, sig`),
  ];

  it('accepts the valid variants, with identical fields', () => {
    for (const h of valid) {
      const mine = docParseStampHeader(h);
      expect(mine, h).not.toBeNull();
      expect(parseStampHeader(h), h).toEqual(mine);
    }
  });

  it('refuses the malformed variants (SIGNATURE_MALFORMED on their side)', () => {
    expect(ok.replace(', sig', `${' '.repeat(512 - ok.length)}, sig`).length).toBe(512);
    expect(docParseStampHeader(ok.replace(', sig', `${' '.repeat(512 - ok.length)}, sig`))).not.toBeNull();
    for (const h of malformed) {
      expect(docParseStampHeader(h), JSON.stringify(h)).toBeNull();
      expect(theirParses(h), JSON.stringify(h)).toBe(false);
      try {
        parseStampHeader(h);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('SIGNATURE_MALFORMED');
      }
    }
  });

  it('formats in the client order `v, keyId, ts, nonce, sig` like theirs', async () => {
    const key = freshKey();
    const theirs = await createStamp(key.scalar, 'lksk_o', { method: 'GET', path: '/' }, { now: 5, nonce });
    expect(theirs).toMatch(/^v=1, keyId=lksk_o, ts=5, nonce=AAECAwQFBgcICQoLDA0ODw, sig=[A-Za-z0-9_-]{86}$/);
    expect(docFormatStampHeader(docParseStampHeader(theirs)!)).toBe(theirs);
  });
});

describe('independent RFC 8785 canonicalization (bonus: test/vectors/jcs-rfc8785.json)', () => {
  const jcs = JSON.parse(readFileSync(new URL('test/vectors/jcs-rfc8785.json', root), 'utf8')) as {
    cases: { name: string; input: string; expected: string | null }[];
    es6_number_samples: { samples: { ieee754_hex: string; expected: string }[] };
  };

  it('reproduces the published outputs and number samples', () => {
    const cases = jcs.cases.filter((c) => c.expected !== null);
    expect(cases.length).toBe(6);
    for (const c of cases) expect(docCanonicalJson(JSON.parse(c.input) as DocJson), c.name).toBe(c.expected);
    for (const s of jcs.es6_number_samples.samples) {
      expect(docCanonicalJson(Buffer.from(s.ieee754_hex.padStart(16, '0'), 'hex').readDoubleBE(0))).toBe(s.expected);
    }
  });

  it('a lone surrogate (not I-JSON) is refused by both', () => {
    const claims: DocStampClaims = {
      version: 1,
      keyId: 'k',
      method: 'GET',
      path: '/\ud800',
      body: DOC_EMPTY_BODY_DIGEST,
      timestamp: 1,
      nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
    };
    expect(() => docStampPayload(claims)).toThrow();
    expect(() => stampPayload(claims)).toThrow();
    expect(() => stampPayload({ ...claims, path: '/\udc00x' })).toThrow();
    expect(() => docStampPayload({ ...claims, path: '/\udc00x' })).toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// HPKE and credential bundles
// ---------------------------------------------------------------------------------------------

describe('independent HPKE: RFC 9180 vector (base, DHKEM(P-256), HKDF-SHA256, AES-256-GCM)', () => {
  const all = JSON.parse(readFileSync(new URL('test/vectors/hpke-rfc9180-subset.json', root), 'utf8')) as {
    vectors: {
      mode: number;
      kem_id: number;
      kdf_id: number;
      aead_id: number;
      info: string;
      ikmE: string;
      ikmR: string;
      skRm: string;
      pkRm: string;
      enc: string;
      encryptions: { seq: number; aad: string; ct: string; pt: string }[];
    }[];
  };
  const v = all.vectors.find((x) => x.mode === 0 && x.kem_id === 0x10 && x.kdf_id === 1 && x.aead_id === 2);

  it('derives the key pairs from ikmE / ikmR, reproduces enc and ct, and opens ct', () => {
    expect(v).toBeDefined();
    const e = docHpkeDeriveKeyPair(docFromHex(v!.ikmE));
    const r = docHpkeDeriveKeyPair(docFromHex(v!.ikmR));
    expect(docHex(r.sk)).toBe(v!.skRm);
    expect(docHex(r.pk)).toBe(v!.pkRm);
    expect(docHex(e.pk)).toBe(v!.enc);
    const enc0 = v!.encryptions.find((x) => x.seq === 0)!;
    const sealed = docHpkeSealBase({
      pkR: r.pk,
      info: docFromHex(v!.info),
      aad: docFromHex(enc0.aad),
      plaintext: docFromHex(enc0.pt),
      skE: e.sk,
    });
    expect(docHex(sealed.enc)).toBe(v!.enc);
    expect(docHex(sealed.ct)).toBe(enc0.ct);
    const opened = docHpkeOpenBase({
      enc: docFromHex(v!.enc),
      skR: docFromHex(v!.skRm),
      info: docFromHex(v!.info),
      aad: docFromHex(enc0.aad),
      ct: docFromHex(enc0.ct),
    });
    expect(docHex(opened)).toBe(enc0.pt);
    expect(() =>
      docHpkeOpenBase({
        enc: docFromHex(v!.enc),
        skR: docFromHex(v!.skRm),
        info: docFromHex(v!.info),
        aad: docFromHex('00'),
        ct: docFromHex(enc0.ct),
      }),
    ).toThrow();
  });

  it("matches the doc's info_hash 2f3f04e9…c99e50 for info 'turnkey_hpke'", () => {
    const h = docHex(docHpkeInfoHash(new TextEncoder().encode('turnkey_hpke')));
    expect(h.startsWith('2f3f04e9')).toBe(true);
    expect(h.endsWith('c99e50')).toBe(true);
  });
});

describe('independent credential bundles: interop with @latchkey/protocol', () => {
  const device = generateP256KeyPair();
  const secrets = [
    generateP256KeyPair().privateKey,
    new Uint8Array(0),
    new Uint8Array([0]),
    new TextEncoder().encode('sk_live_ünïcödé'),
    new Uint8Array(1024).fill(0xa5),
  ];

  it('base58check codec: leading zeros as 1, checksum enforced', () => {
    const payload = new Uint8Array([0, 0, 1, 2, 3]);
    const s = docBase58checkEncode(payload);
    expect(s.startsWith('11')).toBe(true);
    expect(docBase58checkDecode(s)).toEqual(payload);
    expect(docBase58checkDecode(`${s.slice(0, -1)}${s.endsWith('2') ? '3' : '2'}`)).toBeNull();
    expect(docBase58checkDecode('0OIl')).toBeNull();
  });

  it('my bundles open with theirs (and with @turnkey/crypto), 65- or 33-byte target key', async () => {
    for (const secret of secrets) {
      const a = docSealCredentialBundle(device.publicKey, secret);
      const b = docSealCredentialBundle(docCompress(device.publicKey), secret);
      expect(a).not.toBe(b);
      expect(await openCredentialBundle(a, device.privateKey)).toEqual(secret);
      expect(await openCredentialBundle(b, device.privateKey)).toEqual(secret);
      expect(decryptCredentialBundle(a, docHex(device.privateKey))).toBe(docHex(secret));
      const raw = docBase58checkDecode(a)!;
      expect(raw.length).toBe(33 + secret.length + 16);
      expect([2, 3]).toContain(raw[0]);
    }
    expect(docSealCredentialBundle(device.publicKey, secrets[0]!).length).toBeGreaterThanOrEqual(110);
  });

  it('their bundles (and @turnkey/crypto on-ramp bundles) open with mine', async () => {
    for (const secret of secrets) {
      const bundle = await sealCredentialBundle(secret, device.publicKey);
      expect(docOpenCredentialBundle(bundle, device.privateKey)).toEqual(secret);
    }
    const onRamp = encryptOnRampSecret('sk_live_123', docHex(docCompress(device.publicKey)));
    expect(text(docOpenCredentialBundle(onRamp, device.privateKey))).toBe('sk_live_123');
  });

  it('a fixed ephemeral key gives the same bytes as the layout demands (enc compressed, AAD enc‖pkR)', async () => {
    const skE = docHpkeDeriveKeyPair(new Uint8Array(32).fill(9)).sk;
    const bundle = docSealCredentialBundle(device.publicKey, secrets[0]!, skE);
    const raw = docBase58checkDecode(bundle)!;
    expect(docHex(raw.subarray(0, 33))).toBe(docHex(docCompress(docPublicFromScalar(skE))));
    expect(await openCredentialBundle(bundle, device.privateKey)).toEqual(secrets[0]);
  });

  it('a tampered byte fails on both sides, with one error and one message', async () => {
    const mine = docSealCredentialBundle(device.publicKey, secrets[0]!);
    const theirs = await sealCredentialBundle(secrets[0]!, device.publicKey);
    for (const bundle of [mine, theirs]) {
      const raw = docBase58checkDecode(bundle)!;
      const broken: string[] = [
        // payload byte flipped, checksum recomputed: the point or the tag fails
        ...[0, 1, 20, 32, 33, 40, raw.length - 17, raw.length - 1].map((i) => docBase58checkEncode(flipBit(raw, i))),
        // the base58 string itself altered: the checksum fails
        `${bundle.slice(0, 10)}${bundle.charAt(10) === 'z' ? 'y' : 'z'}${bundle.slice(11)}`,
        // truncated payloads, wrong prefix, not base58, too long
        docBase58checkEncode(raw.subarray(0, 33)),
        docBase58checkEncode(raw.subarray(0, 40)),
        docBase58checkEncode(Uint8Array.from([0x04, ...raw.subarray(1)])),
        `${bundle}0`,
        '',
        '1'.repeat(2049),
      ];
      for (const bad of broken) {
        const mineError = myOpenError(bad, device.privateKey) as { code?: string; message?: string } | undefined;
        expect(mineError?.code, bad).toBe('CREDENTIAL_BUNDLE_INVALID');
        expect(mineError?.message).toBe('The credential bundle could not be opened.');
        const theirError = (await theirOpenFails(bad, device.privateKey)) as { code?: string; message?: string } | undefined;
        expect(theirError?.code, bad).toBe('CREDENTIAL_BUNDLE_INVALID');
        expect(theirError?.message).toBe('The credential bundle could not be opened.');
      }
      // another device's key
      const other = generateP256KeyPair();
      expect((myOpenError(bundle, other.privateKey) as { code?: string }).code).toBe('CREDENTIAL_BUNDLE_INVALID');
      expect(((await theirOpenFails(bundle, other.privateKey)) as { code?: string }).code).toBe('CREDENTIAL_BUNDLE_INVALID');
    }
  });

  it('limits: 1024-byte plaintext is the maximum on both sides', async () => {
    const big = new Uint8Array(1025);
    expect(() => docSealCredentialBundle(device.publicKey, big)).toThrow();
    await expect(sealCredentialBundle(big, device.publicKey)).rejects.toThrow();
  });

  it('key helpers agree with theirs', () => {
    const { privateKey, publicKey } = generateP256KeyPair();
    expect(docPublicFromScalar(privateKey)).toEqual(Buffer.from(p256PublicKey(privateKey)));
    expect(docHex(publicKey)).toBe(docHex(p256PublicKey(privateKey)));
    const { privateKey: nodeKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const scalar = docScalarFromPrivateKey(nodeKey);
    expect(docHex(p256PublicKey(scalar))).toBe(docHex(docRawPublicKey(createPublicKey(nodeKey))));
    expect(docScalarFromPrivateKey(createPrivateKey(nodeKey.export({ format: 'pem', type: 'pkcs8' })))).toEqual(scalar);
    expect(docB64urlDecode(docB64urlEncode(scalar))).toEqual(scalar);
  });
});
