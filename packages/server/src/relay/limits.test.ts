// What one client, logged in or not, can make a relay node hold: channels, kept bytes, connections and joins
// per client address (channels in memory, through a real listener). The shapes are the security review's:
// connect, join as a dApp with a fresh UUID, send large requests for a peer that is away, disconnect, repeat.
import { afterEach, describe, expect, it } from 'vitest';
import {
  b64,
  connectPeer,
  join,
  newChannel,
  type RelayFixture,
  type RelayServer,
  relayFixture,
  settle,
} from '../../test-support/relay/index.js';
import { type RelayOptions, SWEEP_INTERVAL_MS } from './options.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const fixtures = new Set<RelayFixture>();

afterEach(async () => {
  await Promise.all([...fixtures].map((f) => f.close()));
  fixtures.clear();
});

async function relay(options: RelayOptions = {}, extra: Parameters<typeof relayFixture>[2] = {}): Promise<RelayFixture> {
  const fixture = await relayFixture(options, T0, extra);
  fixtures.add(fixture);
  return fixture;
}

/** A gauge or counter of the relay's /metrics, 0 when it has no sample. */
async function metric(server: RelayServer, series: string): Promise<number> {
  const text = await server.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined && !text.includes(`# TYPE ${series.replace(/\{.*/, '')} `)) throw new Error(`no series ${series}`);
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** A request envelope whose strings add up to exactly `bytes` (uuid 36 + nonce 16 + data). */
const requestOf = (uuid: string, bytes: number) => ({ uuid, nonce: b64(12), data: 'A'.repeat(bytes - 52) });

/** Lets the server see a closed connection go (its address's count goes down). */
const waitClosed = (): Promise<void> => settle(100);

describe('relay limits: what an anonymous client can make a node hold', () => {
  it('keeps nothing for a wallet that never joined: the flood of fresh channels holds no bytes', async () => {
    const { server, peer } = await relay();
    for (let i = 0; i < 20; i++) {
      const { uuid, dappKey } = newChannel();
      const dapp = await peer();
      await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey });
      for (let k = 0; k < 4; k++) {
        const answer = await dapp.ask('request', requestOf(uuid, 65_536));
        expect(answer).toEqual({
          ok: false,
          error: {
            code: 'RELAY_ENVELOPE_INVALID',
            message: 'request: the wallet has not joined this channel; nothing is kept for it',
          },
        });
      }
      dapp.close();
    }
    expect(await metric(server, 'latchkey_relay_buffered_bytes')).toBe(0);
    expect(await metric(server, 'latchkey_relay_refused_total{code="RELAY_ENVELOPE_INVALID"}')).toBe(80);
    expect(await metric(server, 'latchkey_relay_channels_held')).toBe(20);
  });

  it('caps the channels a node holds (maxChannels), connected or not, until they expire', async () => {
    const { server, time, peer } = await relay({ maxChannels: 3, channelTtlSeconds: 60 });
    const opened: ReturnType<typeof newChannel>[] = [];
    for (let i = 0; i < 3; i++) {
      const channel = newChannel();
      const dapp = await peer();
      await join(dapp, { uuid: channel.uuid, role: 'dapp', rejoinKey: channel.dappKey });
      dapp.close();
      opened.push(channel);
    }
    const late = newChannel();
    const refused = await (await peer()).ask('join', { uuid: late.uuid, role: 'dapp', rejoinKey: late.dappKey });
    expect(refused).toEqual({
      ok: false,
      error: { code: 'RELAY_RATE_LIMITED', message: 'the relay holds as many channels as it may (3); try again later' },
    });
    expect(await metric(server, 'latchkey_relay_channels_held')).toBe(3);
    // The channels it holds still work: a wallet pairs one, its dApp comes back.
    const first = opened[0]!;
    await join(await peer(), { uuid: first.uuid, role: 'wallet', rejoinKey: first.walletKey });
    await join(await peer(), { uuid: first.uuid, role: 'dapp', rejoinKey: first.dappKey });
    // The two unpaired ones expire; the sweep frees their room without waiting for another join.
    time.advance(60_000 + SWEEP_INTERVAL_MS);
    await settle();
    expect(await metric(server, 'latchkey_relay_channels_held')).toBe(1);
    expect((await (await peer()).ask('join', { uuid: late.uuid, role: 'dapp', rejoinKey: late.dappKey })).ok).toBe(true);
  });

  it('caps the bytes kept for every absent peer together (maxBufferedBytes), and frees them as they are handed over', async () => {
    const { server, peer, paired } = await relay({ maxPayloadBytes: 16_384, bufferBytes: 32_768, maxBufferedBytes: 40_000 });
    const a = await paired();
    const b = await paired();
    for (const { dapp, wallet } of [a, b]) {
      wallet.close();
      await dapp.next('peer_left');
    }
    for (let i = 0; i < 2; i++) expect((await a.dapp.ask('request', requestOf(a.uuid, 16_000))).buffered).toBe(true);
    expect(await b.dapp.ask('request', requestOf(b.uuid, 16_000))).toEqual({
      ok: false,
      error: {
        code: 'RELAY_RATE_LIMITED',
        message: "the wallet is away and the relay's buffers are full (40000 bytes for every channel); try again later",
      },
    });
    // Up to the cap exactly.
    expect((await b.dapp.ask('request', requestOf(b.uuid, 8000))).buffered).toBe(true);
    expect(await metric(server, 'latchkey_relay_buffered_bytes')).toBe(40_000);
    // A's wallet comes back: what was kept for it is handed over and its bytes are free again.
    expect((await join(await peer(), { uuid: a.uuid, role: 'wallet', rejoinKey: a.walletKey })).missed).toHaveLength(2);
    expect(await metric(server, 'latchkey_relay_buffered_bytes')).toBe(8000);
    expect((await b.dapp.ask('request', requestOf(b.uuid, 16_000))).buffered).toBe(true);
  });

  it('drops kept messages on a timer once older than bufferTtlSeconds, on a paired channel nobody touches again', async () => {
    const { server, time, peer, paired } = await relay({ bufferTtlSeconds: 300 });
    const { uuid, walletKey, dapp, wallet } = await paired();
    wallet.close();
    await dapp.next('peer_left');
    for (let i = 0; i < 16; i++) expect((await dapp.ask('request', requestOf(uuid, 65_536))).buffered).toBe(true);
    dapp.close();
    expect(await metric(server, 'latchkey_relay_buffered_bytes')).toBe(16 * 65_536);
    time.set(T0 + 299_999);
    await settle();
    expect(await metric(server, 'latchkey_relay_buffered_bytes')).toBe(16 * 65_536);
    // No join, no message: the relay's own sweep returns the memory.
    time.set(T0 + 300_000 + SWEEP_INTERVAL_MS);
    await settle();
    expect(await metric(server, 'latchkey_relay_buffered_bytes')).toBe(0);
    // The channel itself lives on (paired for a day), with nothing left to hand over.
    expect(await metric(server, 'latchkey_relay_channels_held')).toBe(1);
    expect((await join(await peer(), { uuid, role: 'wallet', rejoinKey: walletKey })).missed).toEqual([]);
  });

  it('caps the connections from one client address (maxConnectionsPerAddress)', async () => {
    const { server, peer } = await relay({ maxConnectionsPerAddress: 2 });
    const first = await peer();
    await peer();
    await expect(connectPeer(server.url)).rejects.toThrow();
    first.close();
    await waitClosed();
    await peer();
    await expect(connectPeer(server.url)).rejects.toThrow();
    expect(await metric(server, 'latchkey_relay_refused_total{code="RELAY_RATE_LIMITED"}')).toBe(2);
  });

  it('counts the address the trusted proxy reports (trustProxy), an IPv6 client by its /64', async () => {
    const { server, peer } = await relay({ maxConnectionsPerAddress: 1 }, { server: { trustProxy: ['127.0.0.1'] } });
    const from = (address: string) => ({ headers: { 'x-forwarded-for': `198.51.100.7, ${address}` } });
    await peer(from('203.0.113.1'));
    await peer(from('203.0.113.2'));
    await expect(connectPeer(server.url, from('203.0.113.1'))).rejects.toThrow();
    await peer(from('2001:db8:1:2::1'));
    await expect(connectPeer(server.url, from('2001:db8:1:2:ffff::9'))).rejects.toThrow();
    await peer(from('2001:db8:1:3::1'));
  });

  it('ignores X-Forwarded-For unless trustProxy names the proxy', async () => {
    const { server, peer } = await relay({ maxConnectionsPerAddress: 1 });
    await peer({ headers: { 'x-forwarded-for': '203.0.113.1' } });
    await expect(connectPeer(server.url, { headers: { 'x-forwarded-for': '203.0.113.2' } })).rejects.toThrow();
  });

  it('caps the joins from one client address per minute (joinsPerMinutePerAddress), across its connections', async () => {
    const { server, time, peer } = await relay({ joinsPerMinutePerAddress: 3 });
    for (let i = 0; i < 3; i++) {
      const { uuid, dappKey } = newChannel();
      await join(await peer(), { uuid, role: 'dapp', rejoinKey: dappKey });
    }
    const { uuid, dappKey } = newChannel();
    const late = await peer();
    expect(await late.ask('join', { uuid, role: 'dapp', rejoinKey: dappKey })).toEqual({
      ok: false,
      error: { code: 'RELAY_RATE_LIMITED', message: 'too many joins from this address (3 a minute); try again in 60 s' },
    });
    // (A connection that has not joined is closed after 30 s: a fresh one asks again.)
    time.set(T0 + 59_000);
    const later = await peer();
    expect((await later.ask('join', { uuid, role: 'dapp', rejoinKey: dappKey })).error?.message).toMatch(/try again in 1 s$/);
    time.set(T0 + 60_000);
    expect((await later.ask('join', { uuid, role: 'dapp', rejoinKey: dappKey })).ok).toBe(true);
    expect(await metric(server, 'latchkey_relay_refused_total{code="RELAY_RATE_LIMITED"}')).toBe(2);
  });

  it('allows 64 connections per address by default; 0 turns the per-address limits off', async () => {
    const limited = await relay();
    await Promise.all(Array.from({ length: 64 }, () => limited.peer()));
    await expect(connectPeer(limited.server.url)).rejects.toThrow();
    const open = await relay({ maxConnectionsPerAddress: 0, joinsPerMinutePerAddress: 0 });
    const peers = await Promise.all(Array.from({ length: 130 }, () => open.peer()));
    for (const p of peers) {
      const { uuid, dappKey } = newChannel();
      await join(p, { uuid, role: 'dapp', rejoinKey: dappKey });
    }
  });
});
