import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors/index.js';
import { formatSiweMessage, parseSiweMessage, verifySiweMessage } from './siwe.js';
import { verifySiwsMessage } from './siws.js';

// Published vectors, checked in with their sources: test/vectors/README.md.
const load = <T>(path: string): T =>
  JSON.parse(readFileSync(new URL(`../../../../test/vectors/${path}`, import.meta.url), 'utf8')) as T;

interface ParsingCase {
  message: string;
  fields: Record<string, unknown>;
}
interface VerificationCase {
  domain: string;
  address: string;
  statement?: string;
  uri: string;
  version: '1';
  chainId: number;
  nonce: string;
  issuedAt: string;
  expirationTime?: string;
  notBefore?: string;
  signature: string;
  time?: string;
  domainBinding?: string;
  matchNonce?: string;
}

const parsingPositive = load<Record<string, ParsingCase>>('siwe/parsing_positive.json');
const parsingNegative = load<Record<string, string>>('siwe/parsing_negative.json');
const verificationPositive = load<Record<string, VerificationCase>>('siwe/verification_positive.json');
const verificationNegative = load<Record<string, VerificationCase>>('siwe/verification_negative.json');
const eip1271 = load<Record<string, { message: string; signature: string }>>('siwe/eip1271.json');
const memo = load<{ cases: Record<string, { message: string; signature: string }> }>('siws/memoio-signed-example.json');

/**
 * "version not 1" reads `Version: 1` and is, character for character, the valid base message of
 * its group (see test/vectors/README.md); a correct parser accepts it.
 */
const MISLABELLED_NEGATIVE = 'version not 1';

function verifyCase(v: VerificationCase) {
  const { signature, time, domainBinding, matchNonce, ...fields } = v;
  const message = formatSiweMessage(fields);
  return verifySiweMessage({
    message,
    signature,
    expected: {
      domain: domainBinding ?? v.domain,
      origin: new URL(v.uri).origin,
      chainIds: [v.chainId],
      nonce: matchNonce ?? v.nonce,
      now: Date.parse(time ?? v.issuedAt),
      clockSkewMs: 0,
    },
  });
}

describe('EIP-4361 vectors (spruceid/siwe)', () => {
  it.each(Object.entries(parsingPositive))('parses %s to the published fields and formats it back', (_, v) => {
    expect(parseSiweMessage(v.message)).toEqual(v.fields);
    expect(formatSiweMessage(v.fields as unknown as Parameters<typeof formatSiweMessage>[0])).toBe(v.message);
  });

  it.each(Object.entries(parsingNegative).filter(([name]) => name !== MISLABELLED_NEGATIVE))(
    'refuses %s with SIWE_MESSAGE_INVALID',
    (_, text) => {
      expect(() => parseSiweMessage(text)).toThrow(LatchkeyError);
      try {
        parseSiweMessage(text);
      } catch (e) {
        expect(e).toMatchObject({ code: 'SIWE_MESSAGE_INVALID' });
        expect((e as Error).message).toMatch(/^line \d+: /);
      }
    },
  );

  it('accepts the mislabelled "version not 1" case, which is a valid message', () => {
    expect(parseSiweMessage(parsingNegative[MISLABELLED_NEGATIVE]!).version).toBe('1');
  });

  it.each(Object.entries(verificationPositive).filter(([name]) => name !== 'expired message'))('verifies %s', async (_, v) => {
    await expect(verifyCase(v)).resolves.toMatchObject({ account: `eip155:${v.chainId}:${v.address}`, signer: 'eoa' });
  });

  it('refuses "expired message" at its vector time, which lies before its own Issued At', async () => {
    // Upstream accepts it because it ignores Issued At; Latchkey refuses a message issued in the future.
    const v = verificationPositive['expired message']!;
    expect(Date.parse(v.time!)).toBeLessThan(Date.parse(v.issuedAt));
    await expect(verifyCase(v)).rejects.toMatchObject({ code: 'SIWE_NOT_YET_VALID' });
  });

  const negativeCodes: Record<string, string> = {
    'expired message': 'SIWE_EXPIRED',
    'domain binding': 'SIWE_DOMAIN_MISMATCH',
    'custom time': 'SIWE_EXPIRED',
    'custom nonce': 'SIWE_NONCE_INVALID',
    'malformed signature': 'SIWE_SIGNATURE_INVALID',
    'wrong signature': 'SIWE_SIGNATURE_INVALID',
    'not yet valid': 'SIWE_NOT_YET_VALID',
  };

  it('has a code for every negative verification vector', () => {
    expect(Object.keys(verificationNegative).sort()).toEqual(Object.keys(negativeCodes).sort());
  });

  it.each(Object.entries(verificationNegative))('refuses %s', async (name, v) => {
    await expect(verifyCase(v)).rejects.toMatchObject({ code: negativeCodes[name] });
  });

  it.each(Object.entries(eip1271))(
    'parses the %s smart-wallet message, and refuses its signature without a chain to ask',
    async (_, v) => {
      const fields = parseSiweMessage(v.message);
      await expect(
        verifySiweMessage({
          message: v.message,
          signature: v.signature,
          expected: {
            domain: fields.domain,
            origin: new URL(fields.uri).origin,
            chainIds: [Number(fields.chainId)],
            nonce: fields.nonce,
            now: Date.parse(fields.issuedAt),
            clockSkewMs: 0,
          },
        }),
      ).rejects.toMatchObject({ code: 'SIWE_SIGNATURE_INVALID' });
    },
  );
});

describe('Sign-In with Solana signed example (memo.io documentation)', () => {
  const [, example] = Object.entries(memo.cases)[0]!;
  const expected = {
    domain: 'memo.io',
    origin: 'https://memo.io',
    nonce: '0e1b9cb8678063e79e93f78001954d8fd8d66dbcfaf4e58dfbde1e88ade3d452',
    now: Date.parse('2024-01-17T08:10:00Z'),
    clockSkewMs: 60_000,
    clusters: ['5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp'],
  };

  it('verifies the published Ed25519 signature', () => {
    expect(verifySiwsMessage({ message: example.message, signature: example.signature, expected })).toMatchObject({
      account: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:C1LSdxAezPHMdaEhLnjGfCkXNKKwwVJA7rq63AKSRwUU',
    });
  });

  it('refuses it with one changed character, on another cluster, or for another domain', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return (e as LatchkeyError).code;
      }
      return undefined;
    };
    const tampered = example.message.replace('only used for login', 'only used for logon');
    expect(code(() => verifySiwsMessage({ message: tampered, signature: example.signature, expected }))).toBe(
      'SIWS_SIGNATURE_INVALID',
    );
    expect(
      code(() => verifySiwsMessage({ ...example, expected: { ...expected, clusters: ['EtWTRABZaYq6iMfeYKouRu166VU2xqa1'] } })),
    ).toBe('SIWS_CHAIN_NOT_ALLOWED');
    expect(code(() => verifySiwsMessage({ ...example, expected: { ...expected, domain: 'evil.io' } }))).toBe(
      'SIWS_DOMAIN_MISMATCH',
    );
    expect(code(() => verifySiwsMessage({ ...example, signature: 'AAAA', expected }))).toBe('SIWS_SIGNATURE_INVALID');
  });
});
