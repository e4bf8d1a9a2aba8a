import { toBase64Url } from '@latchkey/protocol';
import { createSessionToken, generateConnectKeyPair, randomChannelId, type SessionTokenClaims } from '@latchkey/protocol/connect';
import { ed25519 } from '@noble/curves/ed25519';
import { base58 } from '@scure/base';
import { type Address, createPublicClient, custom, decodeFunctionResult, encodeFunctionData, pad } from 'viem';
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArtifacts, startTestChain, type TestChain } from '../../test-support/evm/index.js';
import { LatchkeyError } from '../errors/index.js';
import { ManualClock } from '../runtime.js';
import type { LatchkeyOptions } from '../session/config.js';
import { Latchkey } from '../session/engine.js';
import { MemoryStore } from '../store/memory.js';
import { CONNECT_CHANNEL_NAMESPACE, CONNECT_CHANNEL_SCOPE } from './connect.js';

// Well-known local-devnet keys: public test values, never funded anywhere real.
const owner = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const stranger = privateKeyToAccount('0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6');
const CHAIN_ID = 8453;
const T0 = Date.UTC(2026, 0, 1, 12);
const DAY = 86_400_000;
const RELAY = 'https://auth.example.com';
const SOLANA_MAINNET = '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp';

let chain: TestChain;
let wallet1271: Address;

beforeAll(async () => {
  chain = await startTestChain({ chainId: CHAIN_ID });
  const factory = await chain.deploy('WalletFactory');
  const { abi } = loadArtifacts().contracts.WalletFactory;
  const deployed = await chain.execute({
    to: factory,
    data: encodeFunctionData({ abi, functionName: 'deploy', args: [owner.address, pad('0x01', { size: 32 })] }),
  });
  wallet1271 = decodeFunctionResult({ abi, functionName: 'deploy', data: deployed }) as Address;
});
afterAll(async () => {
  await chain?.close();
});

function engine(options: Partial<LatchkeyOptions> = {}) {
  const clock = new ManualClock(T0);
  const store = new MemoryStore();
  const verifier = createPublicClient({ transport: custom({ request: chain.request }, { retryCount: 0 }) });
  const latchkey = new Latchkey({
    store,
    clock,
    cleanupIntervalSeconds: 0,
    defaults: { connect: { relayUrls: [`${RELAY}/`] } },
    smartAccounts: { verifiers: { [CHAIN_ID]: verifier } },
    ...options,
  });
  return { latchkey, clock, store };
}

type Claims = Omit<SessionTokenClaims, 'v'>;

function claimsFor(address: string, overrides: Partial<Claims> = {}): Claims {
  return {
    uuid: randomChannelId(),
    relay: RELAY,
    chainType: 'eip155',
    chainId: String(CHAIN_ID),
    address,
    dappPublicKey: toBase64Url(generateConnectKeyPair().publicKey),
    walletPublicKey: toBase64Url(generateConnectKeyPair().publicKey),
    issuedAt: T0,
    expiresAt: T0 + DAY,
    ...overrides,
  };
}

/** A token for `claims` signed by `signer` (the account the claims name, unless a test says otherwise). */
async function tokenOf(claims: Claims, signer: PrivateKeyAccount = owner): Promise<{ sessionToken: string; uuid: string }> {
  return { sessionToken: await createSessionToken(claims, (message) => signer.signMessage({ message })), uuid: claims.uuid };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'NO_ERROR';
  } catch (e) {
    if (e instanceof LatchkeyError) return e.code;
    throw e;
  }
}

describe('signInWithConnect: the session bridge in the engine', () => {
  it('turns an EOA token into a fresh session capped at the token expiry, with the roles resolveSignIn grants', async () => {
    const seen: unknown[] = [];
    const { latchkey } = engine({
      resolveSignIn: (event) => {
        seen.push(event);
        return { roles: ['member'], userId: 'u-1' };
      },
    });
    const body = await tokenOf(claimsFor(owner.address, { expiresAt: T0 + 3600_000 }));
    const issued = await latchkey.signInWithConnect({ ...body, device: { userAgent: 'test' } });
    expect(issued.session).toMatchObject({
      account: `eip155:${CHAIN_ID}:${owner.address}`,
      authMethod: 'connect',
      absoluteExpiresAt: T0 + 3600_000,
      roles: ['member'],
      userId: 'u-1',
    });
    expect(seen).toEqual([{ appId: 'default', account: `eip155:${CHAIN_ID}:${owner.address}`, method: 'connect' }]);
    expect((await latchkey.validateSession(issued.token)).valid).toBe(true);
  });

  it('uses a channel once across apps: a token names a relay, not an app, so a second app refuses it too', async () => {
    const { latchkey } = engine({ apps: { other: {} } });
    const body = await tokenOf(claimsFor(owner.address));
    await latchkey.signInWithConnect({ ...body, appId: 'other' });
    expect(await code(latchkey.signInWithConnect(body))).toBe('CONNECT_CHANNEL_USED');
  });

  it('uses a channel once: a second exchange of the same token, or a failed first one, leaves it spent', async () => {
    const { latchkey, store, clock } = engine();
    const body = await tokenOf(claimsFor(owner.address));
    await latchkey.signInWithConnect(body);
    expect(await code(latchkey.signInWithConnect(body))).toBe('CONNECT_CHANNEL_USED');
    const [entry] = await store.listEntries(CONNECT_CHANNEL_SCOPE, CONNECT_CHANNEL_NAMESPACE, clock.now());
    expect(entry).toMatchObject({ key: body.uuid });
    // Remembered past the longest life any token for it can have (7 days).
    expect(entry!.expiresAt).toBeGreaterThan(T0 + 7 * DAY);

    const forged = await tokenOf(claimsFor(owner.address), stranger);
    expect(await code(latchkey.signInWithConnect(forged))).toBe('CONNECT_SESSION_TOKEN_INVALID');
    const honest = await tokenOf(claimsFor(owner.address, { uuid: forged.uuid }));
    expect(await code(latchkey.signInWithConnect(honest))).toBe('CONNECT_CHANNEL_USED');
  });

  it('exchanges one token exactly once under concurrency', async () => {
    const { latchkey } = engine();
    const body = await tokenOf(claimsFor(owner.address));
    const results = await Promise.all(Array.from({ length: 8 }, () => code(latchkey.signInWithConnect(body))));
    expect(results.filter((r) => r === 'NO_ERROR')).toHaveLength(1);
    expect(results.filter((r) => r === 'CONNECT_CHANNEL_USED')).toHaveLength(7);
    expect(await latchkey.getWalletSessions(`eip155:${CHAIN_ID}:${owner.address}`)).toHaveLength(1);
  });

  it.each([
    ['another relay', { relay: 'https://relay.evil.example' }, 'CONNECT_SESSION_TOKEN_INVALID', 'relay'],
    ['a chain the app does not accept', { chainId: '1' }, 'CONNECT_SESSION_TOKEN_INVALID', null],
    [
      'an issuedAt past the clock skew',
      { issuedAt: T0 + 61_000, expiresAt: T0 + DAY },
      'CONNECT_SESSION_TOKEN_INVALID',
      'issuedAt',
    ],
    ['an expiry reached', { issuedAt: T0 - DAY, expiresAt: T0 }, 'CONNECT_SESSION_TOKEN_EXPIRED', 'expiresAt'],
  ] as const)('refuses a token for %s, audits it, and stores no session', async (_what, overrides, expected, field) => {
    const { latchkey } = engine({ defaults: { connect: { relayUrls: [RELAY], chainIds: [CHAIN_ID] } } });
    const body = await tokenOf(claimsFor(owner.address, overrides));
    expect(await code(latchkey.signInWithConnect(body))).toBe(expected);
    const account = `eip155:${(overrides as Partial<Claims>).chainId ?? CHAIN_ID}:${owner.address}`;
    expect(await latchkey.getWalletSessions(account)).toEqual([]);
    const [audit] = await latchkey.queryAudit({ account });
    expect(audit).toMatchObject({ type: 'signin_failed', details: { method: 'connect', code: expected } });
    if (field) expect(audit!.details.field).toBe(field);
  });

  it('refuses a posted channel that is not the token channel, a wrong signer and a tampered signature', async () => {
    const { latchkey } = engine();
    const body = await tokenOf(claimsFor(owner.address));
    expect(await code(latchkey.signInWithConnect({ ...body, uuid: randomChannelId() }))).toBe('CONNECT_SESSION_TOKEN_INVALID');
    expect(await code(latchkey.signInWithConnect(await tokenOf(claimsFor(owner.address), stranger)))).toBe(
      'CONNECT_SESSION_TOKEN_INVALID',
    );
    const honest = await tokenOf(claimsFor(owner.address));
    const [prefix, claims, signature] = honest.sessionToken.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    expect(await code(latchkey.signInWithConnect({ uuid: honest.uuid, sessionToken: `${prefix}.${claims}.${flipped}` }))).toBe(
      'CONNECT_SESSION_TOKEN_INVALID',
    );
    expect(await latchkey.getWalletSessions(`eip155:${CHAIN_ID}:${owner.address}`)).toEqual([]);
  });

  it('refuses what is not a token before spending the channel, so the real token still works', async () => {
    const { latchkey } = engine();
    const body = await tokenOf(claimsFor(owner.address));
    for (const sessionToken of ['lkc1.x.y', 'hello', body.sessionToken.replace('lkc1.', 'lkc2.')]) {
      expect(await code(latchkey.signInWithConnect({ uuid: body.uuid, sessionToken }))).toBe('CONNECT_SESSION_TOKEN_INVALID');
    }
    expect(await code(latchkey.signInWithConnect({ ...body, uuid: body.uuid.toUpperCase() }))).toBe('VALIDATION_FAILED');
    expect(await code(latchkey.signInWithConnect({ ...body, extra: 1 } as never))).toBe('VALIDATION_FAILED');
    expect(await latchkey.queryAudit()).toEqual([]);
    expect(await code(latchkey.signInWithConnect(body))).toBe('NO_ERROR');
  });

  it('honours maxTokenAgeSeconds against the server clock', async () => {
    const { latchkey, clock } = engine({ defaults: { connect: { relayUrls: [RELAY], maxTokenAgeSeconds: 600 } } });
    const fresh = await tokenOf(claimsFor(owner.address));
    const stale = await tokenOf(claimsFor(owner.address));
    clock.advance(600_000);
    expect(await code(latchkey.signInWithConnect(fresh))).toBe('NO_ERROR');
    clock.advance(1);
    expect(await code(latchkey.signInWithConnect(stale))).toBe('CONNECT_SESSION_TOKEN_EXPIRED');
  });

  it('signs in an ERC-1271 wallet through the smart-account verifier, and refuses a stranger signing for it', async () => {
    const { latchkey } = engine();
    const issued = await latchkey.signInWithConnect(await tokenOf(claimsFor(wallet1271)));
    expect(issued.session.account).toBe(`eip155:${CHAIN_ID}:${wallet1271}`);
    expect(await code(latchkey.signInWithConnect(await tokenOf(claimsFor(wallet1271), stranger)))).toBe(
      'CONNECT_SESSION_TOKEN_INVALID',
    );
    const { latchkey: eoaOnly } = engine({ smartAccounts: { verifiers: {} } });
    expect(await code(eoaOnly.signInWithConnect(await tokenOf(claimsFor(wallet1271))))).toBe('CONNECT_SESSION_TOKEN_INVALID');
  });

  it('answers a smart-account verifier that hangs with SIWE_VERIFIER_UNAVAILABLE, not a bad signature', async () => {
    const hanging = { verifyMessage: () => new Promise<boolean>(() => {}) };
    const { latchkey } = engine({ smartAccounts: { verifiers: { [CHAIN_ID]: hanging }, timeoutMs: 50 } });
    expect(await code(latchkey.signInWithConnect(await tokenOf(claimsFor(wallet1271))))).toBe('SIWE_VERIFIER_UNAVAILABLE');
  });

  it('releases the channel when the verifier could not answer, so the same token works once the chain is back', async () => {
    const onChain = createPublicClient({ transport: custom({ request: chain.request }, { retryCount: 0 }) });
    let isChainUp = false;
    const flaky = {
      verifyMessage: (args: Parameters<typeof onChain.verifyMessage>[0]) =>
        isChainUp ? onChain.verifyMessage(args) : Promise.reject(new Error('connect ECONNREFUSED')),
    };
    const { latchkey, store, clock } = engine({ smartAccounts: { verifiers: { [CHAIN_ID]: flaky } } });
    const body = await tokenOf(claimsFor(wallet1271));
    const failure = await latchkey.signInWithConnect(body).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(LatchkeyError);
    expect(failure).toMatchObject({ code: 'SIWE_VERIFIER_UNAVAILABLE', status: 503 });
    expect(await store.listEntries(CONNECT_CHANNEL_SCOPE, CONNECT_CHANNEL_NAMESPACE, clock.now())).toEqual([]);
    isChainUp = true;
    const issued = await latchkey.signInWithConnect(body);
    expect(issued.session.account).toBe(`eip155:${CHAIN_ID}:${wallet1271}`);
    // Spent now: exchanged once.
    expect(await code(latchkey.signInWithConnect(body))).toBe('CONNECT_CHANNEL_USED');
    // A bad signature the chain answered for still spends its channel.
    const forged = await tokenOf(claimsFor(wallet1271), stranger);
    expect(await code(latchkey.signInWithConnect(forged))).toBe('CONNECT_SESSION_TOKEN_INVALID');
    const honest = await tokenOf(claimsFor(wallet1271, { uuid: forged.uuid }));
    expect(await code(latchkey.signInWithConnect(honest))).toBe('CONNECT_CHANNEL_USED');
  });

  it('signs a Solana wallet in with its Ed25519 key, within the clusters the app accepts', async () => {
    const { latchkey } = engine({ defaults: { connect: { relayUrls: [RELAY], solanaClusters: ['mainnet'] } } });
    const seed = ed25519.utils.randomPrivateKey();
    const address = base58.encode(ed25519.getPublicKey(seed));
    const sign = async (message: string) => ed25519.sign(new TextEncoder().encode(message), seed);
    const claims = claimsFor(address, { chainType: 'solana', chainId: SOLANA_MAINNET });
    const issued = await latchkey.signInWithConnect({ sessionToken: await createSessionToken(claims, sign), uuid: claims.uuid });
    expect(issued.session.account).toBe(`solana:${SOLANA_MAINNET}:${address}`);
    const devnet = claimsFor(address, { chainType: 'solana', chainId: 'EtWTRABZaYq6iMfeYKouRu166VU2xqa1' });
    expect(
      await code(latchkey.signInWithConnect({ sessionToken: await createSessionToken(devnet, sign), uuid: devnet.uuid })),
    ).toBe('CONNECT_SESSION_TOKEN_INVALID');
  });

  it('is off unless the app names its relay URLs, and refuses relay URLs that cannot be one at start', async () => {
    const { latchkey } = engine({ defaults: {} });
    expect(await code(latchkey.signInWithConnect(await tokenOf(claimsFor(owner.address))))).toBe('SIGNIN_NOT_CONFIGURED');
    for (const relayUrls of [[], ['http://relay.example.com'], ['ftp://x'], ['https://a.example/?q=1'.repeat(40)]]) {
      expect(() => engine({ defaults: { connect: { relayUrls } } })).toThrow(LatchkeyError);
    }
    expect(engine().latchkey.settings().connect?.relayUrls).toEqual([RELAY]);
  });
});
