import { describe, expect, it } from 'vitest';
import { fromBase64Url, fromHex, toBase64Url, toHex } from './encoding.js';

describe('hex and base64url', () => {
  it('round-trips every byte value (RFC 4648 §10 test strings for base64url)', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    expect(fromHex(toHex(all))).toEqual(all);
    expect(fromBase64Url(toBase64Url(all))).toEqual(all);
    const foobar = ['', 'Zg', 'Zm8', 'Zm9v', 'Zm9vYg', 'Zm9vYmE', 'Zm9vYmFy'];
    for (const [n, encoded] of foobar.entries()) {
      expect(toBase64Url(new TextEncoder().encode('foobar'.slice(0, n)))).toBe(encoded);
    }
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
  });

  it('writes lowercase hex and reads either case', () => {
    expect(toHex(new Uint8Array([0xab, 0x01]))).toBe('ab01');
    expect(fromHex('AB01')).toEqual(new Uint8Array([0xab, 0x01]));
  });

  it.each(['0', '0x00', 'zz', ' 00'])('refuses hex %j', (value) => {
    expect(() => fromHex(value)).toThrow(TypeError);
  });

  it.each(['Zg==', 'Zh', 'Z', '+/8', 'Zm9v\n'])('refuses base64url %j (padding, trailing bits, length, alphabet)', (value) => {
    expect(() => fromBase64Url(value)).toThrow(TypeError);
  });
});
