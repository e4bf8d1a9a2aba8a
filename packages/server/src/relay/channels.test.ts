// One suite, every channel store: the same answers in memory and on Redis (real Redis on 127.0.0.1:6379).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { redisAnswers } from '@latchkey/redis';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChannelLimits, type ChannelStore, type MissedMessage, TAKEOVER_SEQ_GAP } from './channels.js';
import { MemoryChannelStore } from './memory-channels.js';
import { RedisChannelStore } from './redis-channels.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const isRedisAnswering = await redisAnswers(REDIS_URL);
if (!isRedisAnswering && process.env.CI === 'true') {
  throw new Error('Redis does not answer on 127.0.0.1:6379 and CI=true: the relay Redis tests must run in CI, not skip.');
}

const T0 = Date.UTC(2026, 0, 1, 12);
const LIMITS: ChannelLimits = {
  joinWindowMs: 600_000,
  pairedTtlMs: 86_400_000,
  bufferMessages: 3,
  bufferBytes: 1000,
  bufferTtlMs: 60_000,
  maxChannels: 1000,
  maxBufferedBytes: 1_000_000,
};
const hash = (key: string): string => createHash('sha256').update(key).digest('hex');
const DAPP_KEY = hash('dapp-key');
const WALLET_KEY = hash('wallet-key');

function message(seq: number, data = 'AAAA'): MissedMessage {
  return { event: 'request', uuid: '00000000-0000-4000-8000-000000000000', nonce: 'bm9uY2U', data, seq };
}

const redis = isRedisAnswering
  ? new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, commandTimeout: 1000 })
  : null;
await redis?.connect();
const prefix = `lktest:relay:${randomBytes(6).toString('hex')}:`;
afterAll(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const stores: [string, boolean, () => ChannelStore][] = [
  ['memory', true, () => new MemoryChannelStore(LIMITS)],
  ['redis', isRedisAnswering, () => new RedisChannelStore({ client: redis!, keyPrefix: prefix, limits: LIMITS })],
];

describe.each(stores)('channel store: %s', (_name, isAvailable, make) => {
  const it_ = it.skipIf(!isAvailable);
  const store = isAvailable ? make() : (null as unknown as ChannelStore);
  const open = async (uuid = randomUUID(), expiresAt?: number) => {
    const created = await store.join({
      uuid,
      role: 'dapp',
      keyHash: DAPP_KEY,
      connectionId: 'd1',
      now: T0,
      ...(expiresAt ? { expiresAt } : {}),
    });
    return { uuid, created };
  };

  it_('a dApp creates a channel within the join window; a wallet alone cannot', async () => {
    const { uuid, created } = await open();
    expect(created).toEqual({
      kind: 'joined',
      expiresAt: T0 + 600_000,
      isPaired: false,
      replaced: null,
      epoch: 1,
      peer: { isConnected: false, epoch: 0 },
      seqBase: 0,
      missed: [],
    });
    expect(await store.join({ uuid: randomUUID(), role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w1', now: T0 })).toEqual({
      kind: 'expired',
    });
    expect((await open(randomUUID(), T0 + 5000)).created).toMatchObject({ expiresAt: T0 + 5000 });
    expect((await open(randomUUID(), T0 + 10 * 600_000)).created).toMatchObject({ expiresAt: T0 + 600_000 });
    expect((await open(randomUUID(), T0)).created).toEqual({ kind: 'expired' });
    expect(await store.expire(uuid, T0 + 599_999)).toBe(T0 + 600_000);
  });

  it_("the wallet's first join pairs the channel and moves its expiry; a wrong key is refused", async () => {
    const { uuid } = await open();
    const joined = await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w1', now: T0 + 1000 });
    expect(joined).toMatchObject({
      kind: 'joined',
      isPaired: true,
      expiresAt: T0 + 1000 + 86_400_000,
      peer: { isConnected: true, epoch: 1 },
    });
    for (const [role, keyHash] of [
      ['wallet', DAPP_KEY],
      ['dapp', WALLET_KEY],
      ['wallet', hash('other')],
    ] as const) {
      expect(await store.join({ uuid, role, keyHash, connectionId: 'x', now: T0 + 2000 })).toEqual({ kind: 'full' });
    }
  });

  it_('leave frees the slot only for its holder and records the last seq sent; a takeover jumps the seq', async () => {
    const { uuid } = await open();
    await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w1', now: T0 });
    expect(await store.leave({ uuid, role: 'dapp', connectionId: 'not-d1', lastSeq: 99 })).toEqual({ wasCurrent: false });
    expect(await store.leave({ uuid, role: 'dapp', connectionId: 'd1', lastSeq: 7 })).toEqual({ wasCurrent: true, epoch: 2 });
    const back = await store.join({ uuid, role: 'dapp', keyHash: DAPP_KEY, connectionId: 'd2', now: T0 });
    expect(back).toMatchObject({ kind: 'joined', replaced: null, epoch: 3, seqBase: 7, peer: { isConnected: true } });
    // d2 never left: d3 takes the slot over, and numbers after anything d2 could have sent.
    const over = await store.join({ uuid, role: 'dapp', keyHash: DAPP_KEY, connectionId: 'd3', now: T0 });
    expect(over).toMatchObject({ kind: 'joined', replaced: 'd2', epoch: 4, seqBase: 7 + TAKEOVER_SEQ_GAP });
    expect(await store.leave({ uuid, role: 'dapp', connectionId: 'd2', lastSeq: 8 })).toEqual({ wasCurrent: false });
  });

  it_('keeps messages only for an absent recipient, bounded by count and bytes, and hands them over once', async () => {
    const { uuid } = await open();
    await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w1', now: T0 });
    const keep = (seq: number, bytes = 10, now = T0) =>
      store.buffer({ uuid, recipient: 'wallet', now, message: message(seq), bytes });
    expect(await keep(1)).toEqual({ kind: 'present', epoch: 1 });
    await store.leave({ uuid, role: 'wallet', connectionId: 'w1', lastSeq: 0 });
    expect(await keep(1)).toEqual({ kind: 'buffered' });
    expect(await keep(2, 991)).toEqual({ kind: 'full' });
    expect(await keep(3, 990)).toEqual({ kind: 'buffered' });
    expect(await keep(4, 1)).toEqual({ kind: 'full' });
    const back = await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w2', now: T0, lastSeq: 0 });
    expect(back).toMatchObject({ kind: 'joined', missed: [message(1), message(3)] });
    await store.leave({ uuid, role: 'wallet', connectionId: 'w2', lastSeq: 0 });
    for (const seq of [5, 6, 7]) expect(await keep(seq, 1)).toEqual({ kind: 'buffered' });
    expect(await keep(8, 1)).toEqual({ kind: 'full' });
    // Handed over at most once, and only what is newer than the joiner's lastSeq.
    const again = await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w3', now: T0, lastSeq: 5 });
    expect(again).toMatchObject({ missed: [message(6), message(7)], seqBase: 0 });
    await store.leave({ uuid, role: 'wallet', connectionId: 'w3', lastSeq: 0 });
    expect(await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w4', now: T0 })).toMatchObject({
      missed: [],
    });
  });

  it_('keeps nothing for a seat no one ever claimed: a dApp has nothing to send a wallet that never came', async () => {
    const { uuid } = await open();
    expect(await store.buffer({ uuid, recipient: 'wallet', now: T0, message: message(1), bytes: 10 })).toEqual({
      kind: 'unclaimed',
    });
    await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w1', now: T0 });
    await store.leave({ uuid, role: 'wallet', connectionId: 'w1', lastSeq: 0 });
    expect(await store.buffer({ uuid, recipient: 'wallet', now: T0, message: message(1), bytes: 10 })).toEqual({
      kind: 'buffered',
    });
  });

  it_('drops kept messages once the buffer TTL has passed, and frees their room', async () => {
    const { uuid } = await open();
    await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w1', now: T0 });
    await store.leave({ uuid, role: 'wallet', connectionId: 'w1', lastSeq: 0 });
    const keep = (seq: number, now: number, bytes = 400) =>
      store.buffer({ uuid, recipient: 'wallet', now, message: message(seq), bytes });
    expect(await keep(1, T0)).toEqual({ kind: 'buffered' });
    expect(await keep(2, T0 + 30_000)).toEqual({ kind: 'buffered' });
    expect(await keep(3, T0 + 59_999)).toEqual({ kind: 'full' });
    // At T0 + 60 s the first is stale: dropped, its bytes with it.
    expect(await keep(3, T0 + 60_000)).toEqual({ kind: 'buffered' });
    const back = await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w2', now: T0 + 90_000 });
    expect(back).toMatchObject({ missed: [message(3)] });
  });

  it_('expires: answers the expiry while live, then deletes the channel, and joins find it gone', async () => {
    const { uuid } = await open(randomUUID(), T0 + 1000);
    expect(await store.expire(uuid, T0 + 999)).toBe(T0 + 1000);
    expect(await store.buffer({ uuid, recipient: 'wallet', now: T0 + 1000, message: message(1), bytes: 1 })).toEqual({
      kind: 'gone',
    });
    expect(await store.expire(uuid, T0 + 1000)).toBeNull();
    expect(await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w1', now: T0 + 1000 })).toEqual({
      kind: 'expired',
    });
    expect(await store.leave({ uuid, role: 'dapp', connectionId: 'd1', lastSeq: 1 })).toEqual({ wasCurrent: false });
  });
});

describe.skipIf(!isRedisAnswering)('channel store: redis keys', () => {
  it('keeps a channel in one hash slot, with TTLs, and never stores the rejoin key itself', async () => {
    const store = new RedisChannelStore({ client: redis!, keyPrefix: prefix, limits: LIMITS });
    const uuid = randomUUID();
    await store.join({ uuid, role: 'dapp', keyHash: DAPP_KEY, connectionId: 'd1', now: T0 });
    await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w1', now: T0 });
    await store.leave({ uuid, role: 'wallet', connectionId: 'w1', lastSeq: 0 });
    await store.buffer({ uuid, recipient: 'wallet', now: T0, message: message(1), bytes: 4 });
    const keys = (await redis!.keys(`${prefix}relay:{${uuid}}*`)).sort();
    expect(keys).toEqual([`${prefix}relay:{${uuid}}`, `${prefix}relay:{${uuid}}:to:wallet`]);
    const ttl = await redis!.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(86_390_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
    expect(await redis!.pttl(keys[1]!)).toBeLessThanOrEqual(60_000);
    const fields = await redis!.hgetall(keys[0]!);
    expect(fields.dk).toBe(DAPP_KEY);
    expect(JSON.stringify(fields)).not.toContain('dapp-key');
  });

  it('fails closed: a client that cannot reach Redis makes every method reject', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    dead.on('error', () => {});
    const store = new RedisChannelStore({ client: dead, keyPrefix: prefix, limits: LIMITS });
    const uuid = randomUUID();
    await expect(store.join({ uuid, role: 'dapp', keyHash: DAPP_KEY, connectionId: 'd1', now: T0 })).rejects.toThrow();
    await expect(store.buffer({ uuid, recipient: 'wallet', now: T0, message: message(1), bytes: 1 })).rejects.toThrow();
    await expect(store.expire(uuid, T0)).rejects.toThrow();
    dead.disconnect();
  });
});

describe('channel store: memory, what one node holds', () => {
  /** A channel whose wallet joined and left, so messages for it are kept. */
  const pairedAway = async (store: MemoryChannelStore, uuid = randomUUID(), now = T0): Promise<string> => {
    await store.join({ uuid, role: 'dapp', keyHash: DAPP_KEY, connectionId: `d-${uuid}`, now });
    await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: `w-${uuid}`, now });
    await store.leave({ uuid, role: 'wallet', connectionId: `w-${uuid}`, lastSeq: 0 });
    return uuid;
  };
  const keep = (store: MemoryChannelStore, uuid: string, bytes: number, now = T0, seq = 1) =>
    store.buffer({ uuid, recipient: 'wallet', now, message: message(seq), bytes });

  it('refuses to create a channel past maxChannels; rejoins of the channels it holds still work; expiry frees room', async () => {
    const store = new MemoryChannelStore({ ...LIMITS, maxChannels: 2 });
    const first = await pairedAway(store, randomUUID());
    const second = randomUUID();
    await store.join({ uuid: second, role: 'dapp', keyHash: DAPP_KEY, connectionId: 'd', now: T0, expiresAt: T0 + 1000 });
    expect(store.held()).toEqual({ channels: 2, bufferedBytes: 0 });
    expect(await store.join({ uuid: randomUUID(), role: 'dapp', keyHash: DAPP_KEY, connectionId: 'x', now: T0 })).toEqual({
      kind: 'capacity',
    });
    expect(await store.join({ uuid: first, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w2', now: T0 })).toMatchObject({
      kind: 'joined',
    });
    // The second expires at T0 + 1 s: a sweep deletes it and makes room.
    await store.sweep(T0 + 1000);
    expect(store.held()).toEqual({ channels: 1, bufferedBytes: 0 });
    expect(
      await store.join({ uuid: randomUUID(), role: 'dapp', keyHash: DAPP_KEY, connectionId: 'y', now: T0 + 1000 }),
    ).toMatchObject({
      kind: 'joined',
    });
  });

  it('refuses to keep a message past maxBufferedBytes for all channels together, and counts every way bytes leave', async () => {
    const store = new MemoryChannelStore({ ...LIMITS, maxBufferedBytes: 1500 });
    const a = await pairedAway(store);
    const b = await pairedAway(store);
    expect(await keep(store, a, 900)).toEqual({ kind: 'buffered' });
    expect(await keep(store, b, 601)).toEqual({ kind: 'capacity' });
    expect(await keep(store, b, 600, T0 + 30_000)).toEqual({ kind: 'buffered' });
    expect(store.held()).toEqual({ channels: 2, bufferedBytes: 1500 });
    // Handed over on a rejoin.
    await store.join({ uuid: a, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w9', now: T0 });
    expect(store.held().bufferedBytes).toBe(600);
    // Dropped by the sweep once stale (B's was kept at T0 + 30 s, the TTL is 60 s).
    await store.sweep(T0 + 89_999);
    expect(store.held().bufferedBytes).toBe(600);
    await store.sweep(T0 + 90_000);
    expect(store.held().bufferedBytes).toBe(0);
    // Deleted with its channel.
    expect(await keep(store, b, 100, T0 + 90_000, 2)).toEqual({ kind: 'buffered' });
    expect(await store.expire(b, T0 + 86_400_000)).toBeNull();
    expect(store.held()).toEqual({ channels: 1, bufferedBytes: 0 });
  });

  it('sweeps a stale message kept on a paired channel nobody touches again', async () => {
    const store = new MemoryChannelStore(LIMITS);
    const uuid = await pairedAway(store);
    for (const seq of [1, 2, 3]) expect(await keep(store, uuid, 100, T0, seq)).toEqual({ kind: 'buffered' });
    await store.sweep(T0 + 60_000);
    expect(store.held()).toEqual({ channels: 1, bufferedBytes: 0 });
    expect(await store.join({ uuid, role: 'wallet', keyHash: WALLET_KEY, connectionId: 'w2', now: T0 + 60_000 })).toMatchObject({
      missed: [],
    });
  });
});
