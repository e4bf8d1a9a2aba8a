import { toBase64Url } from '@latchkey/protocol';
import {
  decryptConnectPayload,
  deriveChannelKey,
  encryptConnectPayload,
  generateConnectKeyPair,
  parseConnectUri,
  parseRequestPayload,
  relaySocketTarget,
  type SignRequest,
} from '@latchkey/protocol/connect';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectPair, evmSigner, next, Peers } from '../../test-support/connect/fixtures.js';
import { startTestRelay, type TestRelay } from '../../test-support/connect/relay.js';
import type { ConnectSession } from './dapp.js';
import type { ConnectError } from './index.js';

// An "old wallet" in the sense of origin document 004: it sends connected_uuid with only {uuid, publicKey}
// (no session token) and answers requests that carry none. Written against the protocol alone.

let relay: TestRelay;
let peers: Peers;
const sockets: Socket[] = [];
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(() => relay.close());
afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await peers.close();
});

async function oldWallet(uri: string): Promise<{ requests: SignRequest[] }> {
  const { uuid, relay: url, dappPublicKey } = parseConnectUri(uri, { now: Date.now() });
  const keys = generateConnectKeyPair();
  const key = deriveChannelKey({ role: 'wallet', privateKey: keys.privateKey, peerPublicKey: dappPublicKey, uuid });
  const target = relaySocketTarget(url);
  const socket = io(target.url, { path: target.path, transports: ['websocket'], forceNew: true });
  sockets.push(socket);
  const requests: SignRequest[] = [];
  socket.on('request', (envelope: { nonce: string; data: string }) => {
    const request = parseRequestPayload(decryptConnectPayload(key, { event: 'request', uuid }, envelope));
    if ('type' in request) return;
    requests.push(request);
    const sealed = encryptConnectPayload(key, { event: 'response', uuid }, { id: request.id, result: '0xold' });
    socket.emit('response', { uuid, ...sealed });
  });
  const joined = await socket.emitWithAck('join', { uuid, role: 'wallet', rejoinKey: toBase64Url(new Uint8Array(16).fill(7)) });
  expect(joined.ok).toBe(true);
  expect((await socket.emitWithAck('connected_uuid', { uuid, publicKey: toBase64Url(keys.publicKey) })).ok).toBe(true);
  return { requests };
}

describe('old wallets (no session token)', () => {
  it('still connect, marked as having no session token, and get requests without one', async () => {
    peers = new Peers();
    const dapp = peers.dapp({ relay: relay.url });
    const { uri, uuid } = await dapp.createChannel();
    const connected = next<ConnectSession>(dapp, 'session_connected');
    const wallet = await oldWallet(uri);
    const session = await connected;
    expect(session).toMatchObject({
      uuid,
      hasSessionToken: false,
      sessionToken: null,
      address: null,
      account: null,
      expiresAt: null,
    });
    expect(await dapp.request('personal_sign', ['0x00', '0x0000000000000000000000000000000000000001'])).toBe('0xold');
    expect(wallet.requests).toHaveLength(1);
    expect(wallet.requests[0]).not.toHaveProperty('sessionToken');
  });

  it('are refused when the dApp sets requireSessionToken (CONNECT_SESSION_TOKEN_MISSING)', async () => {
    peers = new Peers();
    const dapp = peers.dapp({ relay: relay.url, requireSessionToken: true });
    const { uri } = await dapp.createChannel();
    const refused = next<ConnectError>(dapp, 'error');
    let connected = false;
    dapp.on('session_connected', () => {
      connected = true;
    });
    await oldWallet(uri);
    expect((await refused).code).toBe('CONNECT_SESSION_TOKEN_MISSING');
    expect(connected).toBe(false);
    expect(dapp.session).toBeNull();
    await expect(dapp.request('personal_sign', ['0x00', '0x0000000000000000000000000000000000000001'])).rejects.toThrow(
      'no wallet is connected',
    );
  });

  it('requireSessionToken still admits a wallet that signs one', async () => {
    peers = new Peers();
    const { session } = await connectPair(peers, relay.url, { signer: evmSigner().signer, dapp: { requireSessionToken: true } });
    expect(session.hasSessionToken).toBe(true);
  });
});
