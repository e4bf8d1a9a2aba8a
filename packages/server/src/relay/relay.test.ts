// The relay on one node (channels in memory), through a real listener and real socket.io-client connections.
import { afterEach, describe, expect, it } from 'vitest';
import { b64, join, newChannel, type RelayFixture, relayFixture, settle } from '../../test-support/relay/index.js';
import type { RelayOptions } from './options.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const fixtures = new Set<RelayFixture>();

afterEach(async () => {
  await Promise.all([...fixtures].map((f) => f.close()));
  fixtures.clear();
});

async function relay(options: RelayOptions = {}): Promise<RelayFixture> {
  const fixture = await relayFixture(options, T0);
  fixtures.add(fixture);
  return fixture;
}

describe('relay: joining and forwarding', () => {
  it('forwards connected_uuid, request and response both ways, acked, numbered per recipient', async () => {
    const { peer } = await relay();
    const { uuid, dappKey, walletKey } = newChannel();
    const dapp = await peer();
    const wallet = await peer();

    const created = await dapp.ask('join', { uuid, role: 'dapp', rejoinKey: dappKey });
    expect(created).toEqual({ ok: true, channel: { uuid, expiresAt: T0 + 600_000, peerConnected: false }, missed: [] });
    const walletJoined = await wallet.ask('join', { uuid, role: 'wallet', rejoinKey: walletKey });
    // The pairing moves the expiry to pairedTtlSeconds (a day) from now.
    expect(walletJoined).toEqual({ ok: true, channel: { uuid, expiresAt: T0 + 86_400_000, peerConnected: true }, missed: [] });
    expect(await dapp.next('peer_joined')).toEqual({ role: 'wallet' });

    const hello = { uuid, publicKey: b64(65), nonce: b64(12), data: b64(300) };
    expect(await wallet.ask('connected_uuid', hello)).toEqual({ ok: true, seq: 1 });
    expect(await dapp.next('connected_uuid')).toEqual({ ...hello, seq: 1 });

    const request = { uuid, nonce: b64(12), data: b64(1024) };
    expect(await dapp.ask('request', request)).toEqual({ ok: true, seq: 1 });
    expect(await wallet.next('request')).toEqual({ ...request, seq: 1 });

    const response = { uuid, nonce: b64(12), data: b64(64) };
    expect(await wallet.ask('response', response)).toEqual({ ok: true, seq: 2 });
    expect(await dapp.next('response')).toEqual({ ...response, seq: 2 });

    // An old wallet's connected_uuid: just the public key.
    wallet.tell('connected_uuid', { uuid, publicKey: hello.publicKey });
    expect(await dapp.next('connected_uuid')).toEqual({ uuid, publicKey: hello.publicKey, seq: 3 });
    expect(wallet.received.map((r) => r.event)).toEqual(['request']);
  });

  it('delivers the exact strings it was given, every base64url character included', async () => {
    const { paired } = await relay({ maxPayloadBytes: 65_536 });
    const { uuid, dapp, wallet } = await paired();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const data = alphabet.repeat(900) + b64(3000);
    const nonce = `${alphabet.slice(0, 22)}-_`;
    dapp.tell('request', { uuid, nonce, data });
    const got = await wallet.next('request');
    expect(got.data).toBe(data);
    expect(got.nonce).toBe(nonce);
    expect(Object.keys(got).sort()).toEqual(['data', 'nonce', 'seq', 'uuid']);
  });

  it('refuses a third peer with CONNECT_CHANNEL_FULL; a wrong rejoin key never takes a slot, the right one does', async () => {
    const { peer, paired } = await relay();
    const { uuid, dappKey, walletKey, wallet, dapp } = await paired();
    const intruder = await peer();
    for (const role of ['wallet', 'dapp'] as const) {
      expect(await intruder.ask('join', { uuid, role, rejoinKey: b64(24) })).toEqual({
        ok: false,
        error: { code: 'CONNECT_CHANNEL_FULL', message: 'The channel already has a dApp and a wallet.' },
      });
    }
    // Away, the wallet's slot stays its own.
    wallet.close();
    expect(await dapp.next('peer_left')).toEqual({ role: 'wallet' });
    const answer = await intruder.ask('join', { uuid, role: 'wallet', rejoinKey: b64(24) });
    expect(answer.error?.code).toBe('CONNECT_CHANNEL_FULL');
    // A key that differs from the wallet's in its last character only.
    const nearMiss = walletKey.slice(0, -1) + (walletKey.endsWith('A') ? 'B' : 'A');
    expect((await intruder.ask('join', { uuid, role: 'wallet', rejoinKey: nearMiss })).error?.code).toBe('CONNECT_CHANNEL_FULL');
    expect((await intruder.ask('join', { uuid, role: 'dapp', rejoinKey: walletKey })).error?.code).toBe('CONNECT_CHANNEL_FULL');
    const back = await peer();
    expect((await back.ask('join', { uuid, role: 'wallet', rejoinKey: walletKey })).ok).toBe(true);
    expect((await intruder.ask('join', { uuid, role: 'dapp', rejoinKey: dappKey })).ok).toBe(true);
  });

  it('hands a slot to a rejoin with its key while the old connection is still open, and closes the old one', async () => {
    const { peer, paired } = await relay();
    const { uuid, walletKey, dapp, wallet } = await paired();
    dapp.tell('request', { uuid, nonce: b64(12), data: b64(16) });
    expect((await wallet.next('request')).seq).toBe(1);
    const again = await peer();
    const answer = await again.ask('join', { uuid, role: 'wallet', rejoinKey: walletKey });
    expect(answer.ok).toBe(true);
    expect(await wallet.closed()).toBe('io server disconnect');
    dapp.tell('request', { uuid, nonce: b64(12), data: b64(16) });
    const next = await again.next('request');
    // Numbers never repeat for a recipient, whatever the old connection may have sent meanwhile.
    expect(next.seq).toBeGreaterThan(1);
    // The old connection's departure does not free the slot the new one holds.
    await settle();
    expect(dapp.received.filter((r) => r.event === 'peer_left')).toEqual([]);
  });
});

describe('relay: channel expiry', () => {
  it('expires a channel no wallet joined within the join window: channel_expired, then disconnect', async () => {
    const { server, time, peer } = await relay({ channelTtlSeconds: 120 });
    const { uuid, dappKey, walletKey } = newChannel();
    const dapp = await peer();
    expect((await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey })).channel?.expiresAt).toBe(T0 + 120_000);
    time.set(T0 + 119_999);
    await settle();
    expect(dapp.received).toEqual([]);
    time.set(T0 + 120_000);
    expect(await dapp.next('channel_expired')).toEqual({ uuid });
    expect(await dapp.closed()).toBe('io server disconnect');
    const wallet = await peer();
    expect(await wallet.ask('join', { uuid, role: 'wallet', rejoinKey: walletKey })).toEqual({
      ok: false,
      error: { code: 'CONNECT_CHANNEL_EXPIRED', message: 'The connect channel has expired.' },
    });
    expect(await server.metrics()).toMatch(/^latchkey_relay_channels_expired_total 1$/m);
  });

  it("takes the dApp's shorter expiry, caps a longer one, and refuses one already past", async () => {
    const { peer } = await relay({ channelTtlSeconds: 600 });
    const dapp = await peer();
    const shorter = newChannel();
    expect(
      (await dapp.ask('join', { uuid: shorter.uuid, role: 'dapp', rejoinKey: shorter.dappKey, expiresAt: T0 + 60_000 })).channel,
    ).toEqual({ uuid: shorter.uuid, expiresAt: T0 + 60_000, peerConnected: false });
    const longer = newChannel();
    const other = await peer();
    expect(
      (await other.ask('join', { uuid: longer.uuid, role: 'dapp', rejoinKey: longer.dappKey, expiresAt: T0 + 3_600_000 })).channel
        ?.expiresAt,
    ).toBe(T0 + 600_000);
    const past = newChannel();
    const late = await peer();
    expect((await late.ask('join', { uuid: past.uuid, role: 'dapp', rejoinKey: past.dappKey, expiresAt: T0 })).error?.code).toBe(
      'CONNECT_CHANNEL_EXPIRED',
    );
  });

  it('keeps a paired channel past the join window and expires it after pairedTtlSeconds', async () => {
    const { time, paired } = await relay({ channelTtlSeconds: 60, pairedTtlSeconds: 3600 });
    const { uuid, dapp, wallet } = await paired();
    time.set(T0 + 61_000);
    dapp.tell('request', { uuid, nonce: b64(12), data: b64(16) });
    expect((await wallet.next('request')).seq).toBe(1);
    time.set(T0 + 3_600_000);
    expect(await dapp.next('channel_expired')).toEqual({ uuid });
    expect(await wallet.next('channel_expired')).toEqual({ uuid });
    await Promise.all([dapp.closed(), wallet.closed()]);
  });

  it('a wallet cannot open a channel: only a dApp creates one', async () => {
    const { peer } = await relay();
    const { uuid, walletKey } = newChannel();
    const wallet = await peer();
    expect((await wallet.ask('join', { uuid, role: 'wallet', rejoinKey: walletKey })).error?.code).toBe(
      'CONNECT_CHANNEL_EXPIRED',
    );
  });

  it('closes a connection that has not joined a channel 30 s after it connected', async () => {
    const { time, peer } = await relay();
    const idle = await peer();
    time.advance(29_999);
    await settle();
    expect(idle.socket.connected).toBe(true);
    time.advance(1);
    expect(await idle.closed()).toBe('io server disconnect');
  });
});

describe('relay: limits and validation', () => {
  it('refuses a payload over the limit with RELAY_PAYLOAD_TOO_LARGE, forwards nothing, and takes one at the limit', async () => {
    const { paired } = await relay({ maxPayloadBytes: 16_384 });
    const { uuid, dapp, wallet } = await paired();
    const nonce = b64(12); // 16 characters
    const fits = 16_384 - uuid.length - nonce.length;
    const over = { uuid, nonce, data: 'A'.repeat(fits + 1) };
    expect(await dapp.ask('request', over)).toEqual({
      ok: false,
      error: { code: 'RELAY_PAYLOAD_TOO_LARGE', message: "request: over the relay's 16384 bytes" },
    });
    dapp.tell('request', over);
    expect((await dapp.next('relay_error')).error).toMatchObject({ code: 'RELAY_PAYLOAD_TOO_LARGE' });
    expect(await dapp.ask('request', { uuid, nonce, data: 'A'.repeat(fits) })).toEqual({ ok: true, seq: 1 });
    expect((await wallet.next('request')).data).toHaveLength(fits);
    await settle();
    expect(wallet.received.filter((r) => r.event === 'request')).toHaveLength(1);
    // A packet past the limit and the envelope's allowance is never read: the transport closes the connection.
    dapp.tell('request', { uuid, nonce, data: 'A'.repeat(16_384 + 8192) });
    expect(await dapp.closed()).toBe('transport close');
    expect(wallet.received.filter((r) => r.event === 'request')).toHaveLength(1);
  });

  it('refuses malformed envelopes with RELAY_ENVELOPE_INVALID and forwards none of them', async () => {
    const { paired } = await relay();
    const { uuid, dapp, wallet } = await paired();
    const nonce = b64(12);
    const data = b64(32);
    const cases: [string, string, unknown, RegExp][] = [
      ['dapp', 'request', { uuid, nonce }, /^request data: /],
      ['dapp', 'request', { uuid, nonce, data: `${data}=` }, /^request data: base64url/],
      ['dapp', 'request', { uuid, nonce, data: 'ab+/' }, /^request data: base64url/],
      ['dapp', 'request', { uuid, nonce, data: 'abcde' }, /^request data: base64url of whole bytes/],
      ['dapp', 'request', { uuid, nonce, data: '' }, /^request data: /],
      ['dapp', 'request', { uuid: uuid.toUpperCase(), nonce, data }, /^request uuid: an RFC 4122 version 4 UUID/],
      ['dapp', 'request', { uuid: '6ba7b810-9dad-11d1-80b4-00c04fd430c8', nonce, data }, /^request uuid: /],
      ['dapp', 'request', { uuid, nonce, data, extra: 'x' }, /^request: /],
      ['dapp', 'request', { uuid, nonce, data: 42 }, /^request data: /],
      ['dapp', 'request', [uuid, nonce, data], /^request: /],
      ['dapp', 'request', 'hello', /^request: /],
      ['dapp', 'request', null, /^request: /],
      ['dapp', 'request', { uuid: newChannel().uuid, nonce, data }, /^request uuid: not the channel this connection joined$/],
      ['wallet', 'request', { uuid, nonce, data }, /^request: only the dapp sends it$/],
      ['dapp', 'response', { uuid, nonce, data }, /^response: only the wallet sends it$/],
      ['dapp', 'connected_uuid', { uuid, publicKey: b64(65) }, /^connected_uuid: only the wallet sends it$/],
      ['wallet', 'connected_uuid', { uuid }, /^connected_uuid publicKey: /],
      ['wallet', 'connected_uuid', { uuid, publicKey: b64(65), nonce: 'no spaces', data }, /^connected_uuid nonce: /],
      [
        'wallet',
        'connected_uuid',
        { uuid, publicKey: b64(65), nonce },
        /^connected_uuid: nonce and data come together, or neither$/,
      ],
      ['wallet', 'connected_uuid', { uuid, publicKey: b64(65), data }, /^connected_uuid: nonce and data come together/],
      ['dapp', 'join', { uuid, role: 'dapp', rejoinKey: b64(24) }, /^join: this connection already joined a channel$/],
      ['dapp', 'subscribe', { uuid }, /^unknown event/],
    ];
    for (const [from, event, payload, message] of cases) {
      const sender = from === 'dapp' ? dapp : wallet;
      const answer = await sender.ask(event, payload);
      expect(answer.ok, `${event} ${JSON.stringify(payload)}`).toBe(false);
      expect(answer.error?.code).toBe('RELAY_ENVELOPE_INVALID');
      expect(answer.error?.message).toMatch(message);
    }
    // Two arguments, and no ack: the refusal comes as relay_error.
    dapp.socket.emit('request', { uuid, nonce, data }, 'second');
    expect(await dapp.next('relay_error')).toEqual({
      event: 'request',
      error: { code: 'RELAY_ENVELOPE_INVALID', message: 'request: one object argument' },
    });
    await settle();
    expect(wallet.received.filter((r) => r.event !== 'relay_error')).toEqual([]);
    expect(dapp.received.filter((r) => !['peer_joined', 'relay_error'].includes(r.event))).toEqual([]);
  });

  it('refuses joins that do not have the documented shape', async () => {
    const { peer } = await relay();
    const { uuid, dappKey } = newChannel();
    const cases: [unknown, RegExp][] = [
      [{ uuid, role: 'relay', rejoinKey: dappKey }, /^join role: /],
      [{ uuid, role: 'dapp', rejoinKey: b64(8) }, /^join rejoinKey: /],
      [{ uuid, role: 'dapp', rejoinKey: 'x'.repeat(65) }, /^join rejoinKey: /],
      [{ uuid, role: 'dapp', rejoinKey: dappKey, lastSeq: -1 }, /^join lastSeq: /],
      [{ uuid, role: 'dapp', rejoinKey: dappKey, expiresAt: 'soon' }, /^join expiresAt: /],
      [{ role: 'dapp', rejoinKey: dappKey }, /^join uuid: /],
    ];
    const p = await peer();
    for (const [payload, message] of cases) {
      const answer = await p.ask('join', payload);
      expect(answer.error?.code).toBe('RELAY_ENVELOPE_INVALID');
      expect(answer.error?.message).toMatch(message);
    }
    // Nothing was created: the real first join still creates the channel.
    expect((await join(p, { uuid, role: 'dapp', rejoinKey: dappKey })).channel?.peerConnected).toBe(false);
  });

  it('rate-limits each connection with a token bucket', async () => {
    const { server, time, paired } = await relay({ rateLimit: { perSecond: 2, burst: 4 } });
    const { uuid, dapp, wallet } = await paired();
    const request = { uuid, nonce: b64(12), data: b64(16) };
    // The join took one token.
    for (let i = 1; i <= 3; i++) expect(await dapp.ask('request', request)).toEqual({ ok: true, seq: i });
    expect(await dapp.ask('request', request)).toEqual({
      ok: false,
      error: { code: 'RELAY_RATE_LIMITED', message: 'Too many relay messages; slow down.' },
    });
    // Another connection has its own bucket.
    expect((await wallet.ask('response', request)).ok).toBe(true);
    time.advance(499);
    expect((await dapp.ask('request', request)).error?.code).toBe('RELAY_RATE_LIMITED');
    time.advance(1);
    expect(await dapp.ask('request', request)).toEqual({ ok: true, seq: 4 });
    await settle();
    expect(wallet.received.filter((r) => r.event === 'request').map((r) => r.payload.seq)).toEqual([1, 2, 3, 4]);
    expect(await server.metrics()).toMatch(/^latchkey_relay_refused_total\{code="RELAY_RATE_LIMITED"\} 2$/m);
  });
});
