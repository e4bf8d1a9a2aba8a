import serialize from 'canonicalize';

/**
 * RFC 8785 (JCS) canonical JSON of `value`.
 * @throws TypeError when `value` has no JSON form (undefined, a function, a symbol).
 */
export function canonicalize(value: unknown): string {
  const text = serialize(value);
  if (text === undefined) throw new TypeError('canonicalize: value has no JSON form');
  return text;
}

/** UTF-8 bytes of the RFC 8785 canonical JSON of `value`: what Latchkey signs. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}
