import { generateKeyPairSync, sign } from 'node:crypto';
import { base58 } from '@scure/base';
import { type Address, createPublicClient, custom, decodeFunctionResult, encodeFunctionData, type Hex, pad } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArtifacts, startTestChain, type TestChain, wrap6492 } from '../../test-support/evm/index.js';
import { LatchkeyError } from '../errors/index.js';
import { ManualClock } from '../runtime.js';
import type { LatchkeyOptions } from '../session/config.js';
import { Latchkey } from '../session/engine.js';
import { MemoryStore } from '../store/memory.js';
import { formatSiwsMessage } from './siws.js';

// Well-known local-devnet keys: public test values, never funded anywhere real.
const eoa = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const ownerB = privateKeyToAccount('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a');
const stranger = privateKeyToAccount('0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6');
const CHAIN_ID = 8453;
const T0 = Date.UTC(2026, 0, 1, 12);
const SIGN_IN = {
  domain: 'app.example.com',
  origin: 'https://app.example.com',
  chainIds: [CHAIN_ID],
  solanaClusters: ['devnet'],
};

let chain: TestChain;
let factory: Address;
let wallet1271: Address;
let wallet6492: Address;
const factoryAbi = loadArtifacts().contracts.WalletFactory.abi;
const salt = pad('0x01', { size: 32 });

beforeAll(async () => {
  chain = await startTestChain({ chainId: CHAIN_ID });
  factory = await chain.deploy('WalletFactory');
  const deployed = await chain.execute({
    to: factory,
    data: encodeFunctionData({ abi: factoryAbi, functionName: 'deploy', args: [eoa.address, salt] }),
  });
  wallet1271 = decodeFunctionResult({ abi: factoryAbi, functionName: 'deploy', data: deployed }) as Address;
  const predicted = (await chain.request({
    method: 'eth_call',
    params: [
      { to: factory, data: encodeFunctionData({ abi: factoryAbi, functionName: 'predict', args: [ownerB.address, salt] }) },
      'latest',
    ],
  })) as Hex;
  wallet6492 = decodeFunctionResult({ abi: factoryAbi, functionName: 'predict', data: predicted }) as Address;
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
    defaults: { signIn: SIGN_IN },
    smartAccounts: { verifiers: { [CHAIN_ID]: verifier } },
    ...options,
  });
  return { latchkey, clock, store };
}

function siwe(address: Address, nonce: string, overrides: Partial<Parameters<typeof createSiweMessage>[0]> = {}): string {
  return createSiweMessage({
    address,
    chainId: CHAIN_ID,
    domain: 'app.example.com',
    uri: 'https://app.example.com/login',
    version: '1',
    nonce,
    issuedAt: new Date(T0),
    ...overrides,
  });
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

describe('Sign-In with Ethereum through the engine', () => {
  it('signs an EOA in with a fresh session, capped at the message expiry', async () => {
    const { latchkey } = engine();
    const { nonce, expiresAt } = await latchkey.issueNonce();
    expect(nonce).toMatch(/^[A-Za-z0-9]{20,}$/);
    expect(expiresAt).toBe(T0 + 300_000);
    const message = siwe(eoa.address, nonce, { expirationTime: new Date(T0 + 3600_000) });
    const issued = await latchkey.signInWithEthereum({
      message,
      signature: await eoa.signMessage({ message }),
      device: { userAgent: 'test' },
    });
    expect(issued.session).toMatchObject({
      account: `eip155:${CHAIN_ID}:${eoa.address}`,
      authMethod: 'siwe',
      absoluteExpiresAt: T0 + 3600_000,
    });
    expect((await latchkey.validateSession(issued.token)).valid).toBe(true);
    const again = await latchkey.issueNonce();
    const second = siwe(eoa.address, again.nonce);
    const other = await latchkey.signInWithEthereum({ message: second, signature: await eoa.signMessage({ message: second }) });
    expect(other.session.id).not.toBe(issued.session.id);
  });

  it('signs in an ERC-1271 wallet deployed on the chain, and refuses a stranger signing for it', async () => {
    const { latchkey } = engine();
    const message = siwe(wallet1271, (await latchkey.issueNonce()).nonce);
    const issued = await latchkey.signInWithEthereum({ message, signature: await eoa.signMessage({ message }) });
    expect(issued.session.account).toBe(`eip155:${CHAIN_ID}:${wallet1271}`);
    const forged = siwe(wallet1271, (await latchkey.issueNonce()).nonce);
    expect(
      await code(latchkey.signInWithEthereum({ message: forged, signature: await stranger.signMessage({ message: forged }) })),
    ).toBe('SIWE_SIGNATURE_INVALID');
  });

  it('signs in a counterfactual ERC-6492 wallet that is not deployed, and refuses a wrong key', async () => {
    const { latchkey } = engine();
    expect(await chain.request({ method: 'eth_getCode', params: [wallet6492, 'latest'] })).toBe('0x');
    const factoryCalldata = encodeFunctionData({ abi: factoryAbi, functionName: 'deploy', args: [ownerB.address, salt] });
    const message = siwe(wallet6492, (await latchkey.issueNonce()).nonce);
    const signature = wrap6492({ factory, factoryCalldata, signature: await ownerB.signMessage({ message }) });
    const issued = await latchkey.signInWithEthereum({ message, signature });
    expect(issued.session.account).toBe(`eip155:${CHAIN_ID}:${wallet6492}`);
    const forged = siwe(wallet6492, (await latchkey.issueNonce()).nonce);
    const bad = wrap6492({ factory, factoryCalldata, signature: await stranger.signMessage({ message: forged }) });
    expect(await code(latchkey.signInWithEthereum({ message: forged, signature: bad }))).toBe('SIWE_SIGNATURE_INVALID');
  });

  it('does not ask the chain at all without a verifier for it', async () => {
    const { latchkey } = engine({ smartAccounts: { verifiers: {} } });
    const message = siwe(wallet1271, (await latchkey.issueNonce()).nonce);
    expect(await code(latchkey.signInWithEthereum({ message, signature: await eoa.signMessage({ message }) }))).toBe(
      'SIWE_SIGNATURE_INVALID',
    );
  });

  it('answers a verifier that hangs with SIWE_VERIFIER_UNAVAILABLE after the timeout', async () => {
    const hanging = { verifyMessage: () => new Promise<boolean>(() => {}) };
    const { latchkey } = engine({ smartAccounts: { verifiers: { [CHAIN_ID]: hanging }, timeoutMs: 50 } });
    const message = siwe(wallet1271, (await latchkey.issueNonce()).nonce);
    expect(await code(latchkey.signInWithEthereum({ message, signature: await eoa.signMessage({ message }) }))).toBe(
      'SIWE_VERIFIER_UNAVAILABLE',
    );
  });

  it('consumes the nonce before the signature check: a failed attempt spends it', async () => {
    const { latchkey } = engine();
    const message = siwe(eoa.address, (await latchkey.issueNonce()).nonce);
    expect(await code(latchkey.signInWithEthereum({ message, signature: await stranger.signMessage({ message }) }))).toBe(
      'SIWE_SIGNATURE_INVALID',
    );
    expect(await code(latchkey.signInWithEthereum({ message, signature: await eoa.signMessage({ message }) }))).toBe(
      'SIWE_NONCE_INVALID',
    );
  });

  it('refuses unknown, reused, expired and other-app nonces', async () => {
    const { latchkey, clock } = engine({ apps: { shop: { signIn: SIGN_IN } } });
    const sign = async (nonce: string, appId?: string) => {
      const message = siwe(eoa.address, nonce);
      return code(
        latchkey.signInWithEthereum({ message, signature: await eoa.signMessage({ message }), ...(appId ? { appId } : {}) }),
      );
    };
    expect(await sign('neverIssued1234')).toBe('SIWE_NONCE_INVALID');
    const used = (await latchkey.issueNonce()).nonce;
    expect(await sign(used)).toBe('NO_ERROR');
    expect(await sign(used)).toBe('SIWE_NONCE_INVALID');
    const shop = (await latchkey.issueNonce({ appId: 'shop' })).nonce;
    expect(await sign(shop)).toBe('SIWE_NONCE_INVALID');
    const late = (await latchkey.issueNonce()).nonce;
    const edge = (await latchkey.issueNonce()).nonce;
    clock.advance(300_000 - 1);
    expect(await sign(edge)).toBe('NO_ERROR');
    clock.advance(1);
    expect(await sign(late)).toBe('SIWE_NONCE_INVALID');
  });

  it('lets exactly one of 50 concurrent sign-ins with one nonce through', async () => {
    const { latchkey } = engine();
    const message = siwe(eoa.address, (await latchkey.issueNonce()).nonce);
    const signature = await eoa.signMessage({ message });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => latchkey.signInWithEthereum({ message, signature })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r.reason as LatchkeyError).code)).toEqual(
      Array(49).fill('SIWE_NONCE_INVALID'),
    );
    expect(await latchkey.getWalletSessions(`eip155:${CHAIN_ID}:${eoa.address}`)).toHaveLength(1);
  });

  it('checks the signed fields against the app, not the request, and audits each failure', async () => {
    const { latchkey } = engine();
    const cases: [string, Partial<Parameters<typeof createSiweMessage>[0]>][] = [
      ['SIWE_DOMAIN_MISMATCH', { domain: 'evil.example.com' }],
      ['SIWE_URI_MISMATCH', { uri: 'https://evil.example.com/login' }],
      ['SIWE_CHAIN_NOT_ALLOWED', { chainId: 1 }],
      ['SIWE_EXPIRED', { expirationTime: new Date(T0 - 61_000) }],
      ['SIWE_NOT_YET_VALID', { notBefore: new Date(T0 + 61_000) }],
    ];
    for (const [expected, overrides] of cases) {
      const message = siwe(eoa.address, (await latchkey.issueNonce()).nonce, overrides);
      expect(await code(latchkey.signInWithEthereum({ message, signature: await eoa.signMessage({ message }) }))).toBe(expected);
    }
    // Refusals that cost the sender nothing (no nonce spent) are not audited: they could fill the log.
    expect(await code(latchkey.signInWithEthereum({ message: 'hello', signature: '0x00' }))).toBe('SIWE_MESSAGE_INVALID');
    const unknownNonce = siwe(eoa.address, 'neverIssued1234');
    expect(
      await code(
        latchkey.signInWithEthereum({ message: unknownNonce, signature: await eoa.signMessage({ message: unknownNonce }) }),
      ),
    ).toBe('SIWE_NONCE_INVALID');
    const failures = (await latchkey.queryAudit({ limit: 100 })).filter((e) => e.type === 'signin_failed');
    expect(failures.map((e) => e.details.code)).toEqual(cases.map(([c]) => c));
    expect(failures[0]?.subject).toBe(`eip155:${CHAIN_ID}:${eoa.address}`);
    expect(await latchkey.getSessionStats()).toMatchObject({ active: 0 });
  });

  it('takes roles and user id from the server hook, never from the request', async () => {
    const { latchkey } = engine({
      defaults: { signIn: SIGN_IN, roles: { admin: ['*'], member: ['read:x'] }, defaultRoles: ['member'] },
      resolveSignIn: ({ account }) => (account.endsWith(eoa.address) ? { roles: ['admin'], userId: 'user-7' } : undefined),
    });
    const message = siwe(eoa.address, (await latchkey.issueNonce()).nonce);
    const signature = await eoa.signMessage({ message });
    const smuggled = { message, signature, roles: ['admin'], userId: 'victim' } as unknown as Parameters<
      typeof latchkey.signInWithEthereum
    >[0];
    expect(await code(latchkey.signInWithEthereum(smuggled))).toBe('VALIDATION_FAILED');
    const issued = await latchkey.signInWithEthereum({ message, signature, scope: 'read-only' });
    expect(issued.session).toMatchObject({ roles: ['admin'], userId: 'user-7', scope: 'read-only', permissions: ['read:*'] });
    const other = siwe(stranger.address, (await latchkey.issueNonce()).nonce);
    const plain = await latchkey.signInWithEthereum({
      message: other,
      signature: await stranger.signMessage({ message: other }),
    });
    expect(plain.session).toMatchObject({ roles: ['member'], userId: null });
  });

  it('refuses bad request fields before spending the nonce', async () => {
    const { latchkey } = engine();
    const message = siwe(eoa.address, (await latchkey.issueNonce()).nonce);
    const signature = await eoa.signMessage({ message });
    expect(await code(latchkey.signInWithEthereum({ message, signature, device: { ip: 'not-an-ip' } }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await code(latchkey.signInWithEthereum({ message, signature, device: { ip: '203.0.113.7' } }))).toBe('NO_ERROR');
  });

  it('answers SIWE_EXPIRED for a message that expired inside the clock skew', async () => {
    const { latchkey } = engine();
    const message = siwe(eoa.address, (await latchkey.issueNonce()).nonce, { expirationTime: new Date(T0 - 1000) });
    expect(await code(latchkey.signInWithEthereum({ message, signature: await eoa.signMessage({ message }) }))).toBe(
      'SIWE_EXPIRED',
    );
  });

  it('refuses sign-in for an app without sign-in settings', async () => {
    const { latchkey } = engine({ defaults: {} });
    expect(await code(latchkey.issueNonce())).toBe('SIGNIN_NOT_CONFIGURED');
  });
});

describe('Sign-In with Solana through the engine', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const address = base58.encode(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));

  it('signs a Solana wallet in on an allowed cluster', async () => {
    const { latchkey } = engine();
    const message = formatSiwsMessage({
      domain: 'app.example.com',
      address,
      statement: 'Sign in to Example.',
      uri: 'https://app.example.com/login',
      chainId: 'devnet',
      nonce: (await latchkey.issueNonce()).nonce,
      issuedAt: new Date(T0),
    });
    const signature = base58.encode(sign(null, Buffer.from(message), privateKey));
    const issued = await latchkey.signInWithSolana({ message, signature });
    expect(issued.session).toMatchObject({
      account: `solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1:${address}`,
      authMethod: 'siws',
      chainType: 'solana',
    });
    expect(await code(latchkey.signInWithSolana({ message, signature }))).toBe('SIWS_NONCE_INVALID');
  });

  it('refuses small-order public keys, whose "signatures" verify without a private key', async () => {
    const { latchkey } = engine();
    const identity = base58.encode(Buffer.from(`01${'00'.repeat(31)}`, 'hex'));
    const message = formatSiwsMessage({
      domain: 'app.example.com',
      address: identity,
      uri: 'https://app.example.com/login',
      chainId: 'devnet',
      nonce: (await latchkey.issueNonce()).nonce,
      issuedAt: new Date(T0),
    });
    // R = identity point, S = 0: OpenSSL alone accepts this for the identity key.
    const forged = base58.encode(Buffer.concat([Buffer.from(`01${'00'.repeat(31)}`, 'hex'), Buffer.alloc(32)]));
    expect(await code(latchkey.signInWithSolana({ message, signature: forged }))).toBe('SIWS_SIGNATURE_INVALID');
  });

  it('refuses another cluster and a signature by another key', async () => {
    const { latchkey } = engine();
    const fields = { domain: 'app.example.com', address, uri: 'https://app.example.com/login', issuedAt: new Date(T0) };
    const mainnet = formatSiwsMessage({ ...fields, chainId: 'mainnet', nonce: (await latchkey.issueNonce()).nonce });
    expect(
      await code(
        latchkey.signInWithSolana({ message: mainnet, signature: base58.encode(sign(null, Buffer.from(mainnet), privateKey)) }),
      ),
    ).toBe('SIWS_CHAIN_NOT_ALLOWED');
    const other = generateKeyPairSync('ed25519').privateKey;
    const devnet = formatSiwsMessage({ ...fields, chainId: 'devnet', nonce: (await latchkey.issueNonce()).nonce });
    expect(
      await code(
        latchkey.signInWithSolana({ message: devnet, signature: base58.encode(sign(null, Buffer.from(devnet), other)) }),
      ),
    ).toBe('SIWS_SIGNATURE_INVALID');
  });
});
