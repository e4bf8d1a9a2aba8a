import { base64urlnopad, hex } from '@scure/base';

/**
 * Fails with a message that names the parameter, what was expected and what came.
 * Wrong arguments are programming errors (TypeError); wrong wire input is a ProtocolError.
 */
export function assertBytes(name: string, value: unknown, ...lengths: number[]): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name}: expected Uint8Array, got ${typeof value}`);
  if (lengths.length > 0 && !lengths.includes(value.length)) {
    throw new TypeError(`${name}: expected ${lengths.join(' or ')} bytes, got ${value.length}`);
  }
}

/** Lowercase hex of `bytes`, no `0x` prefix. */
export function toHex(bytes: Uint8Array): string {
  assertBytes('bytes', bytes);
  return hex.encode(bytes);
}

/**
 * Bytes of a hex string (either case, even length, no `0x` prefix).
 * @throws TypeError when `value` is not hex.
 */
export function fromHex(value: string): Uint8Array {
  if (typeof value !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(value)) throw new TypeError('fromHex: expected hex');
  return hex.decode(value.toLowerCase());
}

/** base64url of `bytes` without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  assertBytes('bytes', bytes);
  return base64urlnopad.encode(bytes);
}

/**
 * Bytes of an unpadded base64url string. Strict: padding, other alphabets and non-zero trailing bits
 * are refused, so every byte string has exactly one accepted encoding.
 * @throws TypeError when `value` is not canonical base64url.
 */
export function fromBase64Url(value: string): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(value)) throw new TypeError('fromBase64Url: expected base64url');
  try {
    return base64urlnopad.decode(value);
  } catch {
    throw new TypeError('fromBase64Url: expected base64url');
  }
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** `parts` joined into one array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
