/**
 * Independent implementation of Latchkey request stamps and credential bundles, written from
 * docs/stamps.md and docs/credential-bundles.md only (plus RFC 8785, RFC 9180, RFC 6979, SEC1 and
 * Bitcoin's base58check). Test-only: it is not exported from the package and imports nothing from
 * `@latchkey/*` or npm, only `node:crypto`.
 */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  ECDH,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';

// ---------------------------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------------------------

const utf8 = new TextEncoder();

function concat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

function ascii(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

export function docHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function docFromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error('bad hex');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function bytesToBig(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function bigToBytes(n: bigint, length: number): Buffer {
  const hex = n.toString(16).padStart(length * 2, '0');
  if (hex.length > length * 2) throw new Error('integer too large');
  return Buffer.from(hex, 'hex');
}

function i2osp(n: number, length: number): Buffer {
  return bigToBytes(BigInt(n), length);
}

function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

function hmacSha256(key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

// ---------------------------------------------------------------------------------------------
// Unpadded base64url (RFC 4648 §5), strict canonical decoding
// ---------------------------------------------------------------------------------------------

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function docB64urlEncode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += B64URL[(acc >> bits) & 63];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B64URL[(acc << (6 - bits)) & 63];
  return out;
}

/** Decodes canonical unpadded base64url; returns null for anything non-canonical. */
export function docB64urlDecode(s: string): Uint8Array | null {
  if (s.length % 4 === 1) return null;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B64URL.indexOf(s.charAt(i));
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) return null; // unused low bits of the last character must be zero
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// RFC 8785 canonical JSON (enough for the flat objects of the spec, but general)
// ---------------------------------------------------------------------------------------------

export type DocJson = null | boolean | number | string | DocJson[] | { [key: string]: DocJson };

function canonicalString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0d) out += '\\r';
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw new Error('lone surrogate: not I-JSON');
      out += s.charAt(i) + s.charAt(i + 1);
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) throw new Error('lone surrogate: not I-JSON');
    else out += s.charAt(i);
  }
  return `${out}"`;
}

export function docCanonicalJson(value: DocJson): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('non-finite number');
    return String(value); // ECMAScript shortest round-trip form; String(-0) === '0'
  }
  if (typeof value === 'string') return canonicalString(value);
  if (Array.isArray(value)) return `[${value.map(docCanonicalJson).join(',')}]`;
  // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${canonicalString(k)}:${docCanonicalJson(value[k] as DocJson)}`).join(',')}}`;
}

// ---------------------------------------------------------------------------------------------
// P-256 keys
// ---------------------------------------------------------------------------------------------

export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** Any SEC1 point (33 compressed or 65 uncompressed bytes) to the 65-byte uncompressed form; throws if not on the curve. */
export function docUncompress(point: Uint8Array): Buffer {
  if (point.length === 65 && point[0] === 0x04) {
    // Round-trip through OpenSSL to make sure the point is on the curve.
    return Buffer.from(ECDH.convertKey(Buffer.from(point), 'prime256v1', undefined, undefined, 'uncompressed') as Buffer);
  }
  if (point.length === 33 && (point[0] === 0x02 || point[0] === 0x03)) {
    return Buffer.from(ECDH.convertKey(Buffer.from(point), 'prime256v1', undefined, undefined, 'uncompressed') as Buffer);
  }
  throw new Error('not a SEC1 P-256 point');
}

export function docCompress(point: Uint8Array): Buffer {
  const u = docUncompress(point);
  return concat(Uint8Array.of(0x02 | ((u[64] as number) & 1)), u.subarray(1, 33));
}

/** 65-byte uncompressed public key of a 32-byte scalar. */
export function docPublicFromScalar(d: Uint8Array): Buffer {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(d));
  return ecdh.getPublicKey(null, 'uncompressed');
}

export function docPrivateKeyFromScalar(d: Uint8Array): KeyObject {
  if (d.length !== 32) throw new Error('P-256 private key must be 32 bytes');
  const pub = docPublicFromScalar(d);
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: docB64urlEncode(d),
      x: docB64urlEncode(pub.subarray(1, 33)),
      y: docB64urlEncode(pub.subarray(33, 65)),
    },
    format: 'jwk',
  });
}

export function docPublicKeyFromRaw(raw: Uint8Array): KeyObject {
  const pub = docUncompress(raw);
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: docB64urlEncode(pub.subarray(1, 33)), y: docB64urlEncode(pub.subarray(33, 65)) },
    format: 'jwk',
  });
}

export function docScalarFromPrivateKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  const d = jwk.d ? docB64urlDecode(jwk.d) : null;
  if (d?.length !== 32) throw new Error('not a P-256 private key');
  return d;
}

export function docRawPublicKey(key: KeyObject): Uint8Array {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  const x = jwk.x ? docB64urlDecode(jwk.x) : null;
  const y = jwk.y ? docB64urlDecode(jwk.y) : null;
  if (jwk.crv !== 'P-256' || !x || !y || x.length !== 32 || y.length !== 32) throw new Error('not a P-256 key');
  return concat(Uint8Array.of(0x04), x, y);
}

// ---------------------------------------------------------------------------------------------
// ECDSA P-256 / SHA-256, IEEE P1363 r || s. Random (node) or RFC 6979 deterministic + low-s.
// ---------------------------------------------------------------------------------------------

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

/** RFC 6979 §3.2 deterministic ECDSA (qlen = hlen = 256), s normalized to s <= n/2. */
export function docSignDeterministic(d: Uint8Array, message: Uint8Array): Uint8Array {
  const x = bytesToBig(d);
  if (x <= 0n || x >= P256_N) throw new Error('bad private key');
  const h1 = sha256(message);
  const e = bytesToBig(h1); // bits2int: qlen == hlen, no shift
  const xOct = bigToBytes(x, 32);
  const hOct = bigToBytes(e % P256_N, 32); // bits2octets
  let V: Buffer = Buffer.alloc(32, 0x01);
  let K: Buffer = Buffer.alloc(32, 0x00);
  K = hmacSha256(K, concat(V, Uint8Array.of(0x00), xOct, hOct));
  V = hmacSha256(K, V);
  K = hmacSha256(K, concat(V, Uint8Array.of(0x01), xOct, hOct));
  V = hmacSha256(K, V);
  for (;;) {
    V = hmacSha256(K, V);
    const k = bytesToBig(V);
    if (k >= 1n && k < P256_N) {
      const R = docPublicFromScalar(bigToBytes(k, 32));
      const r = bytesToBig(R.subarray(1, 33)) % P256_N;
      if (r !== 0n) {
        let s = (modPow(k, P256_N - 2n, P256_N) * ((e + r * x) % P256_N)) % P256_N;
        if (s !== 0n) {
          if (s > P256_N >> 1n) s = P256_N - s;
          return Uint8Array.from(concat(bigToBytes(r, 32), bigToBytes(s, 32)));
        }
      }
    }
    K = hmacSha256(K, concat(V, Uint8Array.of(0x00)));
    V = hmacSha256(K, V);
  }
}

export function docSign(privateKey: KeyObject, message: Uint8Array, deterministic = false): Uint8Array {
  if (deterministic) return docSignDeterministic(docScalarFromPrivateKey(privateKey), message);
  return Uint8Array.from(sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}

export function docVerify(publicKey: KeyObject | Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    const key = publicKey instanceof Uint8Array ? docPublicKeyFromRaw(publicKey) : publicKey;
    return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Stamps
// ---------------------------------------------------------------------------------------------

export interface DocStampClaims {
  version: 1;
  keyId: string;
  method: string;
  path: string;
  body: string;
  timestamp: number;
  nonce: string;
}

export interface DocRequest {
  method: string;
  /** Origin-form request target, path and query exactly as sent. */
  path: string;
  body?: Uint8Array | string | null;
}

export interface DocParsedStamp {
  version: 1;
  keyId: string;
  timestamp: number;
  nonce: string;
  signature: Uint8Array;
}

export const DOC_EMPTY_BODY_DIGEST = '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU';

export function docBodyDigest(body?: Uint8Array | string | null): string {
  const bytes = body == null ? new Uint8Array(0) : typeof body === 'string' ? utf8.encode(body) : body;
  return docB64urlEncode(sha256(bytes));
}

/** ASCII-only uppercasing: the HTTP method as a claim. */
export function docMethod(method: string): string {
  return method.replace(/[a-z]/g, (c) => c.toUpperCase());
}

export function docClaims(request: DocRequest, keyId: string, timestamp: number, nonce: string): DocStampClaims {
  return {
    version: 1,
    keyId,
    method: docMethod(request.method),
    path: request.path,
    body: docBodyDigest(request.body),
    timestamp,
    nonce,
  };
}

/** UTF-8 of the RFC 8785 serialization of exactly the seven claims. */
export function docStampPayload(claims: DocStampClaims): Uint8Array {
  if (claims.version !== 1) throw new Error('version must be 1');
  if (!Number.isSafeInteger(claims.timestamp) || claims.timestamp < 0) throw new Error('bad timestamp');
  const obj: Record<string, DocJson> = {
    version: claims.version,
    keyId: claims.keyId,
    method: claims.method,
    path: claims.path,
    body: claims.body,
    timestamp: claims.timestamp,
    nonce: claims.nonce,
  };
  return utf8.encode(docCanonicalJson(obj));
}

export function docFormatStampHeader(stamp: DocParsedStamp): string {
  return `v=1, keyId=${stamp.keyId}, ts=${stamp.timestamp}, nonce=${stamp.nonce}, sig=${docB64urlEncode(stamp.signature)}`;
}

const KEY_ID_RE = /^[A-Za-z0-9_.-]{1,128}$/;
const TS_RE = /^(?:0|[1-9][0-9]{0,15})$/;
const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/;
const SIG_RE = /^[A-Za-z0-9_-]{86}$/;

function trimOws(s: string): string {
  return s.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
}

/** Parses a `Latchkey-Signature` value; null means 400 SIGNATURE_MALFORMED. */
export function docParseStampHeader(value: string): DocParsedStamp | null {
  if (typeof value !== 'string' || value.length > 512) return null;
  const seen = new Map<string, string>();
  for (const raw of value.split(',')) {
    const element = trimOws(raw);
    const eq = element.indexOf('=');
    if (eq <= 0) return null;
    const name = element.slice(0, eq);
    const val = element.slice(eq + 1);
    if (name !== 'v' && name !== 'keyId' && name !== 'ts' && name !== 'nonce' && name !== 'sig') return null;
    if (seen.has(name)) return null;
    seen.set(name, val);
  }
  const v = seen.get('v');
  const keyId = seen.get('keyId');
  const ts = seen.get('ts');
  const nonce = seen.get('nonce');
  const sig = seen.get('sig');
  if (v !== '1' || keyId === undefined || ts === undefined || nonce === undefined || sig === undefined) return null;
  if (!KEY_ID_RE.test(keyId) || !TS_RE.test(ts) || !NONCE_RE.test(nonce) || !SIG_RE.test(sig)) return null;
  const timestamp = Number(ts);
  if (!Number.isSafeInteger(timestamp)) return null;
  if (docB64urlDecode(nonce) === null) return null;
  const signature = docB64urlDecode(sig);
  if (signature === null || signature.length !== 64) return null;
  return { version: 1, keyId, timestamp, nonce, signature };
}

export interface DocCreateStampOptions {
  privateKey: KeyObject;
  keyId: string;
  request: DocRequest;
  timestamp?: number;
  nonce?: string;
  /** RFC 6979 + low-s instead of node's random-nonce ECDSA (to reproduce the documented vector). */
  deterministic?: boolean;
}

export function docCreateStamp(options: DocCreateStampOptions): string {
  const timestamp = options.timestamp ?? Date.now();
  const nonce = options.nonce ?? docB64urlEncode(randomBytes(16));
  const claims = docClaims(options.request, options.keyId, timestamp, nonce);
  const signature = docSign(options.privateKey, docStampPayload(claims), options.deterministic);
  return docFormatStampHeader({ version: 1, keyId: options.keyId, timestamp, nonce, signature });
}

export type DocVerifyResult = { ok: true; claims: DocStampClaims } | { ok: false; reason: 'malformed' | 'invalid' };

/** Server checks 1 and 9 only (grammar and signature); key lookup, skew, scope and replay are server state. */
export function docVerifyStamp(header: string, publicKey: KeyObject | Uint8Array, request: DocRequest): DocVerifyResult {
  const parsed = docParseStampHeader(header);
  if (!parsed) return { ok: false, reason: 'malformed' };
  const claims = docClaims(request, parsed.keyId, parsed.timestamp, parsed.nonce);
  return docVerify(publicKey, docStampPayload(claims), parsed.signature)
    ? { ok: true, claims }
    : { ok: false, reason: 'invalid' };
}

// ---------------------------------------------------------------------------------------------
// Base58check (Bitcoin alphabet, no version byte)
// ---------------------------------------------------------------------------------------------

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function docBase58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let n = bytesToBig(bytes);
  let out = '';
  while (n > 0n) {
    out = B58.charAt(Number(n % 58n)) + out;
    n /= 58n;
  }
  return '1'.repeat(zeros) + out;
}

export function docBase58Decode(s: string): Uint8Array | null {
  let zeros = 0;
  while (zeros < s.length && s.charAt(zeros) === '1') zeros++;
  let n = 0n;
  for (let i = 0; i < s.length; i++) {
    const v = B58.indexOf(s.charAt(i));
    if (v < 0) return null;
    n = n * 58n + BigInt(v);
  }
  let hex = n === 0n ? '' : n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Uint8Array.from(concat(new Uint8Array(zeros), Buffer.from(hex, 'hex')));
}

export function docBase58checkEncode(payload: Uint8Array): string {
  return docBase58Encode(concat(payload, sha256(sha256(payload)).subarray(0, 4)));
}

export function docBase58checkDecode(s: string): Uint8Array | null {
  const raw = docBase58Decode(s);
  if (!raw || raw.length < 4) return null;
  const payload = raw.subarray(0, raw.length - 4);
  const check = raw.subarray(raw.length - 4);
  return Buffer.compare(sha256(sha256(payload)).subarray(0, 4), check) === 0 ? Uint8Array.from(payload) : null;
}

// ---------------------------------------------------------------------------------------------
// HPKE (RFC 9180) base mode, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM
// ---------------------------------------------------------------------------------------------

const KEM_SUITE = concat(ascii('KEM'), i2osp(0x0010, 2));
const HPKE_SUITE = concat(ascii('HPKE'), i2osp(0x0010, 2), i2osp(0x0001, 2), i2osp(0x0002, 2));
const HPKE_V1 = ascii('HPKE-v1');
const NH = 32;

function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return hmacSha256(salt.length === 0 ? new Uint8Array(NH) : salt, ikm);
}

function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let t: Buffer = Buffer.alloc(0);
  for (let i = 1; blocks.length * NH < length; i++) {
    t = hmacSha256(prk, concat(t, info, Uint8Array.of(i)));
    blocks.push(t);
  }
  return concat(...blocks).subarray(0, length);
}

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Buffer {
  return hkdfExtract(salt, concat(HPKE_V1, suite, ascii(label), ikm));
}

function labeledExpand(suite: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, length: number): Buffer {
  return hkdfExpand(prk, concat(i2osp(length, 2), HPKE_V1, suite, ascii(label), info), length);
}

/** RFC 9180 §7.1.3 DeriveKeyPair for P-256 (bitmask 0xff). Returns the 32-byte scalar. */
export function docHpkeDeriveKeyPair(ikm: Uint8Array): { sk: Uint8Array; pk: Uint8Array } {
  const dkpPrk = labeledExtract(KEM_SUITE, new Uint8Array(0), 'dkp_prk', ikm);
  for (let counter = 0; counter < 256; counter++) {
    const bytes = labeledExpand(KEM_SUITE, dkpPrk, 'candidate', i2osp(counter, 1), 32);
    bytes[0] = (bytes[0] as number) & 0xff;
    const sk = bytesToBig(bytes);
    if (sk !== 0n && sk < P256_N) return { sk: bytes, pk: docPublicFromScalar(bytes) };
  }
  throw new Error('DeriveKeyPairError');
}

function dh(sk: Uint8Array, pk: Uint8Array): Buffer {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(sk));
  return ecdh.computeSecret(Buffer.from(pk)); // x-coordinate, 32 bytes; throws if pk is not on the curve
}

function extractAndExpand(dhValue: Uint8Array, kemContext: Uint8Array): Buffer {
  const eaePrk = labeledExtract(KEM_SUITE, new Uint8Array(0), 'eae_prk', dhValue);
  return labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', kemContext, 32);
}

function keyScheduleBase(sharedSecret: Uint8Array, info: Uint8Array): { key: Buffer; baseNonce: Buffer } {
  const empty = new Uint8Array(0);
  const pskIdHash = labeledExtract(HPKE_SUITE, empty, 'psk_id_hash', empty);
  const infoHash = labeledExtract(HPKE_SUITE, empty, 'info_hash', info);
  const context = concat(Uint8Array.of(0x00), pskIdHash, infoHash);
  const secret = labeledExtract(HPKE_SUITE, sharedSecret, 'secret', empty);
  return {
    key: labeledExpand(HPKE_SUITE, secret, 'key', context, 32),
    baseNonce: labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12),
  };
}

/** Exposed for tests: info_hash of the key schedule. */
export function docHpkeInfoHash(info: Uint8Array): Uint8Array {
  return labeledExtract(HPKE_SUITE, new Uint8Array(0), 'info_hash', info);
}

export interface DocHpkeSealInput {
  /** Recipient public key, 65 bytes uncompressed. */
  pkR: Uint8Array;
  info: Uint8Array;
  aad: Uint8Array;
  plaintext: Uint8Array;
  /** Ephemeral private scalar; random when absent. */
  skE?: Uint8Array;
}

/** SetupBaseS + Seal at sequence number 0. */
export function docHpkeSealBase(input: DocHpkeSealInput): { enc: Uint8Array; ct: Uint8Array } {
  const skE = input.skE ?? docHpkeDeriveKeyPair(randomBytes(32)).sk;
  const enc = docPublicFromScalar(skE);
  const pkR = docUncompress(input.pkR);
  const sharedSecret = extractAndExpand(dh(skE, pkR), concat(enc, pkR));
  const { key, baseNonce } = keyScheduleBase(sharedSecret, input.info);
  const cipher = createCipheriv('aes-256-gcm', key, baseNonce); // nonce = base_nonce XOR I2OSP(0, 12)
  cipher.setAAD(input.aad);
  const ct = concat(cipher.update(input.plaintext), cipher.final(), cipher.getAuthTag());
  return { enc, ct };
}

/** SetupBaseR + Open at sequence number 0. Throws on any failure. */
export function docHpkeOpenBase(input: {
  enc: Uint8Array;
  skR: Uint8Array;
  info: Uint8Array;
  aad: Uint8Array;
  ct: Uint8Array;
}): Uint8Array {
  if (input.ct.length < 16) throw new Error('ciphertext too short');
  const pkR = docPublicFromScalar(input.skR);
  const sharedSecret = extractAndExpand(dh(input.skR, input.enc), concat(input.enc, pkR));
  const { key, baseNonce } = keyScheduleBase(sharedSecret, input.info);
  const decipher = createDecipheriv('aes-256-gcm', key, baseNonce);
  decipher.setAAD(input.aad);
  decipher.setAuthTag(input.ct.subarray(input.ct.length - 16));
  return Uint8Array.from(concat(decipher.update(input.ct.subarray(0, input.ct.length - 16)), decipher.final()));
}

// ---------------------------------------------------------------------------------------------
// Credential bundles
// ---------------------------------------------------------------------------------------------

export const DOC_BUNDLE_INFO = ascii('turnkey_hpke');
export const DOC_BUNDLE_MAX_PLAINTEXT = 1024;
export const DOC_BUNDLE_MAX_CHARS = 2048;

export class DocBundleError extends Error {
  readonly code = 'CREDENTIAL_BUNDLE_INVALID';
  constructor() {
    super('The credential bundle could not be opened.');
    this.name = 'DocBundleError';
  }
}

/** Seals `plaintext` to a P-256 target public key (65 uncompressed or 33 compressed bytes). */
export function docSealCredentialBundle(
  targetPublicKey: Uint8Array,
  plaintext: Uint8Array,
  ephemeralPrivateKey?: Uint8Array,
): string {
  if (plaintext.length > DOC_BUNDLE_MAX_PLAINTEXT) throw new Error('plaintext longer than 1024 bytes');
  const pkR = docUncompress(targetPublicKey);
  const skE = ephemeralPrivateKey ?? docHpkeDeriveKeyPair(randomBytes(32)).sk;
  const enc = docPublicFromScalar(skE);
  const { ct } = docHpkeSealBase({ pkR, info: DOC_BUNDLE_INFO, aad: concat(enc, pkR), plaintext, skE });
  return docBase58checkEncode(concat(docCompress(enc), ct));
}

/** Opens a bundle with the target's 32-byte private scalar; every failure is one DocBundleError. */
export function docOpenCredentialBundle(bundle: string, targetPrivateKey: Uint8Array): Uint8Array {
  try {
    if (typeof bundle !== 'string' || bundle.length > DOC_BUNDLE_MAX_CHARS) throw new DocBundleError();
    if (targetPrivateKey.length !== 32) throw new DocBundleError();
    const payload = docBase58checkDecode(bundle);
    if (!payload || payload.length <= 33) throw new DocBundleError();
    const head = payload.subarray(0, 33);
    if (head[0] !== 0x02 && head[0] !== 0x03) throw new DocBundleError();
    const enc = docUncompress(head);
    const pkR = docPublicFromScalar(targetPrivateKey);
    return docHpkeOpenBase({
      enc,
      skR: targetPrivateKey,
      info: DOC_BUNDLE_INFO,
      aad: concat(enc, pkR),
      ct: payload.subarray(33),
    });
  } catch {
    throw new DocBundleError();
  }
}
