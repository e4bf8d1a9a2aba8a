// Two relay nodes in this process sharing channels through Redis (real Redis on 127.0.0.1:6379), and a
// relay whose Redis goes away behind a TCP proxy the test cuts.
import { randomBytes } from 'node:crypto';
import { createConnection, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { redisAnswers } from '@latchkey/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  b64,
  connectPeer,
  join,
  newChannel,
  type RelayPeer,
  type RelayServer,
  settle,
  startRelayServer,
} from '../../test-support/relay/index.js';
import type { RelayOptions } from './options.js';
import { ManualScheduler } from './scheduler.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const isRedisAnswering = await redisAnswers(REDIS_URL);
if (!isRedisAnswering && process.env.CI === 'true') {
  throw new Error('Redis does not answer on 127.0.0.1:6379 and CI=true: the relay Redis tests must run in CI, not skip.');
}

const T0 = Date.UTC(2026, 0, 1, 12);
const prefix = `lktest:relay:${randomBytes(6).toString('hex')}:`;
const servers = new Set<RelayServer>();
const peers = new Set<RelayPeer>();

afterEach(async () => {
  for (const p of peers) p.close();
  peers.clear();
  await Promise.all([...servers].map((s) => s.close()));
  servers.clear();
});

afterAll(async () => {
  if (!isRedisAnswering) return;
  const admin = new Redis(REDIS_URL);
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

async function node(options: RelayOptions): Promise<RelayServer> {
  const server = await startRelayServer(options);
  servers.add(server);
  return server;
}

async function peer(server: RelayServer): Promise<RelayPeer> {
  const p = await connectPeer(server.url);
  peers.add(p);
  return p;
}

describe.skipIf(!isRedisAnswering)('relay on two nodes sharing Redis', () => {
  it('connects a dApp on node A with a wallet on node B, both ways, and hands kept messages to a rejoin on the other node', async () => {
    const time = new ManualScheduler(T0);
    const shared: RelayOptions = { scheduler: time, redis: { url: REDIS_URL, keyPrefix: prefix } };
    const [a, b] = [await node(shared), await node(shared)];
    const { uuid, dappKey, walletKey } = newChannel();
    const dapp = await peer(a);
    const wallet = await peer(b);
    await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey });
    expect((await join(wallet, { uuid, role: 'wallet', rejoinKey: walletKey })).channel?.peerConnected).toBe(true);
    expect(await dapp.next('peer_joined')).toEqual({ role: 'wallet' });

    const hello = { uuid, publicKey: b64(65), nonce: b64(12), data: b64(400) };
    expect(await wallet.ask('connected_uuid', hello)).toEqual({ ok: true, seq: 1 });
    expect(await dapp.next('connected_uuid')).toEqual({ ...hello, seq: 1 });
    const request = { uuid, nonce: b64(12), data: b64(1024) };
    expect(await dapp.ask('request', request)).toEqual({ ok: true, seq: 1 });
    expect(await wallet.next('request')).toEqual({ ...request, seq: 1 });
    const response = { uuid, nonce: b64(12), data: b64(100) };
    expect(await wallet.ask('response', response)).toEqual({ ok: true, seq: 2 });
    expect(await dapp.next('response')).toEqual({ ...response, seq: 2 });

    // A third peer on either node is refused.
    const intruder = await peer(b);
    expect((await intruder.ask('join', { uuid, role: 'wallet', rejoinKey: b64(24) })).error?.code).toBe('CONNECT_CHANNEL_FULL');

    // The wallet drops from B; node A learns it and keeps the dApp's requests.
    wallet.close();
    expect(await dapp.next('peer_left')).toEqual({ role: 'wallet' });
    const away = [b64(50), b64(60)].map((data) => ({ uuid, nonce: b64(12), data }));
    for (const [i, r] of away.entries()) expect(await dapp.ask('request', r)).toEqual({ ok: true, seq: i + 2, buffered: true });

    // It comes back on A, the dApp's node, and gets them in order.
    const back = await peer(a);
    const rejoined = await join(back, { uuid, role: 'wallet', rejoinKey: walletKey, lastSeq: 1 });
    expect(rejoined.missed).toEqual(away.map((r, i) => ({ event: 'request', ...r, seq: i + 2 })));
    expect(await dapp.next('peer_joined')).toEqual({ role: 'wallet' });
    expect(await back.ask('response', response)).toEqual({ ok: true, seq: 3 });
    expect((await dapp.next('response')).seq).toBe(3);

    // And the dApp moves to B: the wallet's answer sent while it was away waits for it there.
    dapp.close();
    expect(await back.next('peer_left')).toEqual({ role: 'dapp' });
    expect(await back.ask('response', response)).toEqual({ ok: true, seq: 4, buffered: true });
    const moved = await peer(b);
    expect((await join(moved, { uuid, role: 'dapp', rejoinKey: dappKey, lastSeq: 3 })).missed).toEqual([
      { event: 'response', ...response, seq: 4 },
    ]);
    expect(await moved.ask('request', request)).toEqual({ ok: true, seq: 4 });
    expect((await back.next('request')).seq).toBe(4);
  });

  it('expires an unpaired channel on the node of its dApp; a wallet on the other node then finds it expired', async () => {
    const time = new ManualScheduler(T0);
    const shared: RelayOptions = { scheduler: time, redis: { url: REDIS_URL, keyPrefix: prefix }, channelTtlSeconds: 60 };
    const [a, b] = [await node(shared), await node(shared)];
    const { uuid, dappKey, walletKey } = newChannel();
    const dapp = await peer(a);
    await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey });
    time.set(T0 + 60_000);
    expect(await dapp.next('channel_expired')).toEqual({ uuid });
    await dapp.closed();
    const wallet = await peer(b);
    expect((await wallet.ask('join', { uuid, role: 'wallet', rejoinKey: walletKey })).error?.code).toBe(
      'CONNECT_CHANNEL_EXPIRED',
    );
  });

  it('keeps nothing in Redis for a wallet that never joined', async () => {
    const a = await node({ redis: { url: REDIS_URL, keyPrefix: prefix } });
    const { uuid, dappKey } = newChannel();
    const dapp = await peer(a);
    await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey });
    expect((await dapp.ask('request', { uuid, nonce: b64(12), data: b64(30_000) })).error).toEqual({
      code: 'RELAY_ENVELOPE_INVALID',
      message: 'request: the wallet has not joined this channel; nothing is kept for it',
    });
    const admin = new Redis(REDIS_URL);
    expect(await admin.exists(`${prefix}relay:{${uuid}}:to:wallet`)).toBe(0);
    admin.disconnect();
  });

  it('caps the channels with a connection on this node (maxChannels); Redis bounds each channel by its TTLs', async () => {
    const a = await node({ redis: { url: REDIS_URL, keyPrefix: prefix }, maxChannels: 1 });
    const [one, two] = [newChannel(), newChannel()];
    const first = await peer(a);
    await join(first, { uuid: one.uuid, role: 'dapp', rejoinKey: one.dappKey });
    const second = await peer(a);
    expect((await second.ask('join', { uuid: two.uuid, role: 'dapp', rejoinKey: two.dappKey })).error).toEqual({
      code: 'RELAY_RATE_LIMITED',
      message: 'the relay holds as many channels as it may (1); try again later',
    });
    // A second connection of the channel it holds is no new channel.
    expect((await (await peer(a)).ask('join', { uuid: one.uuid, role: 'wallet', rejoinKey: one.walletKey })).ok).toBe(true);
    first.close();
    await (await peer(a)).ask('join', { uuid: one.uuid, role: 'wallet', rejoinKey: b64(24) });
    await settle(100);
  });

  it('keeps nodes on different key prefixes apart', async () => {
    const a = await node({ redis: { url: REDIS_URL, keyPrefix: `${prefix}one:` } });
    const b = await node({ redis: { url: REDIS_URL, keyPrefix: `${prefix}two:` } });
    const { uuid, dappKey, walletKey } = newChannel();
    await join(await peer(a), { uuid, role: 'dapp', rejoinKey: dappKey });
    expect((await (await peer(b)).ask('join', { uuid, role: 'wallet', rejoinKey: walletKey })).error?.code).toBe(
      'CONNECT_CHANNEL_EXPIRED',
    );
  });
});

/**
 * A TCP proxy to Redis that a test can cut (every connection dropped, new ones refused) and restore, or
 * stall (connections stay open, Redis' replies are held back) and resume.
 */
async function redisProxy(): Promise<{
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const pipes = new Map<Socket, Socket>();
  let server: NetServer;
  let port = 0;
  const listen = async (): Promise<void> => {
    server = createNetServer((client) => {
      const upstream = createConnection(6379, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      pipes.set(upstream, client);
      upstream.on('close', () => pipes.delete(upstream));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };
  await listen();
  const cut = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  };
  const stall = (): void => {
    for (const [upstream, client] of pipes) upstream.unpipe(client);
  };
  const resume = (): void => {
    for (const [upstream, client] of pipes) upstream.pipe(client);
  };
  return { url: `redis://127.0.0.1:${port}`, cut, restore: listen, stall, resume, close: cut };
}

describe.skipIf(!isRedisAnswering)('relay when Redis goes away', () => {
  it('fails closed: joins and messages for an absent peer are refused with STORE_UNAVAILABLE, and it recovers', async () => {
    const proxy = await redisProxy();
    try {
      const server = await node({ redis: { url: proxy.url, keyPrefix: prefix, commandTimeoutMs: 300 } });
      const { uuid, dappKey, walletKey } = newChannel();
      const dapp = await peer(server);
      const wallet = await peer(server);
      await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey });
      await join(wallet, { uuid, role: 'wallet', rejoinKey: walletKey });
      await dapp.next('peer_joined');

      await proxy.cut();
      const other = newChannel();
      const late = await peer(server);
      expect(await late.ask('join', { uuid: other.uuid, role: 'dapp', rejoinKey: other.dappKey })).toEqual({
        ok: false,
        error: { code: 'STORE_UNAVAILABLE', message: 'The session store could not answer.' },
      });
      // Both peers on this node: forwarding needs no store.
      expect((await dapp.ask('request', { uuid, nonce: b64(12), data: b64(10) })).ok).toBe(true);
      expect((await wallet.next('request')).seq).toBe(1);
      // The wallet leaves: a message for it cannot be kept, so it is refused rather than lost.
      wallet.close();
      await settle(100);
      expect((await dapp.ask('request', { uuid, nonce: b64(12), data: b64(10) })).error?.code).toBe('STORE_UNAVAILABLE');
      expect(await server.metrics()).toMatch(/^latchkey_relay_refused_total\{code="STORE_UNAVAILABLE"\} 2$/m);

      await proxy.restore();
      const deadline = Date.now() + 8000;
      let answer = await late.ask('join', { uuid: other.uuid, role: 'dapp', rejoinKey: other.dappKey });
      while (!answer.ok && Date.now() < deadline) {
        await settle(200);
        answer = await late.ask('join', { uuid: other.uuid, role: 'dapp', rejoinKey: other.dappKey });
      }
      expect(answer.ok).toBe(true);
    } finally {
      await Promise.all([...servers].map((s) => s.close()));
      servers.clear();
      await proxy.close();
    }
  });

  it('refuses a message for a peer on another node when the publish fails, rather than acking it and losing it', async () => {
    const proxy = await redisProxy();
    let isCut = false;
    try {
      const a = await node({ redis: { url: proxy.url, keyPrefix: prefix, commandTimeoutMs: 300 } });
      const b = await node({ redis: { url: REDIS_URL, keyPrefix: prefix } });
      const { uuid, dappKey, walletKey } = newChannel();
      const dapp = await peer(a);
      const wallet = await peer(b);
      await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey });
      await join(wallet, { uuid, role: 'wallet', rejoinKey: walletKey });
      await dapp.next('peer_joined');
      expect(await dapp.ask('request', { uuid, nonce: b64(12), data: b64(10) })).toEqual({ ok: true, seq: 1 });
      expect((await wallet.next('request')).seq).toBe(1);

      await proxy.cut();
      isCut = true;
      await settle(100);
      expect(await dapp.ask('request', { uuid, nonce: b64(12), data: b64(10) })).toEqual({
        ok: false,
        error: { code: 'STORE_UNAVAILABLE', message: 'The session store could not answer.' },
      });
      // Without an ack the refusal comes as relay_error.
      dapp.tell('request', { uuid, nonce: b64(12), data: b64(10) });
      expect((await dapp.next('relay_error')).error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await settle();
      expect(wallet.received.filter((r) => r.event === 'request')).toHaveLength(1);
    } finally {
      // A node closes its Redis clients cleanly only when Redis answers.
      if (isCut) await proxy.restore();
      await Promise.all([...servers].map((s) => s.close()));
      servers.clear();
      await proxy.close();
    }
  });

  it('refuses a message for a peer on another node when Redis takes its publish but never answers', async () => {
    const proxy = await redisProxy();
    try {
      const a = await node({ redis: { url: proxy.url, keyPrefix: prefix, commandTimeoutMs: 300 } });
      const b = await node({ redis: { url: REDIS_URL, keyPrefix: prefix } });
      const { uuid, dappKey, walletKey } = newChannel();
      const dapp = await peer(a);
      const wallet = await peer(b);
      await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey });
      await join(wallet, { uuid, role: 'wallet', rejoinKey: walletKey });
      await dapp.next('peer_joined');
      expect(await dapp.ask('request', { uuid, nonce: b64(12), data: b64(10) })).toEqual({ ok: true, seq: 1 });

      proxy.stall();
      const started = Date.now();
      expect(await dapp.ask('request', { uuid, nonce: b64(12), data: b64(10) })).toEqual({
        ok: false,
        error: { code: 'STORE_UNAVAILABLE', message: 'The session store could not answer.' },
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      proxy.resume();
      // Redis answers again: the next message goes through.
      expect((await dapp.ask('request', { uuid, nonce: b64(12), data: b64(10) })).ok).toBe(true);
    } finally {
      proxy.resume();
      await Promise.all([...servers].map((s) => s.close()));
      servers.clear();
      await proxy.close();
    }
  });

  it('refuses to start when Redis does not answer', async () => {
    await expect(startRelayServer({ redis: { url: 'redis://127.0.0.1:1', commandTimeoutMs: 300 } })).rejects.toThrow();
  });
});
