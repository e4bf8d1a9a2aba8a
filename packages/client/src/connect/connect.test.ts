import { decodeSolanaSignMessageResult, solanaSignMessageParams, verifyConnectSessionToken } from '@latchkey/protocol/connect';
import { ed25519 } from '@noble/curves/ed25519';
import { base58 } from '@scure/base';
import { type Hex, keccak256, parseTransaction, recoverTransactionAddress, toHex, verifyMessage, verifyTypedData } from 'viem';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectPair, evmSigner, next, Peers, solanaSigner } from '../../test-support/connect/fixtures.js';
import { startTestRelay, type TestRelay } from '../../test-support/connect/relay.js';
import { ConnectError } from './index.js';

let relay: TestRelay;
let peers: Peers;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(() => relay.close());
afterEach(async () => {
  await peers.close();
  relay.tamper = null;
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConnectError) return e;
    throw e;
  }
  throw new Error('expected a ConnectError');
}

const typedData = {
  domain: { name: 'Latchkey Test', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
  types: {
    Person: [
      { name: 'name', type: 'string' },
      { name: 'wallet', type: 'address' },
    ],
    Mail: [
      { name: 'from', type: 'Person' },
      { name: 'contents', type: 'string' },
    ],
  },
  primaryType: 'Mail',
  message: { from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' }, contents: 'Hello, Bob!' },
} as const;

describe('QR connect, end to end through a relay', () => {
  it('connects in one message: the dApp learns the address and holds a token the wallet signed', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const dapp = peers.dapp({ relay: relay.url });
    const wallet = peers.wallet();
    const channel = await dapp.createChannel();
    expect(channel.uri).toMatch(
      /^latchkey:connect\?v=1&id=[0-9a-f-]{36}&relay=http%3A%2F%2F127\.0\.0\.1%3A\d+&pk=[\w-]{43}&exp=\d+$/,
    );
    expect(channel.qr.svg.startsWith('<svg')).toBe(true);
    expect(atob(channel.qr.dataUrl.replace('data:image/svg+xml;base64,', ''))).toBe(channel.qr.svg);
    const connected = next<import('./dapp.js').ConnectSession>(dapp, 'session_connected');
    const walletSession = await wallet.connect(channel.uri, signer);
    const session = await connected;

    expect(session).toMatchObject({
      hasSessionToken: true,
      address: signer.address,
      account: `eip155:1:${signer.address}`,
      uuid: channel.uuid,
    });
    expect(session.sessionToken).toBe(walletSession.sessionToken);
    expect(relay.log.map((m) => m.event)).toContain('connected_uuid');
    const sent = relay.log.find((m) => m.event === 'connected_uuid')!.envelope;
    expect(Object.keys(sent).sort()).toEqual(['data', 'nonce', 'publicKey', 'uuid']);
    expect(JSON.stringify(sent)).not.toContain(signer.address.slice(2).toLowerCase()); // the relay never sees the address
    // What the session bridge will check: the token plus the channel UUID.
    const verified = await verifyConnectSessionToken(
      { sessionToken: session.sessionToken!, uuid: channel.uuid },
      { relay: relay.url, now: Date.now() },
    );
    expect(verified.account).toBe(`eip155:1:${signer.address}`);
  });

  it('serves personal_sign, eth_signTypedData_v4 and transactions; viem verifies each signature', async () => {
    peers = new Peers();
    const { signer, broadcast } = evmSigner();
    const { dapp } = await connectPair(peers, relay.url, { signer });
    const address = signer.address;

    const message = 'Sign in to Latchkey test';
    const signature = (await dapp.request('personal_sign', [toHex(message), address])) as Hex;
    expect(await verifyMessage({ address, message, signature })).toBe(true);
    expect(await verifyMessage({ address, message: 'something else', signature })).toBe(false);

    const typedSignature = (await dapp.request('eth_signTypedData_v4', [address, JSON.stringify(typedData)])) as Hex;
    expect(await verifyTypedData({ address, ...typedData, signature: typedSignature })).toBe(true);

    const tx = {
      to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      value: '0xde0b6b3a7640000',
      gas: '0x5208',
      maxFeePerGas: '0x3b9aca00',
      maxPriorityFeePerGas: '0x3b9aca00',
      nonce: '0x0',
      chainId: '0x1',
      type: '0x2',
    };
    const raw = (await dapp.request('eth_signTransaction', [{ from: address, ...tx }])) as Hex;
    expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(address);
    expect(parseTransaction(raw)).toMatchObject({ to: tx.to.toLowerCase(), value: 10n ** 18n, chainId: 1, type: 'eip1559' });

    const hash = (await dapp.request('eth_sendTransaction', [{ ...tx, nonce: '0x1' }])) as Hex;
    expect(broadcast).toHaveLength(1);
    expect(hash).toBe(keccak256(broadcast[0]!));
    expect(await recoverTransactionAddress({ serializedTransaction: broadcast[0]! as never })).toBe(address);
  });

  it('serves Solana signMessage; @noble/curves verifies the Ed25519 signature', async () => {
    peers = new Peers();
    const signer = solanaSigner();
    const { dapp, session } = await connectPair(peers, relay.url, { signer });
    expect(session).toMatchObject({ chainType: 'solana', address: signer.address });
    const message = new TextEncoder().encode('Latchkey Solana test');
    const result = await dapp.request('solana_signMessage', solanaSignMessageParams(message, signer.address));
    const signature = decodeSolanaSignMessageResult(result);
    expect(ed25519.verify(signature, message, base58.decode(signer.address))).toBe(true);
    expect(await failure(dapp.request('personal_sign', ['0x00', signer.address]))).toMatchObject({
      code: 'CONNECT_METHOD_UNSUPPORTED',
    });
  });

  it('answers rejections, unsupported methods and bad params with typed errors', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet } = await connectPair(peers, relay.url, { signer });
    const asked: string[] = [];
    wallet.onRequest((req) => {
      asked.push(req.method);
      return false;
    });
    expect(await failure(dapp.request('personal_sign', ['0x00', signer.address]))).toMatchObject({
      code: 'CONNECT_REQUEST_REJECTED',
    });
    expect(await failure(dapp.request('eth_sign', [signer.address, '0x00']))).toMatchObject({
      code: 'CONNECT_METHOD_UNSUPPORTED',
    });
    const bad = await failure(dapp.request('personal_sign', ['0x00', '0x0000000000000000000000000000000000000001']));
    expect(bad).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(bad.message).toContain('params[1]');
    expect(asked).toEqual(['personal_sign']); // only the well-formed request reached the user
  });

  it('times out a request the wallet never answers', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet } = await connectPair(peers, relay.url, { signer });
    wallet.onRequest(() => new Promise<boolean>(() => {}));
    const e = await failure(dapp.request('personal_sign', ['0x00', signer.address], { timeoutMs: 150 }));
    expect(e.code).toBe('CONNECT_REQUEST_TIMEOUT');
    expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('ends the session from either side with an encrypted notice', async () => {
    peers = new Peers();
    const a = await connectPair(peers, relay.url, { signer: evmSigner().signer });
    const dappSaw = next<{ reason: string }>(a.dapp, 'disconnected');
    await a.wallet.disconnect();
    expect(await dappSaw).toEqual({ reason: 'wallet_disconnected' });
    expect(a.dapp.session).toBeNull();

    const b = await connectPair(peers, relay.url, { signer: evmSigner().signer });
    const walletSaw = next<{ reason: string }>(b.wallet, 'disconnected');
    await b.dapp.disconnect();
    expect(await walletSaw).toEqual({ reason: 'dapp_disconnected' });
    expect(b.wallet.session).toBeNull();
  });

  it('rejoins after a network drop and gets what the relay kept meanwhile', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet } = await connectPair(peers, relay.url, { signer });
    const left = next<{ role: string }>(dapp, 'peer_left');
    expect(relay.dropTransport(dapp.session!.uuid, 'wallet')).toBe(true);
    expect(await left).toEqual({ role: 'wallet' });
    const answered = next(wallet, 'answered');
    const signature = (await dapp.request('personal_sign', [toHex('while away'), signer.address])) as Hex;
    await answered;
    expect(await verifyMessage({ address: signer.address, message: 'while away', signature })).toBe(true);
  });

  it('never promises in the QR code more than the relay keeps the channel', async () => {
    peers = new Peers();
    const short = await startTestRelay({ joinWindowMs: 120_000 });
    try {
      const before = Date.now();
      const { uri, expiresAt } = await peers.dapp({ relay: short.url, channelTtlMs: 600_000 }).createChannel();
      expect(expiresAt).toBeLessThanOrEqual(before + 121_000);
      expect(expiresAt).toBeGreaterThan(before + 110_000);
      expect(uri).toContain(`&exp=${expiresAt / 1000}`);
    } finally {
      await peers.close();
      await short.close();
    }
  });

  it('refuses expired and malformed URIs with their own codes', async () => {
    peers = new Peers();
    const wallet = peers.wallet();
    const { signer } = evmSigner();
    const dapp = peers.dapp({ relay: relay.url, channelTtlMs: 1000 });
    const { uri, expiresAt } = await dapp.createChannel();
    const late = peers.wallet({ clock: { now: () => expiresAt } });
    expect(await failure(late.connect(uri, signer))).toMatchObject({ code: 'CONNECT_URI_EXPIRED', field: 'exp' });
    expect(await failure(wallet.connect(uri.replace(/pk=[^&]+/, 'pk=abc'), signer))).toMatchObject({
      code: 'CONNECT_URI_INVALID',
      field: 'pk',
    });
    expect(await failure(wallet.connect(uri.replace('v=1', 'v=9'), signer))).toMatchObject({
      code: 'CONNECT_URI_INVALID',
      field: 'v',
    });
    expect(
      await failure(wallet.connect(uri.replace(/relay=[^&]+/, `relay=${encodeURIComponent('http://example.com')}`), signer)),
    ).toMatchObject({
      code: 'CONNECT_URI_INVALID',
      field: 'relay',
    });
  });
});
