import { describe, expect, it } from 'vitest';
import { toBase64Url } from './encoding.js';
import { isProtocolError } from './errors.js';
import { formatStampHeader, MAX_STAMP_HEADER_CHARS, type ParsedStamp, parseStampHeader } from './stamp-header.js';

const sig = toBase64Url(new Uint8Array(64).map((_, i) => i));
const stamp: ParsedStamp = {
  version: 1,
  keyId: 'lksk_7Hc9QdV2',
  timestamp: 1_767_225_600_000,
  nonce: 'AAECAwQFBgcICQoLDA0ODw',
  signature: new Uint8Array(64).map((_, i) => i),
};
const valid = `v=1, keyId=lksk_7Hc9QdV2, ts=1767225600000, nonce=AAECAwQFBgcICQoLDA0ODw, sig=${sig}`;

describe('Latchkey-Signature header', () => {
  it('formats in the fixed order and parses back', () => {
    expect(formatStampHeader(stamp)).toBe(valid);
    expect(parseStampHeader(valid)).toEqual(stamp);
  });

  it.each([
    ['any parameter order', `sig=${sig},ts=1767225600000,v=1,nonce=AAECAwQFBgcICQoLDA0ODw,keyId=lksk_7Hc9QdV2`],
    [
      'spaces and tabs around commas and at the ends',
      ` v=1 ,\tkeyId=lksk_7Hc9QdV2 ,ts=1767225600000,  nonce=AAECAwQFBgcICQoLDA0ODw,sig=${sig}\t`,
    ],
  ])('accepts %s', (_, value) => {
    expect(parseStampHeader(value)).toEqual(stamp);
  });

  it('accepts the boundary sizes: 1- and 128-character key ids, 16- and 64-character nonces, ts 0', () => {
    const edge = (keyId: string, ts: string, nonce: string) => `v=1, keyId=${keyId}, ts=${ts}, nonce=${nonce}, sig=${sig}`;
    expect(parseStampHeader(edge('k', '0', 'A'.repeat(16))).timestamp).toBe(0);
    expect(parseStampHeader(edge('k'.repeat(128), '9007199254740991', 'A'.repeat(64))).keyId).toHaveLength(128);
  });

  const replace = (from: string, to: string) => valid.replace(from, to);
  it.each([
    ['empty', ''],
    ['missing v', replace('v=1, ', '')],
    ['missing keyId', replace('keyId=lksk_7Hc9QdV2, ', '')],
    ['missing ts', replace('ts=1767225600000, ', '')],
    ['missing nonce', replace('nonce=AAECAwQFBgcICQoLDA0ODw, ', '')],
    ['missing sig', replace(`, sig=${sig}`, '')],
    ['duplicate v', `v=1, ${valid}`],
    ['duplicate nonce', `${valid}, nonce=AAECAwQFBgcICQoLDA0ODw`],
    ['extra parameter', `${valid}, alg=ES256`],
    ['parameter names are case-sensitive', replace('keyId=', 'keyid=')],
    ['empty element', replace(', ts', ',, ts')],
    ['trailing comma', `${valid},`],
    ['quoted value', replace('keyId=lksk_7Hc9QdV2', 'keyId="lksk_7Hc9QdV2"')],
    ['space around =', replace('v=1', 'v = 1')],
    ['version 2', replace('v=1', 'v=2')],
    ['version 01', replace('v=1', 'v=01')],
    ['key id with a slash', replace('lksk_7Hc9QdV2', 'lksk/7Hc9')],
    ['key id of 129 characters', replace('lksk_7Hc9QdV2', 'k'.repeat(129))],
    ['non-integer ts', replace('1767225600000', '1767225600000.5')],
    ['negative ts', replace('1767225600000', '-1767225600000')],
    ['ts in exponent form', replace('1767225600000', '1.7e12')],
    ['ts with a leading zero', replace('1767225600000', '01767225600000')],
    ['ts beyond 2^53', replace('1767225600000', '9007199254740993')],
    ['nonce of 15 characters', replace('AAECAwQFBgcICQoLDA0ODw', 'A'.repeat(15))],
    ['nonce of 65 characters', replace('AAECAwQFBgcICQoLDA0ODw', 'A'.repeat(65))],
    ['nonce with padding', replace('AAECAwQFBgcICQoLDA0ODw', 'AAECAwQFBgcICQoLDA0ODw==')],
    ['nonce with standard base64 characters', replace('AAECAwQFBgcICQoLDA0ODw', 'AAECAwQFBgcICQoLDA0OD+')],
    ['nonce with non-zero trailing bits', replace('AAECAwQFBgcICQoLDA0ODw', 'AAECAwQFBgcICQoLDA0ODx')],
    ['nonce of impossible length (21)', replace('AAECAwQFBgcICQoLDA0ODw', 'A'.repeat(21))],
    ['sig of 63 bytes', replace(sig, toBase64Url(new Uint8Array(63)))],
    ['sig of 65 bytes', replace(sig, toBase64Url(new Uint8Array(65)))],
    ['sig in DER form', replace(sig, toBase64Url(new Uint8Array(70).fill(0x30)))],
    ['sig with non-zero trailing bits', replace(sig, `${sig.slice(0, -1)}B`)],
    ['oversize', `${valid}${' '.repeat(MAX_STAMP_HEADER_CHARS)}`],
  ])('refuses %s with SIGNATURE_MALFORMED', (_, value) => {
    let error: unknown;
    try {
      parseStampHeader(value);
    } catch (e) {
      error = e;
    }
    expect(isProtocolError(error, 'SIGNATURE_MALFORMED')).toBe(true);
    expect((error as Error).message).toBe('The Latchkey-Signature header is malformed.');
  });

  it('refuses to format what it could not parse', () => {
    expect(() => formatStampHeader({ ...stamp, signature: new Uint8Array(32) })).toThrow(/malformed/);
    expect(() => formatStampHeader({ ...stamp, timestamp: 1.5 })).toThrow(/malformed/);
  });
});
