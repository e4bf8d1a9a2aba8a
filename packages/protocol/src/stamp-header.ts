import { fromBase64Url, toBase64Url } from './encoding.js';
import { ProtocolError } from './errors.js';

/** The request header that carries a stamp. */
export const STAMP_HEADER = 'Latchkey-Signature';

/** Key ids the parser accepts (the server issues `lksk_` + base58). */
export const KEY_ID_PATTERN: RegExp = /^[A-Za-z0-9_.-]{1,128}$/;
/** A nonce: 16 to 64 characters of canonical unpadded base64url. */
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** A timestamp: a non-negative integer of milliseconds, no sign, no leading zeros. */
const TIMESTAMP_PATTERN = /^(?:0|[1-9][0-9]{0,15})$/;
/** One `name=value` parameter, with optional spaces or tabs around it. */
const PARAM_PATTERN = /^[ \t]*([A-Za-z]+)=([A-Za-z0-9_.-]+)[ \t]*$/;
/** Longer than any valid header (about 320 characters); refused before any other work. */
export const MAX_STAMP_HEADER_CHARS = 512;
const PARAMS = ['v', 'keyId', 'ts', 'nonce', 'sig'] as const;
type Param = (typeof PARAMS)[number];

/** The parameters of a `Latchkey-Signature` header. */
export interface ParsedStamp {
  version: 1;
  keyId: string;
  /** Milliseconds since the Unix epoch, when the client signed. */
  timestamp: number;
  nonce: string;
  /** 64 bytes, r||s. */
  signature: Uint8Array;
}

/**
 * Parses a `Latchkey-Signature` header value: exactly the parameters `v`, `keyId`, `ts`, `nonce` and
 * `sig`, each once, in any order, comma-separated (docs/stamps.md has the grammar).
 * @throws ProtocolError `SIGNATURE_MALFORMED` for anything else.
 * @example
 * ```ts
 * const { keyId, timestamp, nonce, signature } = parseStampHeader(req.headers['latchkey-signature']);
 * ```
 */
export function parseStampHeader(value: string): ParsedStamp {
  if (typeof value !== 'string' || value.length > MAX_STAMP_HEADER_CHARS) throw malformed();
  const params = new Map<Param, string>();
  for (const part of value.split(',')) {
    const match = PARAM_PATTERN.exec(part);
    const name = match?.[1] as Param | undefined;
    if (match === null || name === undefined || !PARAMS.includes(name) || params.has(name)) throw malformed();
    params.set(name, match[2]!);
  }
  const [version, keyId, ts, nonce, sig] = PARAMS.map((name) => params.get(name));
  if (version !== '1' || keyId === undefined || ts === undefined || nonce === undefined || sig === undefined) throw malformed();
  if (!KEY_ID_PATTERN.test(keyId) || !isNonce(nonce) || !TIMESTAMP_PATTERN.test(ts)) throw malformed();
  const timestamp = Number(ts);
  if (!Number.isSafeInteger(timestamp)) throw malformed();
  const signature = decodeSignature(sig);
  return { version: 1, keyId, timestamp, nonce, signature };
}

/**
 * The header value for `stamp`, parameters in the order `v, keyId, ts, nonce, sig`.
 * @throws ProtocolError `SIGNATURE_MALFORMED` when a field could not be parsed back.
 */
export function formatStampHeader(stamp: ParsedStamp): string {
  const sig = stamp.signature instanceof Uint8Array ? toBase64Url(stamp.signature) : '';
  const value = `v=${stamp.version}, keyId=${stamp.keyId}, ts=${stamp.timestamp}, nonce=${stamp.nonce}, sig=${sig}`;
  parseStampHeader(value);
  return value;
}

/** Whether `nonce` is 16..64 characters of canonical base64url. */
export function isNonce(nonce: string): boolean {
  if (typeof nonce !== 'string' || !NONCE_PATTERN.test(nonce)) return false;
  try {
    fromBase64Url(nonce);
    return true;
  } catch {
    return false;
  }
}

function decodeSignature(sig: string): Uint8Array {
  try {
    const bytes = fromBase64Url(sig);
    if (bytes.length === 64) return bytes;
  } catch {}
  throw malformed();
}

function malformed(): ProtocolError {
  return new ProtocolError('SIGNATURE_MALFORMED');
}
