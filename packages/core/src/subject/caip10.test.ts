import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors/index.js';
import { parseAccount, toChecksumAddress } from './caip10.js';

describe('CAIP-10 accounts', () => {
  // EIP-55's own test addresses (https://eips.ethereum.org/EIPS/eip-55).
  const eip55 = [
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
    '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
    '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
  ];

  it.each(eip55)('checksums %s as EIP-55 does', (address) => {
    expect(toChecksumAddress(address.toLowerCase())).toBe(address);
    expect(parseAccount(`eip155:1:${address.toLowerCase()}`).account).toBe(`eip155:1:${address}`);
    expect(parseAccount(`eip155:1:0x${address.slice(2).toUpperCase()}`).address).toBe(address);
  });

  it('refuses a mixed-case address with a wrong checksum', () => {
    const wrong = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD';
    expect(() => parseAccount(`eip155:1:${wrong}`)).toThrow(LatchkeyError);
    try {
      parseAccount(`eip155:1:${wrong}`);
    } catch (e) {
      expect(e).toMatchObject({ code: 'VALIDATION_ACCOUNT_INVALID', field: 'account' });
    }
  });

  it('parses Solana accounts and checks the address is 32 bytes of base58', () => {
    const sol = 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy';
    expect(parseAccount(sol)).toEqual({
      account: sol,
      chainType: 'solana',
      reference: '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
      address: 'DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy',
    });
    expect(() => parseAccount(`solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:${'1'.repeat(40)}`)).toThrow(/32 bytes/);
  });

  it.each([
    '0xd8da6bf26964af9d7eed9e03e53415d37aa96045',
    'eip155:0:0xd8da6bf26964af9d7eed9e03e53415d37aa96045',
    'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa9604',
    'eip155:1:d8da6bf26964af9d7eed9e03e53415d37aa96045',
    'cosmos:cosmoshub-4:cosmos1abc',
    'solana:mainnet:DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy',
    '',
  ])('refuses %j', (input) => {
    expect(() => parseAccount(input)).toThrow(LatchkeyError);
  });
});
