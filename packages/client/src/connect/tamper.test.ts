import { fromBase64Url, toBase64Url } from '@latchkey/protocol';
import { deriveChannelKey, encryptConnectPayload, generateConnectKeyPair, parseConnectUri } from '@latchkey/protocol/connect';
import { toHex } from 'viem';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectPair, evmSigner, ManualClock, next, Peers } from '../../test-support/connect/fixtures.js';
import { type Envelope, startTestRelay, type TestRelay } from '../../test-support/connect/relay.js';
import type { ConnectSession } from './dapp.js';
import { ConnectError } from './index.js';

// A relay that alters a byte, swaps the wallet key, replays a request or holds one past expiry:
// each is caught, each with its own error code.

let relay: TestRelay;
let peers: Peers;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(() => relay.close());
afterEach(async () => {
  relay.tamper = null;
  await peers.close();
});

function flipByte(envelope: Envelope, at = 5): Envelope {
  const data = fromBase64Url(String(envelope.data));
  data[at]! ^= 0x01;
  return { ...envelope, data: toBase64Url(data) };
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConnectError) return e;
    throw e;
  }
  throw new Error('expected a ConnectError');
}

describe('a hostile relay', () => {
  it('alters a byte of connected_uuid: the dApp refuses it (CONNECT_DECRYPT_FAILED) and stays unconnected', async () => {
    peers = new Peers();
    relay.tamper = ({ event, envelope }) => [event === 'connected_uuid' ? flipByte(envelope) : envelope];
    const dapp = peers.dapp({ relay: relay.url });
    const { uri } = await dapp.createChannel();
    const refused = next<ConnectError>(dapp, 'error');
    await peers.wallet().connect(uri, evmSigner().signer);
    expect((await refused).code).toBe('CONNECT_DECRYPT_FAILED');
    expect(dapp.session).toBeNull();
  });

  it('alters a byte of a request: the wallet refuses it unread and never asks its user', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet } = await connectPair(peers, relay.url, { signer });
    let asked = 0;
    wallet.onRequest(() => ++asked > 0);
    relay.tamper = ({ event, envelope }) => [event === 'request' ? flipByte(envelope, 0) : envelope];
    const refused = next<ConnectError>(wallet, 'error');
    const timedOut = failure(dapp.request('personal_sign', ['0x00', signer.address], { timeoutMs: 300 }));
    expect((await refused).code).toBe('CONNECT_DECRYPT_FAILED');
    expect((await timedOut).code).toBe('CONNECT_REQUEST_TIMEOUT');
    expect(asked).toBe(0);
  });

  it('alters a byte of a response: the dApp refuses it (CONNECT_DECRYPT_FAILED)', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp } = await connectPair(peers, relay.url, { signer });
    relay.tamper = ({ event, envelope }) => [event === 'response' ? flipByte(envelope, 20) : envelope];
    const refused = next<ConnectError>(dapp, 'error');
    const timedOut = failure(dapp.request('personal_sign', ['0x00', signer.address], { timeoutMs: 300 }));
    expect((await refused).code).toBe('CONNECT_DECRYPT_FAILED');
    expect((await timedOut).code).toBe('CONNECT_REQUEST_TIMEOUT');
  });

  it('swaps the wallet key: without the plaintext it cannot even produce a message that decrypts', async () => {
    peers = new Peers();
    const attacker = generateConnectKeyPair();
    relay.tamper = ({ event, envelope }) => [
      event === 'connected_uuid' ? { ...envelope, publicKey: toBase64Url(attacker.publicKey) } : envelope,
    ];
    const dapp = peers.dapp({ relay: relay.url });
    const { uri } = await dapp.createChannel();
    const refused = next<ConnectError>(dapp, 'error');
    await peers.wallet().connect(uri, evmSigner().signer);
    expect((await refused).code).toBe('CONNECT_DECRYPT_FAILED');
    expect(dapp.session).toBeNull();
  });

  it('swaps the wallet key and re-seals a leaked session token: caught as CONNECT_KEY_MISMATCH', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const wallet = peers.wallet();
    const dapp = peers.dapp({ relay: relay.url });
    const { uri } = await dapp.createChannel();
    const { uuid, dappPublicKey } = parseConnectUri(uri, { now: Date.now() });
    const attacker = generateConnectKeyPair();
    let walletConnected: Promise<unknown> = Promise.resolve();
    // The attacker holds the wallet's real token for this channel, and re-encrypts it to the dApp under its own key.
    relay.tamper = async ({ event, envelope }) => {
      if (event !== 'connected_uuid') return [envelope];
      await walletConnected;
      const key = deriveChannelKey({ role: 'wallet', privateKey: attacker.privateKey, peerPublicKey: dappPublicKey, uuid });
      const payload = { sessionToken: wallet.session!.sessionToken, address: signer.address, chainType: 'eip155' };
      return [
        {
          uuid,
          publicKey: toBase64Url(attacker.publicKey),
          ...encryptConnectPayload(key, { event: 'connected_uuid', uuid }, payload),
        },
      ];
    };
    const refused = next<ConnectError>(dapp, 'error');
    walletConnected = wallet.connect(uri, signer);
    await walletConnected;
    expect(await refused).toMatchObject({ code: 'CONNECT_KEY_MISMATCH', field: 'walletPublicKey' });
    expect(dapp.session).toBeNull();
  });

  it('replays a request: the wallet answers once and refuses the copy (CONNECT_REQUEST_REPLAYED)', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet, session } = await connectPair(peers, relay.url, { signer });
    let asked = 0;
    wallet.onRequest(() => {
      asked += 1;
      return true;
    });
    relay.tamper = ({ event, envelope }) => (event === 'request' ? [envelope, envelope] : [envelope]);
    const refused = next<ConnectError>(wallet, 'error');
    const signature = await dapp.request('personal_sign', [toHex('once'), signer.address]);
    expect(signature).toMatch(/^0x[0-9a-f]{130}$/);
    const e = await refused;
    expect(e.code).toBe('CONNECT_REQUEST_REPLAYED');
    expect(asked).toBe(1);
    // The copy got no answer: a refusal racing the real answer would fail the dApp's request.
    expect(relay.log.filter((m) => m.event === 'response' && m.envelope.uuid === session.uuid)).toHaveLength(1);
  });

  it('holds a request past the session token expiry: the wallet refuses it (CONNECT_SESSION_TOKEN_EXPIRED)', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const clock = new ManualClock();
    const { dapp, session } = await connectPair(peers, relay.url, {
      signer,
      dapp: { clock },
      wallet: { clock, sessionTtlMs: 3_600_000 },
    });
    const held = hold();
    const answer = failure(dapp.request('personal_sign', ['0x00', signer.address]));
    await held.arrived;
    clock.ms = (session as ConnectSession).expiresAt!; // the relay sat on it until the token expired
    held.release();
    expect((await answer).code).toBe('CONNECT_SESSION_TOKEN_EXPIRED');
    // And the dApp itself refuses to send on an expired token.
    expect(await failure(dapp.request('personal_sign', ['0x00', signer.address]))).toMatchObject({
      code: 'CONNECT_SESSION_TOKEN_EXPIRED',
    });
  });

  it('holds a request past the replay window: the wallet refuses it (CONNECT_REQUEST_STALE)', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const clock = new ManualClock();
    const { dapp } = await connectPair(peers, relay.url, { signer, dapp: { clock }, wallet: { clock } });
    const held = hold();
    const answer = failure(dapp.request('personal_sign', ['0x00', signer.address]));
    await held.arrived;
    clock.advance(60_001);
    held.release();
    expect((await answer).code).toBe('CONNECT_REQUEST_STALE');
    // At exactly the window's edge it is still accepted.
    const held2 = hold();
    const ok = dapp.request('personal_sign', ['0x00', signer.address]);
    await held2.arrived;
    clock.advance(60_000);
    held2.release();
    expect(await ok).toMatch(/^0x/);
  });
});

/** Makes the relay hold the next request until `release()`. */
function hold(): { arrived: Promise<void>; release: () => void } {
  let arrive!: () => void;
  let release!: () => void;
  const arrived = new Promise<void>((r) => {
    arrive = r;
  });
  const released = new Promise<void>((r) => {
    release = r;
  });
  relay.tamper = async ({ event, envelope }) => {
    if (event !== 'request') return [envelope];
    relay.tamper = null;
    arrive();
    await released;
    return [envelope];
  };
  return { arrived, release };
}
