// The SDKs through the real Latchkey relay: createServer({ relay: {} }) on 127.0.0.1:0, nothing mocked.

import { Latchkey, MemoryStore } from '@latchkey/core';
import { decodeSolanaSignMessageResult, solanaSignMessageParams, verifyConnectSessionToken } from '@latchkey/protocol/connect';
import { createServer } from '@latchkey/server';
import { ed25519 } from '@noble/curves/ed25519';
import { base58 } from '@scure/base';
import type { FastifyInstance } from 'fastify';
import { type Hex, recoverTransactionAddress, toHex, verifyMessage, verifyTypedData } from 'viem';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectPair, evmSigner, next, Peers, solanaSigner } from '../../test-support/connect/fixtures.js';
import type { ConnectError } from './index.js';

let server: FastifyInstance;
let url: string;
let peers: Peers;

beforeAll(async () => {
  const store = new MemoryStore();
  server = await createServer({ latchkey: new Latchkey({ store }), store, logger: false, relay: {} });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no listener address');
  url = `http://127.0.0.1:${address.port}`;
});
afterAll(() => server.close());
afterEach(() => peers.close());

describe('QR connect through the Latchkey relay', () => {
  it('connects, signs three kinds of Ethereum request, and the token verifies for the session bridge', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, session } = await connectPair(peers, url, { signer });
    expect(session).toMatchObject({ hasSessionToken: true, address: signer.address, relay: url });
    const verified = await verifyConnectSessionToken(
      { sessionToken: session.sessionToken!, uuid: session.uuid },
      { relay: url, now: Date.now() },
    );
    expect(verified.account).toBe(`eip155:1:${signer.address}`);

    const signature = (await dapp.request('personal_sign', [toHex('through the relay'), signer.address])) as Hex;
    expect(await verifyMessage({ address: signer.address, message: 'through the relay', signature })).toBe(true);

    const typed = {
      domain: { name: 'Relay', version: '1', chainId: 1 },
      types: { Note: [{ name: 'text', type: 'string' }] },
      primaryType: 'Note',
      message: { text: 'hi' },
    } as const;
    const typedSignature = (await dapp.request('eth_signTypedData_v4', [signer.address, typed])) as Hex;
    expect(await verifyTypedData({ address: signer.address, ...typed, signature: typedSignature })).toBe(true);

    const raw = (await dapp.request('eth_signTransaction', [
      {
        to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
        value: '0x1',
        gas: '0x5208',
        maxFeePerGas: '0x2',
        maxPriorityFeePerGas: '0x1',
        nonce: '0x0',
      },
    ])) as Hex;
    expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(signer.address);
  });

  it('serves Solana signMessage', async () => {
    peers = new Peers();
    const signer = solanaSigner();
    const { dapp } = await connectPair(peers, url, { signer });
    const message = new TextEncoder().encode('solana through the relay');
    const signature = decodeSolanaSignMessageResult(
      await dapp.request('solana_signMessage', solanaSignMessageParams(message, signer.address)),
    );
    expect(ed25519.verify(signature, message, base58.decode(signer.address))).toBe(true);
  });

  it('lets no third peer into a paired channel', async () => {
    peers = new Peers();
    const dapp = peers.dapp({ relay: url });
    const { uri } = await dapp.createChannel();
    const connected = next(dapp, 'session_connected');
    await peers.wallet().connect(uri, evmSigner().signer);
    await connected;
    const intruder = peers.wallet();
    await expect(intruder.connect(uri, evmSigner().signer)).rejects.toMatchObject({
      code: 'CONNECT_CHANNEL_FULL',
    } satisfies Partial<ConnectError>);
  });

  it('refuses a wallet on a channel no dApp opened (CONNECT_CHANNEL_EXPIRED)', async () => {
    peers = new Peers();
    const { uri } = await peers.dapp({ relay: url }).createChannel();
    const neverOpened = uri.replace(/id=[^&]+/, 'id=00000000-0000-4000-8000-000000000000');
    await expect(peers.wallet().connect(neverOpened, evmSigner().signer)).rejects.toMatchObject({
      code: 'CONNECT_CHANNEL_EXPIRED',
    });
  });
});
