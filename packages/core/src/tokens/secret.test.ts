import { describe, expect, it } from 'vitest';
import { cryptoRandom } from '../runtime.js';
import { newSessionId, sessionIdTag, walletTag } from './ids.js';
import { formatToken, hashesEqual, hashSecret, newSecret, parseToken } from './secret.js';

describe('tokens', () => {
  it('round-trips and carries at least 128 bits of secret', () => {
    const id = newSessionId('default', 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', cryptoRandom);
    const secret = newSecret(cryptoRandom);
    expect(secret.length).toBeGreaterThanOrEqual(40); // 32 random bytes in base58
    const token = formatToken('session', id, secret);
    expect(token.startsWith('lks_')).toBe(true);
    expect(parseToken('session', token)).toEqual({ id, secret });
    expect(parseToken('refresh', token)).toBeNull();
    expect(parseToken('refresh', formatToken('refresh', id, secret))).toEqual({ id, secret });
  });

  it('never returns the same secret twice in 10,000 draws', () => {
    const seen = new Set(Array.from({ length: 10_000 }, () => newSecret(cryptoRandom)));
    expect(seen.size).toBe(10_000);
  });

  it.each([
    null,
    42,
    '',
    'lks_',
    'lks_abc.def',
    `lks_${'0'.repeat(32)}`,
    `lks_${'0'.repeat(32)}.`,
    `lks_${'G'.repeat(32)}.${'a'.repeat(44)}`,
    `lks_${'0'.repeat(32)}.${'0'.repeat(44)}`,
    `lks_${'0'.repeat(32)}.${'a'.repeat(44)}.x`,
    `LKS_${'0'.repeat(32)}.${'a'.repeat(44)}`,
    `lks_${'0'.repeat(32)}.${'a'.repeat(200)}`,
  ])('rejects %j', (token) => {
    expect(parseToken('session', token)).toBeNull();
  });

  it('hashes deterministically and compares hashes exactly', () => {
    const h = hashSecret('abc');
    expect(h).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(hashesEqual(h, hashSecret('abc'))).toBe(true);
    expect(hashesEqual(h, hashSecret('abd'))).toBe(false);
    expect(hashesEqual(h, h.slice(1))).toBe(false);
  });

  it('gives every session of a wallet the same tag and other wallets another', () => {
    const a = 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
    const ids = Array.from({ length: 5 }, () => newSessionId('default', a, cryptoRandom));
    expect(new Set(ids.map(sessionIdTag))).toEqual(new Set([walletTag('default', a)]));
    expect(walletTag('default', a)).not.toBe(walletTag('other', a));
    expect(new Set(ids).size).toBe(5);
  });
});
