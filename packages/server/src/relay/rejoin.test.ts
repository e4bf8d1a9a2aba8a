// Rejoining and the buffer for a peer that is away, on one node (channels in memory); metrics and logs.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startFixture } from '../../test-support/http/index.js';
import { b64, connectPeer, join, type RelayFixture, relayFixture, settle } from '../../test-support/relay/index.js';
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

describe('relay: a peer that is away', () => {
  it('keeps what is sent to it and hands it over, in order, when it rejoins with its key', async () => {
    const { peer, paired } = await relay();
    const { uuid, walletKey, dapp, wallet } = await paired();
    const sent = [1, 2, 3, 4].map(() => ({ uuid, nonce: b64(12), data: b64(100) }));
    dapp.tell('request', sent[0]);
    expect((await wallet.next('request')).seq).toBe(1);
    wallet.close();
    expect(await dapp.next('peer_left')).toEqual({ role: 'wallet' });
    for (const [i, request] of sent.slice(1).entries()) {
      expect(await dapp.ask('request', request)).toEqual({ ok: true, seq: i + 2, buffered: true });
    }
    const back = await peer();
    const answer = await join(back, { uuid, role: 'wallet', rejoinKey: walletKey, lastSeq: 1 });
    expect(answer.channel?.peerConnected).toBe(true);
    expect(answer.missed).toEqual(sent.slice(1).map((r, i) => ({ event: 'request', ...r, seq: i + 2 })));
    expect(await dapp.next('peer_joined')).toEqual({ role: 'wallet' });
    // Handed over once: the buffer is empty now, and live forwarding continues the numbering.
    expect(await dapp.ask('request', sent[0])).toEqual({ ok: true, seq: 5 });
    expect((await back.next('request')).seq).toBe(5);
    back.close();
    await dapp.next('peer_left');
    const again = await peer();
    expect((await join(again, { uuid, role: 'wallet', rejoinKey: walletKey })).missed).toEqual([]);
  });

  it('keeps the wallet’s connected_uuid for a dApp that reloaded, and skips what the joiner already has (lastSeq)', async () => {
    const { peer, paired } = await relay();
    const { uuid, dappKey, dapp, wallet } = await paired();
    dapp.close();
    await wallet.next('peer_left');
    const hello = { uuid, publicKey: b64(65), nonce: b64(12), data: b64(200) };
    expect(await wallet.ask('connected_uuid', hello)).toEqual({ ok: true, seq: 1, buffered: true });
    const response = { uuid, nonce: b64(12), data: b64(20) };
    expect(await wallet.ask('response', response)).toEqual({ ok: true, seq: 2, buffered: true });
    const reloaded = await peer();
    const answer = await join(reloaded, { uuid, role: 'dapp', rejoinKey: dappKey, lastSeq: 1 });
    expect(answer.missed).toEqual([{ event: 'response', ...response, seq: 2 }]);
  });

  it('without an ack on join, hands kept messages over as ordinary events', async () => {
    const { peer, paired } = await relay();
    const { uuid, walletKey, dapp, wallet } = await paired();
    wallet.close();
    await dapp.next('peer_left');
    const request = { uuid, nonce: b64(12), data: b64(40) };
    await dapp.ask('request', request);
    const back = await peer();
    back.tell('join', { uuid, role: 'wallet', rejoinKey: walletKey });
    expect(await back.next('request')).toEqual({ ...request, seq: 1 });
  });

  it('bounds the buffer by count: past it the sender is refused and nothing older is dropped', async () => {
    const { peer, paired } = await relay({ bufferMessages: 2 });
    const { uuid, walletKey, dapp, wallet } = await paired();
    wallet.close();
    await dapp.next('peer_left');
    const requests = [0, 1, 2].map(() => ({ uuid, nonce: b64(12), data: b64(30) }));
    expect((await dapp.ask('request', requests[0])).buffered).toBe(true);
    expect((await dapp.ask('request', requests[1])).buffered).toBe(true);
    expect(await dapp.ask('request', requests[2])).toEqual({
      ok: false,
      error: {
        code: 'RELAY_RATE_LIMITED',
        message: 'the wallet is away and its buffer is full (2 messages, 1048576 bytes); try again later',
      },
    });
    const back = await peer();
    const missed = (await join(back, { uuid, role: 'wallet', rejoinKey: walletKey })).missed ?? [];
    expect(missed.map((m) => m.data)).toEqual([requests[0]!.data, requests[1]!.data]);
  });

  it('bounds the buffer by bytes, counted as the payload limit counts them', async () => {
    const { paired } = await relay({ maxPayloadBytes: 20_000, bufferBytes: 20_000 });
    const { uuid, dapp, wallet } = await paired();
    wallet.close();
    await dapp.next('peer_left');
    const nonce = b64(12);
    // 36 + 16 + 9948 = 10000 characters: two fit exactly, four more do not.
    expect((await dapp.ask('request', { uuid, nonce, data: 'A'.repeat(9948) })).buffered).toBe(true);
    expect((await dapp.ask('request', { uuid, nonce, data: 'B'.repeat(9948) })).buffered).toBe(true);
    expect((await dapp.ask('request', { uuid, nonce, data: 'CCCC' })).error?.code).toBe('RELAY_RATE_LIMITED');
  });

  it('drops kept messages once they are older than the buffer TTL', async () => {
    const { peer, paired, time } = await relay({ bufferTtlSeconds: 60 });
    const { uuid, walletKey, dapp, wallet } = await paired();
    wallet.close();
    await dapp.next('peer_left');
    const early = { uuid, nonce: b64(12), data: b64(30) };
    const late = { uuid, nonce: b64(12), data: b64(30) };
    await dapp.ask('request', early);
    time.set(T0 + 30_000);
    await dapp.ask('request', late);
    // The early one is exactly 60 s old: gone; the late one is 30 s old.
    time.set(T0 + 60_000);
    const back = await peer();
    const missed = (await join(back, { uuid, role: 'wallet', rejoinKey: walletKey })).missed ?? [];
    expect(missed.map((m) => m.data)).toEqual([late.data]);
  });

  it('counts stale kept messages out of the bound before refusing', async () => {
    const { paired, time } = await relay({ bufferMessages: 1, bufferTtlSeconds: 10 });
    const { uuid, dapp, wallet } = await paired();
    wallet.close();
    await dapp.next('peer_left');
    expect((await dapp.ask('request', { uuid, nonce: b64(12), data: b64(9) })).buffered).toBe(true);
    expect((await dapp.ask('request', { uuid, nonce: b64(12), data: b64(9) })).error?.code).toBe('RELAY_RATE_LIMITED');
    time.advance(10_000);
    expect((await dapp.ask('request', { uuid, nonce: b64(12), data: b64(9) })).buffered).toBe(true);
  });
});

describe('relay: operations', () => {
  it('counts channels, messages and refusals in /metrics', async () => {
    const { server, peer, paired } = await relay();
    const { uuid, dapp, wallet } = await paired();
    await dapp.ask('request', { uuid, nonce: b64(12), data: b64(9) });
    await dapp.ask('request', { uuid, nonce: b64(12), data: b64(9) });
    await wallet.ask('response', { uuid, nonce: b64(12), data: b64(9) });
    await (await peer()).ask('join', { uuid, role: 'wallet', rejoinKey: b64(24) });
    wallet.close();
    await dapp.next('peer_left');
    await dapp.ask('request', { uuid, nonce: b64(12), data: b64(9) });
    const text = await server.metrics();
    expect(text).toMatch(/^latchkey_relay_channels_open 1$/m);
    expect(text).toMatch(/^latchkey_relay_connections 1$/m);
    expect(text).toMatch(/^latchkey_relay_messages_forwarded_total\{event="request"\} 2$/m);
    expect(text).toMatch(/^latchkey_relay_messages_forwarded_total\{event="response"\} 1$/m);
    expect(text).toMatch(/^latchkey_relay_messages_buffered_total\{event="request"\} 1$/m);
    expect(text).toMatch(/^latchkey_relay_refused_total\{code="CONNECT_CHANNEL_FULL"\} 1$/m);
  });

  it('never logs nonce, data, public keys or rejoin keys, refused or forwarded', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const { app } = await startFixture({ server: { relay: { maxPayloadBytes: 16_384 } }, logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const marker = 'SECRETMARKER';
      const uuid = crypto.randomUUID();
      const [dapp, wallet] = [await connectPeer(url), await connectPeer(url)];
      await join(dapp, { uuid, role: 'dapp', rejoinKey: `${marker}dapp0000` });
      await join(wallet, { uuid, role: 'wallet', rejoinKey: `${marker}wall0000` });
      await wallet.ask('connected_uuid', { uuid, publicKey: `${marker}pk`, nonce: `${marker}nn`, data: `${marker}dd` });
      await dapp.ask('request', { uuid, nonce: `${marker}n1`, data: `${marker}d1` });
      await dapp.ask('request', { uuid, nonce: `${marker}n2`, data: `${marker}+bad` });
      await dapp.ask('request', { uuid, nonce: `${marker}n3`, data: marker.repeat(1400) });
      await dapp.ask('join', { uuid, role: 'dapp', rejoinKey: `${marker}again000` });
      await wallet.ask('request', { uuid, nonce: `${marker}n4`, data: `${marker}d4` });
      dapp.close();
      wallet.close();
      await settle();
      expect(lines.some((l) => l.includes('relay refused'))).toBe(true);
      expect(lines.filter((l) => l.includes(marker))).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('is off unless asked for, and refuses the main namespace when on', async () => {
    const { app } = await startFixture();
    expect((await app.inject({ method: 'GET', url: '/v1/relay/?EIO=4&transport=polling' })).statusCode).toBe(404);
    await app.close();
    const { server } = await relay();
    const main = io(server.url, { path: '/v1/relay', transports: ['websocket'], forceNew: true, reconnection: false });
    try {
      const error = await new Promise<Error>((resolve) => main.once('connect_error', resolve));
      expect(error.message).toBe('the relay namespace is /connect');
    } finally {
      main.close();
    }
  });
});
