import { sha256 } from '@noble/hashes/sha2';
import { canonicalBytes } from './canonical.js';
import { toBase64Url, utf8 } from './encoding.js';
import { type StampSigner, signP256, verifyP256 } from './signer.js';
import { formatStampHeader, isNonce, KEY_ID_PATTERN } from './stamp-header.js';

/** The request a stamp covers. */
export interface StampRequest {
  /** HTTP method; signed uppercased. */
  method: string;
  /** Path and query exactly as sent on the request line, e.g. `/v1/session-keys?limit=5`. */
  path: string;
  /** The exact body bytes (a string is signed as its UTF-8); none and empty are the same. */
  body?: string | Uint8Array | null;
}

/** What a stamp signs (docs/stamps.md). Its RFC 8785 canonical JSON is the signed payload. */
export interface StampClaims {
  version: 1;
  keyId: string;
  method: string;
  path: string;
  /** {@link bodyDigest} of the body. */
  body: string;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  nonce: string;
}

const NONCE_BYTES = 16;
const METHOD_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PATH_PATTERN = /^\/[\x21-\x7e]*$/;

/**
 * base64url (unpadded) of SHA-256 of the body bytes; no body hashes as the empty string.
 * @example
 * ```ts
 * bodyDigest('') === bodyDigest(null) // '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'
 * ```
 */
export function bodyDigest(body?: string | Uint8Array | null): string {
  const bytes = body === undefined || body === null ? new Uint8Array(0) : typeof body === 'string' ? utf8(body) : body;
  return toBase64Url(sha256(bytes));
}

/** The signed bytes: UTF-8 of the RFC 8785 canonical JSON of exactly the seven claims. */
export function stampPayload(claims: StampClaims): Uint8Array {
  const { version, keyId, method, path, body, timestamp, nonce } = claims;
  if (isPlainClaim(keyId) && isPlainClaim(method) && isPlainClaim(path) && isPlainClaim(body) && isPlainClaim(nonce)) {
    if (version === 1 && Number.isSafeInteger(timestamp) && timestamp >= 0) {
      // The hot path of every stamped request. For this flat object RFC 8785 is JSON.stringify of each value
      // with the keys in code-unit order; the generic canonicaliser below is the reference a test compares with.
      return UTF8.encode(
        `{"body":${JSON.stringify(body)},"keyId":${JSON.stringify(keyId)},"method":${JSON.stringify(method)},` +
          `"nonce":${JSON.stringify(nonce)},"path":${JSON.stringify(path)},"timestamp":${timestamp},"version":1}`,
      );
    }
  }
  return canonicalBytes({ version, keyId, method, path, body, timestamp, nonce });
}

const UTF8 = new TextEncoder();
const SURROGATE = /[\uD800-\uDFFF]/;

/** A string claim without surrogates: its JSON.stringify form is its RFC 8785 form. */
function isPlainClaim(value: unknown): value is string {
  return typeof value === 'string' && !SURROGATE.test(value);
}

/**
 * Signs `req` with a session key and returns the `Latchkey-Signature` header value.
 *
 * @param opts.now the signing time in ms (default `Date.now()`); opts.nonce a fixed nonce (default 16
 *   random bytes, base64url).
 * @example
 * ```ts
 * const body = JSON.stringify({ scope: 'read-only' });
 * const stamp = await createStamp(deviceKey, keyId, { method: 'POST', path: '/v1/session-keys', body });
 * await fetch(url, { method: 'POST', body, headers: { [STAMP_HEADER]: stamp, authorization } });
 * ```
 */
export async function createStamp(
  signer: StampSigner,
  keyId: string,
  req: StampRequest,
  opts: { now?: number; nonce?: string } = {},
): Promise<string> {
  const timestamp = opts.now ?? Date.now();
  const nonce = opts.nonce ?? randomNonce();
  if (!KEY_ID_PATTERN.test(keyId)) throw new TypeError('keyId: expected 1..128 characters of [A-Za-z0-9_.-]');
  if (!METHOD_PATTERN.test(req.method)) throw new TypeError('req.method: expected an HTTP method token');
  if (!PATH_PATTERN.test(req.path)) throw new TypeError("req.path: expected a path starting with '/', printable ASCII");
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new TypeError('opts.now: expected integer milliseconds');
  if (!isNonce(nonce)) throw new TypeError('opts.nonce: expected 16..64 characters of base64url');
  const claims: StampClaims = {
    version: 1,
    keyId,
    method: req.method.toUpperCase(),
    path: req.path,
    body: bodyDigest(req.body),
    timestamp,
    nonce,
  };
  const signature = await signP256(signer, stampPayload(claims));
  return formatStampHeader({ version: 1, keyId, timestamp, nonce, signature });
}

/**
 * Whether `signature` signs `claims` under `publicKey` (33 or 65 bytes). Synchronous; accepts high-S.
 * Never throws: anything malformed is `false`.
 */
export function verifyStampSignature(publicKey: Uint8Array, claims: StampClaims, signature: Uint8Array): boolean {
  try {
    return verifyP256(publicKey, stampPayload(claims), signature);
  } catch {
    return false;
  }
}

function randomNonce(): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}
