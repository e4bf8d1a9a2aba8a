import { ed25519 } from '@noble/curves/ed25519';
import { base58 } from '@scure/base';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../encoding.js';
import { ConnectError } from './errors.js';
import { generateConnectKeyPair } from './keys.js';
import { createSessionToken, decodeSessionToken, type SessionTokenClaims, sessionTokenMessage } from './token.js';
import { randomChannelId } from './uri.js';
import { parseConnectAuthRequest, verifyConnectSessionToken, verifySessionToken } from './verify.js';

const NOW = 1_767_225_000_000;
const relay = 'https://auth.example.com';
const account = privateKeyToAccount(generatePrivateKey());
const solSeed = ed25519.utils.randomPrivateKey();
const solAddress = base58.encode(ed25519.getPublicKey(solSeed));
const dappKey = generateConnectKeyPair().publicKey;
const walletKey = generateConnectKeyPair().publicKey;

function claims(overrides: Partial<SessionTokenClaims> = {}): Omit<SessionTokenClaims, 'v'> {
  return {
    uuid: randomChannelId(),
    relay,
    chainType: 'eip155',
    chainId: '1',
    address: account.address,
    dappPublicKey: toBase64Url(dappKey),
    walletPublicKey: toBase64Url(walletKey),
    issuedAt: NOW,
    expiresAt: NOW + 86_400_000,
    ...overrides,
  };
}
const evm = (c: Omit<SessionTokenClaims, 'v'>) => createSessionToken(c, (message) => account.signMessage({ message }));
const sol = (c: Omit<SessionTokenClaims, 'v'>) =>
  createSessionToken(c, async (message) => ed25519.sign(new TextEncoder().encode(message), solSeed));

async function refusal(p: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConnectError) return { code: e.code, field: e.field };
    throw e;
  }
  throw new Error('expected a ConnectError');
}

describe('session token', () => {
  it('is signed with EIP-191 over the documented text, and verifies', async () => {
    const c = claims();
    const token = await evm(c);
    const decoded = decodeSessionToken(token);
    expect(decoded.claims).toEqual({ v: 1, ...c });
    expect(decoded.message).toContain(`Account: eip155:1:${account.address}\nChannel: ${c.uuid}\nRelay: ${relay}\n`);
    expect(decoded.message).toBe(sessionTokenMessage({ v: 1, ...c }));
    const expected = {
      uuid: c.uuid,
      relay,
      dappPublicKey: dappKey,
      walletPublicKey: walletKey,
      address: account.address.toLowerCase(),
    };
    expect(await verifySessionToken(token, { now: NOW + 1, expected })).toEqual({ v: 1, ...c });
  });

  it('is signed with Ed25519 for Solana, and verifies', async () => {
    const c = claims({ chainType: 'solana', chainId: '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp', address: solAddress });
    const token = await sol(c);
    expect(decodeSessionToken(token).signature.length).toBe(64);
    expect((await verifySessionToken(token, { now: NOW, expected: { address: solAddress, chainType: 'solana' } })).address).toBe(
      solAddress,
    );
  });

  it('names the binding that does not match', async () => {
    const c = claims();
    const token = await evm(c);
    const v = (expected: Parameters<typeof verifySessionToken>[1]['expected']) =>
      refusal(verifySessionToken(token, { now: NOW, expected }));
    expect(await v({ walletPublicKey: generateConnectKeyPair().publicKey })).toEqual({
      code: 'CONNECT_KEY_MISMATCH',
      field: 'walletPublicKey',
    });
    expect(await v({ uuid: randomChannelId() })).toEqual({ code: 'CONNECT_SESSION_TOKEN_INVALID', field: 'uuid' });
    expect(await v({ relay: 'https://other.example.com' })).toEqual({ code: 'CONNECT_SESSION_TOKEN_INVALID', field: 'relay' });
    expect(await v({ dappPublicKey: walletKey })).toEqual({ code: 'CONNECT_SESSION_TOKEN_INVALID', field: 'dappPublicKey' });
    expect(await v({ address: privateKeyToAccount(generatePrivateKey()).address })).toEqual({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
      field: 'address',
    });
    expect(await v({ chainType: 'solana' })).toEqual({ code: 'CONNECT_SESSION_TOKEN_INVALID', field: 'chainType' });
  });

  it('expires exactly at expiresAt and refuses an issuedAt beyond the skew', async () => {
    const token = await evm(claims({ expiresAt: NOW + 1000 }));
    expect((await verifySessionToken(token, { now: NOW + 999 })).expiresAt).toBe(NOW + 1000);
    expect(await refusal(verifySessionToken(token, { now: NOW + 1000 }))).toEqual({
      code: 'CONNECT_SESSION_TOKEN_EXPIRED',
      field: 'expiresAt',
    });
    expect((await verifySessionToken(token, { now: NOW - 60_000 })).issuedAt).toBe(NOW);
    expect(await refusal(verifySessionToken(token, { now: NOW - 60_001 }))).toEqual({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
      field: 'issuedAt',
    });
  });

  it('refuses a signature by another key, and a tampered claim', async () => {
    const other = privateKeyToAccount(generatePrivateKey());
    const c = claims();
    const forged = await createSessionToken(c, (message) => other.signMessage({ message }));
    expect(await refusal(verifySessionToken(forged, { now: NOW }))).toEqual({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
      field: 'signature',
    });
    const [prefix, , signature] = (await evm(c)).split('.');
    const json = JSON.stringify({ v: 1, ...c, expiresAt: c.expiresAt + 1 }, Object.keys({ v: 1, ...c }).sort());
    const tampered = `${prefix}.${toBase64Url(new TextEncoder().encode(json))}.${signature}`;
    expect(await refusal(verifySessionToken(tampered, { now: NOW }))).toEqual({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
      field: 'signature',
    });
  });

  it('refuses tokens that are not in their one canonical spelling', async () => {
    const c = claims();
    const [prefix, , signature] = (await evm(c)).split('.');
    const spaced = toBase64Url(new TextEncoder().encode(JSON.stringify({ v: 1, ...c }, null, 1)));
    expect(() => decodeSessionToken(`${prefix}.${spaced}.${signature}`)).toThrow(ConnectError);
    const extra = toBase64Url(new TextEncoder().encode(JSON.stringify({ ...c, v: 1, x: 1 })));
    expect(() => decodeSessionToken(`${prefix}.${extra}.${signature}`)).toThrow(ConnectError);
    expect(() => decodeSessionToken(`lkc2.${spaced}.${signature}`)).toThrow(ConnectError);
    expect(() => decodeSessionToken('')).toThrow(ConnectError);
  });

  it('refuses to create malformed claims (a caller error)', async () => {
    await expect(evm(claims({ address: account.address.toLowerCase() }))).rejects.toThrow(TypeError);
    await expect(evm(claims({ expiresAt: NOW + 7 * 86_400_000 + 1 }))).rejects.toThrow('at most 7 days');
    await expect(evm(claims({ relay: 'https://auth.example.com/' }))).rejects.toThrow('relay');
    await expect(evm(claims({ chainId: '0x1' }))).rejects.toThrow('chainId');
  });

  it('lets a server plug in its own signature check (smart accounts)', async () => {
    const token = await evm(claims());
    const seen: string[] = [];
    const verifySignature = (t: { message: string }) => {
      seen.push(t.message);
      return false;
    };
    expect(await refusal(verifySessionToken(token, { now: NOW, verifySignature }))).toEqual({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
      field: 'signature',
    });
    expect(seen).toHaveLength(1);
  });
});

describe('POST /v1/auth/connect helpers', () => {
  it('parses the body strictly, naming the field', () => {
    const uuid = randomChannelId();
    expect(parseConnectAuthRequest({ sessionToken: 'lkc1.a.b', uuid })).toEqual({ sessionToken: 'lkc1.a.b', uuid });
    for (const [body, field] of [
      [null, 'body'],
      [{ sessionToken: 'x', uuid, extra: 1 }, 'extra'],
      [{ uuid }, 'sessionToken'],
      [{ sessionToken: 'x', uuid: 'nope' }, 'uuid'],
    ] as const) {
      expect(() => parseConnectAuthRequest(body)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', field }));
    }
  });

  it('verifies channel, relay, lifetime and age, and returns the CAIP-10 account', async () => {
    const c = claims();
    const sessionToken = await evm(c);
    const verified = await verifyConnectSessionToken(
      { sessionToken, uuid: c.uuid },
      { relay: ['https://a.example', relay], now: NOW },
    );
    expect(verified).toMatchObject({ account: `eip155:1:${account.address}`, address: account.address, uuid: c.uuid });
    expect(await refusal(verifyConnectSessionToken({ sessionToken, uuid: randomChannelId() }, { relay, now: NOW }))).toEqual({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
      field: 'uuid',
    });
    expect(
      await refusal(verifyConnectSessionToken({ sessionToken, uuid: c.uuid }, { relay: 'https://b.example', now: NOW })),
    ).toEqual({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
      field: 'relay',
    });
    expect(
      await refusal(verifyConnectSessionToken({ sessionToken, uuid: c.uuid }, { relay, now: NOW + 600_001, maxAgeMs: 600_000 })),
    ).toEqual({ code: 'CONNECT_SESSION_TOKEN_EXPIRED', field: 'issuedAt' });
  });
});
