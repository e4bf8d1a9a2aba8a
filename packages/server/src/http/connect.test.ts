// The session bridge end to end: a ConnectWallet and a ConnectDapp meet on the server's own relay
// (createServer({ relay: {} }) on 127.0.0.1:0), then the dApp posts the token to POST /v1/auth/connect.

import {
  ConnectDapp,
  type ConnectSession,
  ConnectWallet,
  type EthereumConnectSigner,
  ethereumSigner,
} from '@latchkey/client/connect';
import { ManualClock, MemoryStore } from '@latchkey/core';
import { toBase64Url } from '@latchkey/protocol';
import {
  createSessionToken,
  type DecodedSessionToken,
  generateConnectKeyPair,
  randomChannelId,
  type SessionTokenSignatureVerifier,
} from '@latchkey/protocol/connect';
import { type Address, bytesToHex, createPublicClient, custom, decodeFunctionResult, encodeFunctionData, pad } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadArtifacts, startTestChain, type TestChain } from '../../../core/test-support/evm/index.js';
import { APP_ORIGIN, type Fixture, startFixture } from '../../test-support/http/index.js';

const CHAIN_ID = 8453;
const HOUR = 3_600_000;

let chain: TestChain;
let verifierClient: ReturnType<typeof createPublicClient>;
let fixture: Fixture;
let url: string;
const peers: { disconnect(): Promise<void> }[] = [];

beforeAll(async () => {
  chain = await startTestChain({ chainId: CHAIN_ID });
  verifierClient = createPublicClient({ transport: custom({ request: chain.request }, { retryCount: 0 }) });
  fixture = await startFixture({
    store: new MemoryStore(),
    clock: new ManualClock(Date.now()),
    engine: { smartAccounts: { verifiers: { [CHAIN_ID]: verifierClient } } },
    server: { relay: {}, rateLimits: { signIn: 0 } },
  });
  await fixture.app.listen({ host: '127.0.0.1', port: 0 });
  const address = fixture.app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no listener address');
  url = `http://127.0.0.1:${address.port}`;
  // The relay this server answers on is the one its tokens must name.
  fixture.latchkey.addApp('default', { connect: { relayUrls: [url] } });
});
afterAll(async () => {
  await fixture?.app.close();
  await chain?.close();
});
afterEach(async () => {
  await Promise.allSettled(peers.splice(0).map((p) => p.disconnect()));
  fixture.clock.set(Date.now());
});

/** A dApp and a wallet connected through the server's relay; resolves with the dApp's view of the session. */
async function connectThroughRelay(
  signer: EthereumConnectSigner,
  options: { verifySignature?: SessionTokenSignatureVerifier } = {},
): Promise<ConnectSession> {
  const transport = { connectTimeoutMs: 3000, ackTimeoutMs: 3000 };
  const dapp = new ConnectDapp({ relay: url, requireSessionToken: true, ...transport, ...options });
  const wallet = new ConnectWallet({ ...transport, ...options });
  peers.push(dapp, wallet);
  const { uri } = await dapp.createChannel();
  const connected = new Promise<ConnectSession>((resolve, reject) => {
    dapp.once('session_connected', resolve);
    dapp.once('error', reject);
  });
  await wallet.connect(uri, signer);
  return connected;
}

const post = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${url}/v1/auth/connect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const errorCode = async (response: Response): Promise<string> =>
  ((await response.json()) as { error: { code: string } }).error.code;

async function liveSessions(account: string): Promise<number> {
  return (await fixture.latchkey.getWalletSessions(account)).length;
}

describe('POST /v1/auth/connect through the real relay', () => {
  it('turns the token a wallet sent the dApp into a working session, once per channel', async () => {
    const signer = ethereumSigner(privateKeyToAccount(generatePrivateKey()), { chainId: 1 });
    const session = await connectThroughRelay(signer);
    expect(session).toMatchObject({ hasSessionToken: true, address: signer.address, relay: url });

    const exchanged = await post({ sessionToken: session.sessionToken, uuid: session.uuid, deviceId: 'cli' });
    expect(exchanged.status).toBe(200);
    const issued = (await exchanged.json()) as { token: string; session: { account: string; authMethod: string } };
    expect(issued.token).toMatch(/^lks_/);
    expect(issued.session).toMatchObject({ account: `eip155:1:${signer.address}`, authMethod: 'connect' });

    const current = await fetch(`${url}/v1/session`, { headers: { authorization: `Bearer ${issued.token}` } });
    expect(current.status).toBe(200);
    expect(((await current.json()) as { session: { account: string } }).session.account).toBe(`eip155:1:${signer.address}`);

    const again = await post({ sessionToken: session.sessionToken, uuid: session.uuid });
    expect(again.status).toBe(401);
    expect(await errorCode(again)).toBe('CONNECT_CHANNEL_USED');
    expect(await liveSessions(`eip155:1:${signer.address}`)).toBe(1);
  });

  it('answers in cookie mode with HttpOnly cookies and no token in the body, from the app origin only', async () => {
    const signer = ethereumSigner(privateKeyToAccount(generatePrivateKey()), { chainId: 1 });
    const session = await connectThroughRelay(signer);
    const body = { sessionToken: session.sessionToken, uuid: session.uuid, mode: 'cookie' };
    const foreign = await post(body, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    const answered = await post(body, { origin: APP_ORIGIN });
    expect(answered.status).toBe(200);
    expect(answered.headers.get('set-cookie')).toMatch(/HttpOnly/i);
    expect(((await answered.json()) as { token?: string }).token).toBeUndefined();
  });

  it('refuses a token for another relay, an expired, a tampered one and a wrong signer, storing no session', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const signer = ethereumSigner(account, { chainId: 1 });
    const wallet = `eip155:1:${signer.address}`;
    const now = fixture.clock.now();
    const claims = (overrides: { relay?: string; address?: Address } = {}) => ({
      uuid: randomChannelId(),
      relay: overrides.relay ?? url,
      chainType: 'eip155' as const,
      chainId: '1',
      address: overrides.address ?? signer.address,
      dappPublicKey: toBase64Url(generateConnectKeyPair().publicKey),
      walletPublicKey: toBase64Url(generateConnectKeyPair().publicKey),
      issuedAt: now,
      expiresAt: now + 24 * HOUR,
    });
    const signed = async (c: ReturnType<typeof claims>, by = account) => ({
      sessionToken: await createSessionToken(c, (message) => by.signMessage({ message })),
      uuid: c.uuid,
    });

    const otherRelay = await post(await signed(claims({ relay: 'https://relay.elsewhere.example' })));
    expect([otherRelay.status, await errorCode(otherRelay)]).toEqual([401, 'CONNECT_SESSION_TOKEN_INVALID']);

    const stranger = privateKeyToAccount(generatePrivateKey());
    const wrongSigner = await post(await signed(claims(), stranger));
    expect([wrongSigner.status, await errorCode(wrongSigner)]).toEqual([401, 'CONNECT_SESSION_TOKEN_INVALID']);

    const session = await connectThroughRelay(signer);
    const [prefix, body, signature] = session.sessionToken!.split('.') as [string, string, string];
    const tampered = `${prefix}.${body}.${signature.slice(0, 20)}${signature[20] === 'A' ? 'B' : 'A'}${signature.slice(21)}`;
    const tamperedAnswer = await post({ sessionToken: tampered, uuid: session.uuid });
    expect([tamperedAnswer.status, await errorCode(tamperedAnswer)]).toEqual([401, 'CONNECT_SESSION_TOKEN_INVALID']);

    const late = await connectThroughRelay(signer);
    fixture.clock.set(late.expiresAt!);
    const expired = await post({ sessionToken: late.sessionToken, uuid: late.uuid });
    expect([expired.status, await errorCode(expired)]).toEqual([401, 'CONNECT_SESSION_TOKEN_EXPIRED']);

    expect(await liveSessions(wallet)).toBe(0);
    const audit = await fixture.latchkey.queryAudit({ account: wallet });
    expect(audit.map((e) => [e.type, e.details.code])).toEqual([
      ['signin_failed', 'CONNECT_SESSION_TOKEN_INVALID'],
      ['signin_failed', 'CONNECT_SESSION_TOKEN_INVALID'],
      ['signin_failed', 'CONNECT_SESSION_TOKEN_INVALID'],
      ['signin_failed', 'CONNECT_SESSION_TOKEN_EXPIRED'],
    ]);
  });

  it('exchanges one token for exactly one session when it is posted many times at once', async () => {
    const signer = ethereumSigner(privateKeyToAccount(generatePrivateKey()), { chainId: 1 });
    const session = await connectThroughRelay(signer);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post({ sessionToken: session.sessionToken, uuid: session.uuid })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 401, 401, 401, 401, 401]);
    expect(await liveSessions(`eip155:1:${signer.address}`)).toBe(1);
  });

  it('connects an ERC-1271 smart account, verified on chain by the dApp, the wallet and the server', async () => {
    const owner = privateKeyToAccount(generatePrivateKey());
    const factory = await chain.deploy('WalletFactory');
    const { abi } = loadArtifacts().contracts.WalletFactory;
    const deployed = await chain.execute({
      to: factory,
      data: encodeFunctionData({ abi, functionName: 'deploy', args: [owner.address, pad('0x01', { size: 32 })] }),
    });
    const smartAccount = decodeFunctionResult({ abi, functionName: 'deploy', data: deployed }) as Address;
    const signer: EthereumConnectSigner = {
      chainType: 'eip155',
      chainId: CHAIN_ID,
      address: smartAccount,
      signMessage: (args) => owner.signMessage(args),
    };
    const onChain = (token: DecodedSessionToken) =>
      verifierClient.verifyMessage({
        address: token.claims.address as Address,
        message: token.message,
        signature: bytesToHex(token.signature),
      });
    const session = await connectThroughRelay(signer, { verifySignature: onChain });
    const exchanged = await post({ sessionToken: session.sessionToken, uuid: session.uuid });
    expect(exchanged.status).toBe(200);
    expect(((await exchanged.json()) as { session: { account: string } }).session.account).toBe(
      `eip155:${CHAIN_ID}:${smartAccount}`,
    );
  });
});
