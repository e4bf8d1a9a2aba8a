import { privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage, parseSiweMessage as viemParse } from 'viem/siwe';
import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors/index.js';
import { formatSiweMessage, parseSiweMessage, type SiweExpectations, verifySiweMessage } from './siwe.js';

const alice = privateKeyToAccount('0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318');
const mallory = privateKeyToAccount('0x8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f');
const NOW = Date.UTC(2026, 0, 1, 12);
const expected: SiweExpectations = {
  domain: 'app.example.com',
  origin: 'https://app.example.com',
  chainIds: [1, 8453],
  nonce: 'nonce12345678',
  now: NOW,
  clockSkewMs: 60_000,
};

function message(overrides: Partial<Parameters<typeof createSiweMessage>[0]> = {}): string {
  return createSiweMessage({
    address: alice.address,
    chainId: 1,
    domain: 'app.example.com',
    nonce: 'nonce12345678',
    uri: 'https://app.example.com/login',
    version: '1',
    issuedAt: new Date(NOW - 1000),
    statement: 'Sign in to Example.',
    ...overrides,
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LatchkeyError) return e.code;
    throw e;
  }
  return 'NO_ERROR';
}

describe('Sign-In with Ethereum', () => {
  it('verifies a message created and signed with viem', async () => {
    const text = message({ expirationTime: new Date(NOW + 600_000) });
    const verified = await verifySiweMessage({ message: text, signature: await alice.signMessage({ message: text }), expected });
    expect(verified).toMatchObject({ account: `eip155:1:${alice.address}`, signer: 'eoa', expiresAt: NOW + 600_000 });
  });

  it('formats messages that viem parses to the same fields', () => {
    const fields = {
      scheme: 'https',
      domain: 'app.example.com',
      address: alice.address.toLowerCase(),
      statement: 'Sign in to Example.',
      uri: 'https://app.example.com/login',
      chainId: 8453,
      nonce: 'abcdefgh12345',
      issuedAt: '2026-01-01T12:00:00.000Z',
      expirationTime: '2026-01-01T12:10:00.000Z',
      notBefore: '2026-01-01T11:59:00.000Z',
      requestId: 'req-1',
      resources: ['https://app.example.com/terms', 'ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq'],
    };
    const text = formatSiweMessage(fields);
    const theirs = viemParse(text);
    expect(theirs).toMatchObject({
      scheme: 'https',
      domain: 'app.example.com',
      address: alice.address,
      statement: 'Sign in to Example.',
      uri: fields.uri,
      chainId: 8453,
      nonce: fields.nonce,
      requestId: 'req-1',
      resources: fields.resources,
    });
    expect(theirs.issuedAt?.toISOString()).toBe(fields.issuedAt);
    expect(parseSiweMessage(text)).toEqual({ ...fields, address: alice.address, chainId: '8453', version: '1' });
    expect(viemParse(formatSiweMessage({ ...fields, statement: undefined }))).not.toHaveProperty('statement');
  });

  it('parses viem messages without a statement', () => {
    const text = message({ statement: undefined });
    expect(parseSiweMessage(text)).not.toHaveProperty('statement');
  });

  it.each([
    ['SIWE_DOMAIN_MISMATCH', { domain: 'evil.example.com' }],
    ['SIWE_URI_MISMATCH', { uri: 'https://evil.example.com/login' }],
    ['SIWE_CHAIN_NOT_ALLOWED', { chainId: 137 }],
    ['SIWE_NONCE_INVALID', { nonce: 'othernonce123' }],
    ['SIWE_EXPIRED', { expirationTime: new Date(NOW - 60_000) }],
    ['SIWE_NOT_YET_VALID', { notBefore: new Date(NOW + 61_000) }],
    ['SIWE_NOT_YET_VALID', { issuedAt: new Date(NOW + 61_000) }],
  ])('answers %s', async (expectedCode, overrides) => {
    const text = message(overrides);
    expect(
      await code(verifySiweMessage({ message: text, signature: await alice.signMessage({ message: text }), expected })),
    ).toBe(expectedCode);
  });

  it('checks time bounds with the clock skew, expired AT the expiration time', async () => {
    const text = message({ expirationTime: new Date(NOW - 60_000 + 1) });
    const signature = await alice.signMessage({ message: text });
    await expect(verifySiweMessage({ message: text, signature, expected })).resolves.toBeTruthy();
    expect(await code(verifySiweMessage({ message: text, signature, expected: { ...expected, now: NOW + 1 } }))).toBe(
      'SIWE_EXPIRED',
    );
    const early = message({ notBefore: new Date(NOW + 60_000) });
    await expect(
      verifySiweMessage({ message: early, signature: await alice.signMessage({ message: early }), expected }),
    ).resolves.toBeTruthy();
  });

  it('refuses a signature by another key, a tampered message and garbage, all with one message', async () => {
    const text = message();
    const bad = [
      verifySiweMessage({ message: text, signature: await mallory.signMessage({ message: text }), expected }),
      verifySiweMessage({
        message: text.replace('Sign in to Example.', 'Sign in to Example!'),
        signature: await alice.signMessage({ message: text }),
        expected,
      }),
      verifySiweMessage({ message: text, signature: '0x1234', expected }),
      verifySiweMessage({ message: text, signature: `0x${'00'.repeat(65)}`, expected }),
      verifySiweMessage({ message: text, signature: 'not hex', expected }),
    ];
    for (const p of bad) {
      const error = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LatchkeyError);
      expect(error).toMatchObject({ code: 'SIWE_SIGNATURE_INVALID', message: 'Signature is invalid.' });
    }
  });

  it('names the line of a malformed message', () => {
    const text = message().replace('Version: 1', 'Version: 2');
    expect(() => parseSiweMessage(text)).toThrow(/^line 7: Version must be 1$/);
    expect(() => parseSiweMessage(`${message()}\n`)).toThrow(LatchkeyError);
    expect(() => parseSiweMessage(42 as unknown as string)).toThrow(LatchkeyError);
  });
});
