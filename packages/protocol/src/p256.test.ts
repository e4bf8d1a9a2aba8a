import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './encoding.js';
import { isProtocolError } from './errors.js';
import { compressP256PublicKey, generateP256KeyPair, p256PublicKey, parseP256PublicKey } from './p256.js';

// RFC 6979 A.2.5: the P-256 key pair.
const x = '60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6';
const y = '7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299';
const privateKey = fromHex('c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');

describe('P-256 keys', () => {
  it('derives the published public key (RFC 6979 A.2.5) and compresses it', () => {
    expect(toHex(p256PublicKey(privateKey))).toBe(`04${x}${y}`);
    expect(toHex(compressP256PublicKey(p256PublicKey(privateKey)))).toBe(`03${x}`);
  });

  it('generates 32-byte scalars and 65-byte uncompressed public keys that match', () => {
    const pair = generateP256KeyPair();
    expect(pair.privateKey).toHaveLength(32);
    expect(pair.publicKey).toEqual(p256PublicKey(pair.privateKey));
  });

  it('parses hex or bytes, compressed or not, to 65 bytes', () => {
    const full = `04${x}${y}`;
    expect(toHex(parseP256PublicKey(full))).toBe(full);
    expect(toHex(parseP256PublicKey(full.toUpperCase()))).toBe(full);
    expect(toHex(parseP256PublicKey(`03${x}`))).toBe(full);
    expect(toHex(parseP256PublicKey(fromHex(`03${x}`)))).toBe(full);
  });

  it.each([
    ['empty', ''],
    ['0x prefix', `0x04${x}${y}`],
    ['odd hex', `04${x}${y}0`],
    ['64 bytes without prefix', `${x}${y}`],
    ['off the curve', `04${x}${y.replace(/.$/, '8')}`],
    ['wrong prefix', `05${x}${y}`],
    ['point at infinity', '00'],
    ['x >= p', `02${'ff'.repeat(32)}`],
    ['bytes of the wrong length', new Uint8Array(64)],
    ['not a key', 42 as unknown as string],
  ])('refuses %s with SESSION_KEY_TARGET_INVALID', (_, input) => {
    let error: unknown;
    try {
      parseP256PublicKey(input);
    } catch (e) {
      error = e;
    }
    expect(isProtocolError(error, 'SESSION_KEY_TARGET_INVALID')).toBe(true);
  });
});
