import { randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  type AuditDraft,
  type AuditEntry,
  cryptoRandom,
  type LimitPolicy,
  MemoryStore,
  newSessionId,
  type SessionRecord,
  type Store,
  verifyAuditChain,
  walletTag,
} from '@latchkey/core';
import { describeStoreConformance, type StoreHarness } from '@latchkey/core/conformance';
import { Cluster, type ClusterOptions, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStore, type RedisStoreOptions } from './index.js';
import { KeyLayout } from './keys.js';
import { redisAnswers } from './probe.js';
import { ENTRY_TTL_SLACK_MS } from './store.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

const available = await redisAnswers(REDIS_URL);
if (!available && process.env.CI === 'true') {
  throw new Error('Redis does not answer on 127.0.0.1:6379 and CI=true: the Redis store tests must run in CI, not skip.');
}
if (!available) console.warn('@latchkey/redis: Redis does not answer on 127.0.0.1:6379; skipping the Redis store tests.');

// ---- harness ------------------------------------------------------------------------------------

const prefixes = new Set<string>();
const clients: Redis[] = [];
let adminClient: Redis | null = null;

function admin(): Redis {
  adminClient ??= new Redis(REDIS_URL);
  return adminClient;
}

function newPrefix(): string {
  const prefix = `lktest:${randomBytes(6).toString('hex')}:`;
  prefixes.add(prefix);
  return prefix;
}

function openStore(options: Omit<RedisStoreOptions, 'keyPrefix' | 'url'> & { keyPrefix?: string } = {}): RedisStore {
  const keyPrefix = options.keyPrefix ?? newPrefix();
  return new RedisStore(options.client ? { ...options, keyPrefix } : { url: REDIS_URL, ...options, keyPrefix });
}

/** A loopback port nothing listens on: bind, note the port, let it go. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function auditEntryKey(store: RedisStore, appId: string): Promise<string> {
  return new KeyLayout(store.keyPrefix).auditEntries(appId);
}

async function deleteKeys(prefix: string): Promise<void> {
  const c = admin();
  let cursor = '0';
  do {
    const [next, keys] = await c.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await c.unlink(...keys);
  } while (cursor !== '0');
}

const harness: StoreHarness<RedisStore> = {
  name: 'redis',
  async open() {
    return openStore();
  },
  async reopen(store) {
    return openStore({ keyPrefix: store.keyPrefix });
  },
  async openUnavailable() {
    return new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, keyPrefix: newPrefix() });
  },
  async tamperAudit(store, appId, seq, change) {
    const key = await auditEntryKey(store, appId);
    const stored = await admin().hget(key, String(seq));
    if (stored === null) throw new Error(`no audit entry ${seq}`);
    const entry = JSON.parse(stored) as AuditEntry;
    change(entry);
    await admin().hset(key, String(seq), JSON.stringify(entry));
  },
  async deleteAudit(store, appId, seq) {
    await admin().hdel(await auditEntryKey(store, appId), String(seq));
  },
  async teardown() {
    for (const prefix of prefixes) await deleteKeys(prefix);
    for (const c of clients) c.disconnect();
    await adminClient?.quit();
    adminClient = null;
  },
};

if (available) describeStoreConformance(harness);

// ---- Redis-specific behaviour -------------------------------------------------------------------

const ALICE = 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';
const BOB = 'eip155:1:0x71C7656EC7ab88b098defB751B7401B5f6d8976F';
const SOL = 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy';
const MIN = 60_000;

const secretHash = (): string => randomBytes(32).toString('base64url');

function makeRecord(
  appId: string,
  subject: string,
  now: number,
  o: { idleMs?: number; absoluteMs?: number; authMethod?: string } = {},
): SessionRecord {
  return {
    id: newSessionId(appId, subject, cryptoRandom),
    appId,
    subject,
    chainType: subject.startsWith('solana:') ? 'solana' : 'eip155',
    userId: null,
    authMethod: o.authMethod ?? 'siwe',
    scope: 'read-write',
    roles: ['member'],
    device: { deviceId: 'd1' },
    createdAt: now,
    lastActiveAt: now,
    idleExpiresAt: now + (o.idleMs ?? 10 * MIN),
    absoluteExpiresAt: now + (o.absoluteMs ?? 60 * MIN),
    tokenHash: secretHash(),
    refresh: { hash: secretHash(), generation: 0, previousHash: null, rotatedAt: null, successor: null, retired: [] },
    data: null,
  };
}

/** Redis Cluster's HASH_SLOT: CRC16-XMODEM of the hash tag (or the whole key) mod 16384. */
function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** Records every command a client sends: the names, and each script call's keys. */
function recordCommands(client: Redis): string[] & { scriptKeys: string[][] } {
  const sent = Object.assign([] as string[], { scriptKeys: [] as string[][] });
  const original = client.sendCommand.bind(client);
  client.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    const { name, args: commandArgs } = args[0];
    sent.push(name);
    if (name === 'evalsha' || name === 'eval') {
      sent.scriptKeys.push(commandArgs.slice(2, 2 + Number(commandArgs[1])).map(String));
    }
    return original(...args);
  };
  return sent;
}

function ownClient(): Redis {
  const c = new Redis(REDIS_URL);
  clients.push(c);
  return c;
}

describe.skipIf(!available)('RedisStore on Redis', () => {
  const stores: Store[] = [];
  const track = <S extends Store>(s: S): S => {
    stores.push(s);
    return s;
  };
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {});
  });

  it('validates in one round trip (an HMGET), and a second (the touch script) only when the activity write is due', async () => {
    const client = ownClient();
    const store = track(openStore({ client }));
    const now = Date.now();
    const rec = makeRecord('default', ALICE, now);
    await store.createSession({ record: rec, limit: 5, policy: 'evict-oldest', now });
    const input = {
      appId: 'default',
      id: rec.id,
      tokenHash: rec.tokenHash,
      now,
      activeBefore: now - MIN,
      idleExpiresAt: now + 10 * MIN,
    };
    await store.validateSession(input); // loads the script on first use

    const sent = recordCommands(client);
    expect(await store.validateSession({ ...input, now: now + 1 })).toMatchObject({ id: rec.id, lastActiveAt: now });
    expect([...sent]).toEqual(['hmget']);
    sent.length = 0;
    const touched = await store.validateSession({
      ...input,
      now: now + 2 * MIN,
      activeBefore: now + MIN,
      idleExpiresAt: now + 12 * MIN,
    });
    expect(touched).toMatchObject({ lastActiveAt: now + 2 * MIN, idleExpiresAt: now + 12 * MIN });
    expect([...sent]).toEqual(['hmget', 'evalsha']);
    sent.length = 0;
    await store.validateSession({ ...input, now: now + 2 * MIN + 1, activeBefore: now + MIN + 1, idleExpiresAt: now + 13 * MIN });
    expect([...sent]).toEqual(['hmget']);
  });

  it('sets a TTL on the session key at its expiry, and a touch or a rotation moves it', async () => {
    const store = track(openStore({ expiredRetentionMs: 0 }));
    const keys = new KeyLayout(store.keyPrefix);
    const now = Date.now();
    const rec = makeRecord('default', ALICE, now, { idleMs: MIN, absoluteMs: 60 * MIN });
    const key = keys.session('default', rec.id);
    await store.createSession({ record: rec, limit: 5, policy: 'evict-oldest', now });
    const pttl = (): Promise<number> => admin().pttl(key);
    expect(await pttl()).toBeGreaterThan(MIN - 2000);
    expect(await pttl()).toBeLessThanOrEqual(MIN);

    const input = { appId: 'default', id: rec.id, tokenHash: rec.tokenHash };
    await store.validateSession({ ...input, now: now + 1, activeBefore: now + 1, idleExpiresAt: now + 1 + 10 * MIN });
    expect(await pttl()).toBeGreaterThan(10 * MIN - 2000);

    // throttled: no write, so the TTL stays
    await store.validateSession({ ...input, now: now + 2, activeBefore: now, idleExpiresAt: now + 2 + 30 * MIN });
    expect(await pttl()).toBeLessThanOrEqual(10 * MIN);

    // capped at the absolute expiry
    await store.validateSession({ ...input, now: now + 3, activeBefore: now + 3, idleExpiresAt: now + 600 * MIN });
    expect(await pttl()).toBeGreaterThan(60 * MIN - 2000);
    expect(await pttl()).toBeLessThanOrEqual(60 * MIN);

    const rotated = await store.rotateRefresh({
      ...input,
      presentedHash: rec.refresh.hash,
      now: now + 4,
      graceMs: 30_000,
      retiredLimit: 3,
      next: { tokenHash: secretHash(), refreshHash: secretHash(), successor: 'sealed', idleExpiresAt: now + 4 + 2 * MIN },
    });
    expect(rotated.outcome).toBe('rotated');
    expect(await pttl()).toBeGreaterThan(2 * MIN - 2000);
    expect(await pttl()).toBeLessThanOrEqual(2 * MIN);

    const lingering = track(openStore({ keyPrefix: store.keyPrefix }));
    const other = makeRecord('default', BOB, now, { idleMs: MIN });
    await lingering.createSession({ record: other, limit: 5, policy: 'evict-oldest', now });
    expect(await admin().pttl(keys.session('default', other.id))).toBeGreaterThan(MIN + 3_600_000 - 2000);
  });

  it('keeps every key of a wallet, and every key of an audit chain, in one hash slot', async () => {
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('foo{hash_tag}')).toBe(2515);
    const store = track(openStore());
    const keys = new KeyLayout(store.keyPrefix);
    const now = Date.now();
    const drafts: AuditDraft[] = [];
    for (const subject of [ALICE, BOB, SOL]) {
      for (let i = 0; i < 3; i++) {
        const rec = makeRecord('default', subject, now + i);
        await store.createSession({ record: rec, limit: 5, policy: 'evict-oldest', now });
        drafts.push({ at: now, type: 'session_created', sessionId: rec.id, subject, details: {} });
      }
    }
    await store.appendAudit('default', drafts);

    const stored: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await admin().scan(cursor, 'MATCH', `${store.keyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      stored.push(...found);
    } while (cursor !== '0');

    for (const subject of [ALICE, BOB, SOL]) {
      const tag = `{default:${walletTag('default', subject)}}`;
      const walletKeys = stored.filter((k) => k.includes(tag));
      expect(walletKeys).toHaveLength(4); // three sessions and the wallet index
      expect(walletKeys).toContain(keys.wallet('default', subject));
      expect(new Set(walletKeys.map(keySlot)).size).toBe(1);
      const list = await store.listWalletSessions('default', subject, now);
      expect(list.map((r) => keySlot(keys.session('default', r.id)))).toEqual(
        Array(3).fill(keySlot(keys.wallet('default', subject))),
      );
    }
    const auditKeys = stored.filter((k) => k.includes('{default:audit}'));
    expect(auditKeys.length).toBe(2 + 3); // head, entries, one index per subject
    expect(new Set(auditKeys.map(keySlot)).size).toBe(1);
  });

  it('gives every script call keys of one hash slot, whatever the operation', async () => {
    const client = ownClient();
    const store = track(openStore({ client }));
    const sent = recordCommands(client);
    const now = Date.now();
    const records = [ALICE, ALICE, ALICE, BOB, SOL].map((subject, i) => makeRecord(i % 2 ? 'shop' : 'default', subject, now + i));
    for (const record of records) await store.createSession({ record, limit: 2, policy: 'evict-oldest', now: now + 5 });
    const [a, b] = records.filter((r) => r.appId === 'default' && r.subject === ALICE);
    await store.validateSession({
      appId: 'default',
      id: b!.id,
      tokenHash: b!.tokenHash,
      now: now + 9,
      activeBefore: now + 9,
      idleExpiresAt: now + MIN,
    });
    const next = { tokenHash: secretHash(), refreshHash: secretHash(), successor: 's', idleExpiresAt: now + MIN };
    const rotate = { appId: 'default', id: b!.id, now: now + 10, graceMs: 0, retiredLimit: 2, next };
    await store.rotateRefresh({ ...rotate, presentedHash: b!.refresh.hash });
    await store.rotateRefresh({ ...rotate, presentedHash: b!.refresh.hash, now: now + 11 }); // reused: deletes
    await store.setSessionData('default', a!.id, 'v1.k1.x', now + 12);
    await store.listWalletSessions('default', ALICE, now + 12);
    await store.deleteSession('shop', records[1]!.id);
    await store.deleteWalletSessions('shop', BOB, { now: now + 12 });
    await store.appendAudit('default', [{ at: now, type: 'session_revoked', sessionId: a!.id, subject: ALICE, details: {} }]);
    await store.appendAudit('default', [{ at: now, type: 'session_revoked', sessionId: null, subject: BOB, details: {} }]);
    await store.incrementCounters('default', { revoked: 2 });
    for (const key of ['n', '{x}', '}{', 'a{b}c']) {
      await store.putEntry('default', 'nonce', { key, value: 'v', expiresAt: now + MIN }, now);
      await store.addEntry('shop', 'replay', { key, value: 'v', expiresAt: now + MIN }, now);
    }
    await store.listEntries('default', 'nonce', now);
    await store.takeEntry('default', 'nonce', '{x}', now);
    await store.deleteEntry('shop', 'replay', 'a{b}c', now);
    await store.cleanupExpired(now + 100 * MIN, 10);
    expect(sent.scriptKeys.length).toBeGreaterThan(25);
    for (const keys of sent.scriptKeys) {
      expect(keys.length).toBeGreaterThan(0);
      expect(new Set(keys.map(keySlot)), keys.join(' ')).toHaveLength(1);
    }
  });

  it('falls back to EVAL when Redis has forgotten its scripts (restart, failover)', async () => {
    const client = ownClient();
    const store = track(openStore({ client }));
    const now = Date.now();
    const rec = makeRecord('default', ALICE, now);
    await store.createSession({ record: rec, limit: 5, policy: 'evict-oldest', now });
    await admin().script('FLUSH');
    const sent = recordCommands(client);
    const input = { appId: 'default', id: rec.id, tokenHash: rec.tokenHash, now, activeBefore: now, idleExpiresAt: now + MIN };
    expect(await store.validateSession(input)).toMatchObject({ id: rec.id });
    // activeBefore = now makes the touch due every time, so validation reaches the script.
    expect([...sent]).toEqual(['hmget', 'evalsha', 'eval']);
    sent.length = 0;
    expect(await store.validateSession(input)).toMatchObject({ id: rec.id });
    expect([...sent]).toEqual(['hmget', 'evalsha']);
  });

  it('gives an entry key a TTL relative to now (expiresAt − now plus the slack), and its index outlives it', async () => {
    const store = track(openStore());
    const keys = new KeyLayout(store.keyPrefix);
    // A clock 300 days behind the wall clock: an absolute PEXPIREAT would drop the key at once.
    const now = Date.now() - 300 * 24 * 60 * MIN;
    const key = keys.entry('default', 'nonce', 'n1');
    const index = keys.entryIndex('default', 'nonce');
    await store.putEntry('default', 'nonce', { key: 'n1', value: 'v', expiresAt: now + 2 * MIN }, now);
    const pttl = await admin().pttl(key);
    expect(pttl).toBeGreaterThan(2 * MIN + ENTRY_TTL_SLACK_MS - 2000);
    expect(pttl).toBeLessThanOrEqual(2 * MIN + ENTRY_TTL_SLACK_MS);
    expect(await admin().pttl(index)).toBeGreaterThanOrEqual(pttl - 50);
    expect(await admin().hgetall(key)).toEqual({ v: 'v', x: String(now + 2 * MIN) });
    expect(await admin().zrange(index, 0, -1, 'WITHSCORES')).toEqual(['n1', String(now + 2 * MIN)]);

    // A longer entry raises the index's TTL; a shorter one never lowers it.
    await store.putEntry('default', 'nonce', { key: 'n2', value: 'v', expiresAt: now + 10 * MIN }, now);
    expect(await admin().pttl(index)).toBeGreaterThan(10 * MIN + ENTRY_TTL_SLACK_MS - 2000);
    await store.putEntry('default', 'nonce', { key: 'n3', value: 'v', expiresAt: now + MIN }, now);
    expect(await admin().pttl(index)).toBeGreaterThan(10 * MIN + ENTRY_TTL_SLACK_MS - 2000);

    // Replacing an entry moves its TTL; an entry dead on arrival leaves no key.
    await store.putEntry('default', 'nonce', { key: 'n1', value: 'w', expiresAt: now + 5 * MIN }, now);
    expect(await admin().pttl(key)).toBeGreaterThan(5 * MIN + ENTRY_TTL_SLACK_MS - 2000);
    await store.putEntry('default', 'nonce', { key: 'n1', value: 'x', expiresAt: now - ENTRY_TTL_SLACK_MS }, now);
    expect(await admin().exists(key)).toBe(0);
    expect(await admin().zscore(index, 'n1')).toBeNull();
  });

  it('treats an entry past its expiresAt as absent while Redis still holds it', async () => {
    const store = track(openStore());
    const keys = new KeyLayout(store.keyPrefix);
    const now = Date.UTC(2026, 0, 1, 12);
    const key = keys.entry('default', 'replay', 'sig');
    await store.putEntry('default', 'replay', { key: 'sig', value: 'first', expiresAt: now + MIN }, now);
    expect(
      await store.addEntry('default', 'replay', { key: 'sig', value: 'early', expiresAt: now + 2 * MIN }, now + MIN - 1),
    ).toBe(false);
    // At now + MIN the engine's clock has passed the entry's expiry, and Redis's has not.
    expect(await admin().exists(key)).toBe(1);
    expect(await store.takeEntry('default', 'replay', 'sig', now + MIN)).toBeNull();
    expect(await admin().exists(key)).toBe(0); // a take deletes what it finds, live or not

    await store.putEntry('default', 'replay', { key: 'sig', value: 'first', expiresAt: now + MIN }, now);
    expect(await store.deleteEntry('default', 'replay', 'sig', now + MIN)).toBe(false);
    await store.putEntry('default', 'replay', { key: 'sig', value: 'first', expiresAt: now + MIN }, now);
    expect(await store.addEntry('default', 'replay', { key: 'sig', value: 'again', expiresAt: now + 3 * MIN }, now + MIN)).toBe(
      true,
    );
    expect(await admin().hget(key, 'v')).toBe('again');
    expect(await store.listEntries('default', 'replay', now + MIN)).toEqual([
      { key: 'sig', value: 'again', expiresAt: now + 3 * MIN },
    ]);
  });

  it('keeps an entry key with braces in its namespace slot, since only the first {…} is the hash tag', async () => {
    const store = track(openStore());
    const keys = new KeyLayout(store.keyPrefix);
    const now = Date.UTC(2026, 0, 1, 12);
    const slot = keySlot(keys.entryIndex('default', 'nonce'));
    expect(slot).toBe(keySlot(`{default:e:nonce}`));
    const braced = ['{x}', '}{', '{', '}', '{}', 'a{b}c', `{${'z'.repeat(250)}}`];
    for (const key of braced) {
      expect(keySlot(keys.entry('default', 'nonce', key)), key).toBe(slot);
      await store.putEntry('default', 'nonce', { key, value: `v${key}`, expiresAt: now + MIN }, now);
    }
    expect(keySlot(keys.entryIndex('shop', 'nonce'))).not.toBe(slot);
    const listed = await store.listEntries('default', 'nonce', now);
    expect(listed.map((e) => e.key)).toEqual([...braced].sort());
    expect(listed.every((e) => e.value === `v${e.key}` && e.expiresAt === now + MIN)).toBe(true);
    expect(await store.takeEntry('default', 'nonce', '{x}', now)).toBe('v{x}');
    expect(await store.takeEntry('default', 'nonce', 'x', now)).toBeNull();
    expect(await store.listEntries('shop', 'nonce', now)).toEqual([]);

    // A namespace outside ENTRY_NAMESPACE_PATTERN (a brace would move the tag) is a caller bug.
    await expect(store.putEntry('default', 'a}b', { key: 'k', value: 'v', expiresAt: now + MIN }, now)).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
    });
    await expect(store.takeEntry('default', 'Nonce', 'k', now)).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
  });

  it('hands a value to exactly one taker, and a key to exactly one adder, across two instances', async () => {
    const a = track(openStore());
    const b = track(openStore({ keyPrefix: a.keyPrefix }));
    const now = Date.UTC(2026, 0, 1, 12);
    for (let round = 0; round < 10; round++) {
      const key = `nonce-${round}`;
      await a.putEntry('default', 'nonce', { key, value: `value-${round}`, expiresAt: now + MIN }, now);
      const taken = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).takeEntry('default', 'nonce', key, now)),
      );
      expect(taken.filter((v) => v !== null)).toEqual([`value-${round}`]);

      const added = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? a : b).addEntry('default', 'replay', { key, value: String(i), expiresAt: now + MIN }, now),
        ),
      );
      expect(added.filter(Boolean)).toHaveLength(1);
      const stored = (await b.listEntries('default', 'replay', now)).find((e) => e.key === key);
      expect(stored?.value).toBe(String(added.indexOf(true)));
    }
  });

  it('counts every hit exactly once across two instances, keeping the expiry of the first hit', async () => {
    const a = track(openStore());
    const b = track(openStore({ keyPrefix: a.keyPrefix }));
    const now = Date.UTC(2026, 0, 1, 12);
    const firstHits: { key: string; value: string; expiresAt: number }[] = [];
    for (let round = 0; round < 10; round++) {
      const key = `ip-${round}`;
      // Every other round starts over a stale count that Redis still holds past its expiresAt.
      if (round % 2) await a.putEntry('default', 'rate', { key, value: '41', expiresAt: now }, now - 1);
      const counts = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).incrementEntry('default', 'rate', key, now + MIN + i, now)),
      );
      expect([...counts].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      firstHits.push({ key, value: '40', expiresAt: now + MIN + counts.indexOf(1) });
    }
    expect(await b.listEntries('default', 'rate', now)).toEqual(firstHits);
  });

  it('gives a counter the TTL of a put at its first hit, keeps TTL, expiry and index score after, all in one slot', async () => {
    const client = ownClient();
    const store = track(openStore({ client }));
    const sent = recordCommands(client);
    const keys = new KeyLayout(store.keyPrefix);
    // A clock 300 days behind the wall clock: an absolute PEXPIREAT would drop the key at once.
    const now = Date.now() - 300 * 24 * 60 * MIN;
    const key = keys.entry('default', 'rate', '{ip}');
    const index = keys.entryIndex('default', 'rate');
    expect(await store.incrementEntry('default', 'rate', '{ip}', now + 2 * MIN, now)).toBe(1);
    const pttl = await admin().pttl(key);
    expect(pttl).toBeGreaterThan(2 * MIN + ENTRY_TTL_SLACK_MS - 2000);
    expect(pttl).toBeLessThanOrEqual(2 * MIN + ENTRY_TTL_SLACK_MS);
    expect(await admin().pttl(index)).toBeGreaterThanOrEqual(pttl - 50);
    expect(await admin().hgetall(key)).toEqual({ v: '1', x: String(now + 2 * MIN) });
    expect(await admin().zrange(index, 0, -1, 'WITHSCORES')).toEqual(['{ip}', String(now + 2 * MIN)]);

    // A later hit asks for a later expiry; the window keeps its own.
    expect(await store.incrementEntry('default', 'rate', '{ip}', now + 10 * MIN, now + MIN)).toBe(2);
    expect(await admin().pttl(key)).toBeLessThanOrEqual(pttl);
    expect(await admin().hgetall(key)).toEqual({ v: '2', x: String(now + 2 * MIN) });
    expect(await admin().zrange(index, 0, -1, 'WITHSCORES')).toEqual(['{ip}', String(now + 2 * MIN)]);

    // At its expiresAt the engine's clock has passed the window and Redis's has not: a new window.
    expect(await admin().exists(key)).toBe(1);
    expect(await store.incrementEntry('default', 'rate', '{ip}', now + 5 * MIN, now + 2 * MIN)).toBe(1);
    expect(await admin().pttl(key)).toBeGreaterThan(3 * MIN + ENTRY_TTL_SLACK_MS - 2000);
    expect(await admin().hgetall(key)).toEqual({ v: '1', x: String(now + 5 * MIN) });
    expect(await store.listEntries('default', 'rate', now + 2 * MIN)).toEqual([
      { key: '{ip}', value: '1', expiresAt: now + 5 * MIN },
    ]);

    // An entry that was never a counter is refused (HINCRBY), and stays as it was.
    await store.putEntry('default', 'rate', { key: 'word', value: 'abc', expiresAt: now + MIN }, now);
    await expect(store.incrementEntry('default', 'rate', 'word', now + MIN, now)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    expect(await admin().hget(keys.entry('default', 'rate', 'word'), 'v')).toBe('abc');

    expect(sent.scriptKeys.length).toBeGreaterThanOrEqual(5); // more when a script is not cached yet (EVALSHA, then EVAL)
    for (const scriptKeys of sent.scriptKeys) expect(new Set(scriptKeys.map(keySlot))).toEqual(new Set([keySlot(index)]));
  });

  it('never lists an empty namespace while another instance rotates its only key', async () => {
    const a = track(openStore());
    const b = track(openStore({ keyPrefix: a.keyPrefix }));
    const now = Date.UTC(2026, 0, 1, 12);
    const signingKey = (n: number) => ({ key: `kid-${String(n).padStart(3, '0')}`, value: `{"n":${n}}`, expiresAt: now + MIN });
    await b.putEntry('default', 'keys', signingKey(0), now);
    let rotating = true;
    const rotation = (async () => {
      for (let n = 1; n <= 200; n++) {
        await b.putEntry('default', 'keys', signingKey(n), now);
        await b.deleteEntry('default', 'keys', signingKey(n - 1).key, now);
      }
      rotating = false;
    })();
    let lists = 0;
    while (rotating) {
      const listed = await a.listEntries('default', 'keys', now);
      expect(listed.length).toBeGreaterThanOrEqual(1);
      expect(listed.length).toBeLessThanOrEqual(2);
      lists += 1;
    }
    await rotation;
    expect(lists).toBeGreaterThan(0);
    expect(await a.listEntries('default', 'keys', now)).toEqual([signingKey(200)]);
  });

  it('prunes index members whose entry key is gone, and never lists them', async () => {
    const store = track(openStore());
    const keys = new KeyLayout(store.keyPrefix);
    const now = Date.UTC(2026, 0, 1, 12);
    for (const key of ['a', 'b', 'c']) await store.putEntry('default', 'keys', { key, value: key, expiresAt: now + MIN }, now);
    await admin().del(keys.entry('default', 'keys', 'b')); // as if Redis had dropped it by TTL
    expect((await store.listEntries('default', 'keys', now)).map((e) => e.key)).toEqual(['a', 'c']);
    expect(await admin().zrange(keys.entryIndex('default', 'keys'), 0, -1)).toEqual(['a', 'c']);

    // Writes drop members that expired more than the slack ago, so the index stays small.
    await store.putEntry('default', 'keys', { key: 'd', value: 'd', expiresAt: now + 10 * MIN }, now + MIN + ENTRY_TTL_SLACK_MS);
    expect(await admin().zrange(keys.entryIndex('default', 'keys'), 0, -1)).toEqual(['d']);
  });

  it('leaves nothing that validates once Redis drops a session key by TTL', async () => {
    const store = track(openStore({ expiredRetentionMs: 0 }));
    const keys = new KeyLayout(store.keyPrefix);
    const now = Date.now();
    const rec = makeRecord('default', ALICE, now, { idleMs: 150 });
    await store.createSession({ record: rec, limit: 1, policy: 'reject', now });
    const deadline = Date.now() + 5000;
    while ((await admin().exists(keys.session('default', rec.id))) === 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await admin().exists(keys.session('default', rec.id))).toBe(0);

    // the injected clock still says "live": only the key's absence decides
    const input = {
      appId: 'default',
      id: rec.id,
      tokenHash: rec.tokenHash,
      now: now + 1,
      activeBefore: now + 1,
      idleExpiresAt: now + MIN,
    };
    expect(await store.validateSession(input)).toBeNull();
    expect(await store.getSession('default', rec.id)).toBeNull();
    expect(await store.listWalletSessions('default', ALICE, now + 1)).toEqual([]);
    expect(
      await store.rotateRefresh({
        ...input,
        presentedHash: rec.refresh.hash,
        graceMs: 0,
        retiredLimit: 1,
        next: { tokenHash: secretHash(), refreshHash: secretHash(), successor: 's', idleExpiresAt: now + MIN },
      }),
    ).toEqual({ outcome: 'invalid' });
    // the stale id no longer counts against the limit, and leaves the indexes
    const next = makeRecord('default', ALICE, now + 2);
    expect(await store.createSession({ record: next, limit: 1, policy: 'reject', now: now + 2 })).toEqual({
      created: true,
      evicted: [],
    });
    expect(await admin().zrange(keys.wallet('default', ALICE), 0, -1)).toEqual([next.id]);
    expect(await store.cleanupExpired(now + 20 * MIN, 10)).toEqual([
      expect.objectContaining({ id: next.id }), // expired by the injected clock, still held by Redis
    ]);
    expect(await admin().zcard(keys.appSessions('default'))).toBe(0);
    expect(await admin().exists(keys.wallet('default', ALICE))).toBe(0);
  });

  it('cleans up around app index entries whose session is already gone', async () => {
    const store = track(openStore());
    const keys = new KeyLayout(store.keyPrefix);
    const now = Date.now();
    const gone = makeRecord('default', ALICE, now);
    const kept = makeRecord('shop', BOB, now, { idleMs: 30 * MIN });
    const expired = makeRecord('shop', BOB, now, { idleMs: MIN });
    for (const record of [gone, kept, expired]) await store.createSession({ record, limit: 5, policy: 'evict-oldest', now });
    await admin().del(keys.session('default', gone.id));
    await admin().zadd(keys.appSessions('shop'), 0, 'not-a-member');
    // a touch moved `kept` past the score its app index entry still holds
    await store.validateSession({
      appId: 'shop',
      id: kept.id,
      tokenHash: kept.tokenHash,
      now,
      activeBefore: now,
      idleExpiresAt: now + 50 * MIN,
    });

    const removed = await store.cleanupExpired(now + 40 * MIN, 100);
    expect(removed.map((r) => r.id)).toEqual([expired.id]);
    expect(await admin().zcard(keys.appSessions('default'))).toBe(0);
    expect(await admin().zrange(keys.appSessions('shop'), 0, -1, 'WITHSCORES')).toEqual([
      JSON.stringify([kept.id, BOB]),
      String(now + 50 * MIN),
    ]);
    expect(await admin().exists(keys.wallet('default', ALICE))).toBe(0);
    expect((await store.readStats('shop', now + 40 * MIN)).active).toBe(1);
  });

  it('returns what it cleaned up oldest expiry first, at most the limit per call', async () => {
    const store = track(openStore());
    const now = Date.now();
    const records = [5, 3, 4, 1, 2].map((m) =>
      makeRecord(m % 2 ? 'default' : 'shop', m < 3 ? ALICE : BOB, now, { idleMs: m * MIN }),
    );
    for (const record of records) await store.createSession({ record, limit: 5, policy: 'evict-oldest', now });
    const first = await store.cleanupExpired(now + 10 * MIN, 3);
    expect(first.map((r) => r.idleExpiresAt - now)).toEqual([1, 2, 3].map((m) => m * MIN));
    const rest = await store.cleanupExpired(now + 10 * MIN, 3);
    expect(rest.map((r) => r.idleExpiresAt - now)).toEqual([4, 5].map((m) => m * MIN));
    expect(await store.cleanupExpired(now + 10 * MIN, 3)).toEqual([]);
  });

  it('batches concurrent audit appends from one instance, and stays one chain across instances', async () => {
    const client = ownClient();
    const a = track(openStore({ client }));
    const b = track(openStore({ keyPrefix: a.keyPrefix }));
    const draft = (n: number): AuditDraft => ({
      at: n,
      type: 'session_revoked',
      sessionId: null,
      subject: n % 2 ? ALICE : null,
      details: { n },
    });
    await a.appendAudit('default', [draft(0)]);
    const sent = recordCommands(client);
    const fromA = Array.from({ length: 100 }, (_, i) => a.appendAudit('default', [draft(i + 1)]));
    const fromB = Array.from({ length: 100 }, (_, i) => b.appendAudit('default', [draft(i + 101), draft(i + 1001)]));
    const results = await Promise.all([...fromA, ...fromB]);
    expect(results.map((r) => r.length)).toEqual([...Array(100).fill(1), ...Array(100).fill(2)]);
    expect(results[0]![0]!.details).toEqual({ n: 1 });
    expect(sent.filter((name) => name === 'evalsha').length).toBeLessThan(20);

    const page = (afterSeq: number) => a.queryAudit('default', { afterSeq, limit: 37 });
    expect(await verifyAuditChain(page)).toMatchObject({ valid: true, entries: 301 });
    const seqs = results.flat().map((e) => e.seq);
    expect(new Set(seqs).size).toBe(300);
    const alice = await b.queryAudit('default', { subject: ALICE, limit: 1000 });
    expect(alice.every((e) => e.subject === ALICE)).toBe(true);
    expect(alice.map((e) => e.seq)).toEqual([...alice.map((e) => e.seq)].sort((x, y) => x - y));
    expect(alice).toHaveLength(50 + 100);
  });

  it('never holds more than the limit when instances create concurrently', async () => {
    const a = track(openStore());
    const b = track(openStore({ keyPrefix: a.keyPrefix }));
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).createSession({
          record: makeRecord('default', ALICE, now + i),
          limit: 3,
          policy: 'evict-oldest',
          now: now + 40,
        }),
      ),
    );
    expect(results.every((r) => r.created)).toBe(true);
    expect(results.flatMap((r) => (r.created ? r.evicted : []))).toHaveLength(37);
    expect(await a.listWalletSessions('default', ALICE, now + 40)).toHaveLength(3);
    expect((await b.readStats('default', now + 40)).active).toBe(3);
  });

  it('behaves exactly like MemoryStore over a random workload', async () => {
    const memory = new MemoryStore();
    const redis = track(openStore());
    let seed = 0x5eed;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    const both = async <T>(op: (s: Store) => Promise<T>): Promise<T> => {
      const [m, r] = await Promise.all([op(memory), op(redis)]);
      expect(r).toEqual(m);
      return m;
    };
    const apps = ['default', 'shop'] as const;
    const subjects = [ALICE, BOB, SOL] as const;
    const made: { appId: string; id: string; subject: string }[] = [];
    let now = Date.UTC(2026, 0, 1, 12);
    // Entries: a small key space (braces and non-ASCII keys included, U+E000 and U+1F600 among them,
    // which JavaScript and Redis order differently), expiries from already past (dead on arrival,
    // or exactly at now) to three minutes ahead. Counters live in 'rate', where every value is a
    // decimal integer (incrementing anything else is a caller bug).
    const namespaces = ['nonce', 'keys', 'rate'] as const;
    const entryKeys = ['k0', 'k1', 'k2', '{k}', 'é', '\uE000', '\u{1F600}'] as const;
    const entryStep = async (): Promise<void> => {
      const roll = rand();
      const appId = pick(apps);
      const namespace = pick(namespaces);
      const key = pick(entryKeys);
      const value = namespace === 'rate' ? String(int(0, 5)) : rand() < 0.2 ? '' : secretHash();
      const entry = { key, value, expiresAt: now + int(-1, 6) * 30_000 };
      if (roll < 0.2) await both((s) => s.putEntry(appId, namespace, { ...entry }, now));
      else if (roll < 0.35) await both((s) => s.addEntry(appId, namespace, { ...entry }, now));
      else if (roll < 0.5) {
        // A short burst, so that live windows are counted on as well as opened.
        for (let hit = int(1, 3); hit > 0; hit--) await both((s) => s.incrementEntry(appId, 'rate', key, entry.expiresAt, now));
      } else if (roll < 0.7) await both((s) => s.takeEntry(appId, namespace, key, now));
      else if (roll < 0.8) await both((s) => s.deleteEntry(appId, namespace, key, now));
      else if (roll < 0.9) await both((s) => s.listEntries(appId, namespace, now));
      else {
        // A cursor on the expiries entries are written with, so runs of equal expiries are cut.
        const page = {
          expiringAfter: pick([0, now, now + int(-1, 6) * 30_000]),
          ...(rand() < 0.5 ? { afterKey: pick(entryKeys) } : {}),
          limit: pick([1, 2, 1000]),
          now,
        };
        await both((s) => s.scanEntries(appId, namespace, page));
      }
    };

    for (let step = 0; step < 600; step++) {
      if (rand() < 0.3) {
        await entryStep();
        continue;
      }
      const roll = rand();
      const known = made.length > 0 && rand() < 0.9 ? pick(made) : null;
      const appId = known?.appId ?? pick(apps);
      const subject = known?.subject ?? pick(subjects);
      const id = known?.id ?? newSessionId(appId, subject, cryptoRandom);
      const current = await memory.getSession(appId, id);
      if (roll < 0.18) {
        const record = makeRecord(pick(apps), pick(subjects), now, { idleMs: int(1, 20) * MIN, absoluteMs: int(5, 60) * MIN });
        record.data = rand() < 0.3 ? `v1.k1.${secretHash()}` : null;
        made.push({ appId: record.appId, id: record.id, subject: record.subject });
        const policy = pick<LimitPolicy>(['evict-oldest', 'reject']);
        const limit = int(1, 4);
        await both((s) => s.createSession({ record: structuredClone(record), limit, policy, now }));
      } else if (roll < 0.36) {
        const tokenHash = current && rand() < 0.8 ? current.tokenHash : secretHash();
        const activeBefore = now - pick([0, MIN, 5 * MIN]);
        const idleExpiresAt = now + int(1, 20) * MIN;
        // Validation may answer with a snapshot (no refresh rotation state): compare what it carries.
        await both(async (s) => {
          const r = await s.validateSession({ appId, id, tokenHash, now, activeBefore, idleExpiresAt });
          return r && { ...r, refresh: { generation: r.refresh.generation } };
        });
      } else if (roll < 0.54) {
        const r = current?.refresh;
        const presentedHash = pick([r?.hash, r?.previousHash, r?.retired[0], r?.retired.at(-1), secretHash()]) ?? secretHash();
        const next = {
          tokenHash: secretHash(),
          refreshHash: secretHash(),
          successor: secretHash(),
          idleExpiresAt: now + int(1, 20) * MIN,
        };
        const graceMs = pick([0, 30_000, 5 * MIN]);
        const retiredLimit = int(0, 3);
        await both((s) => s.rotateRefresh({ appId, id, presentedHash, now, graceMs, retiredLimit, next }));
      } else if (roll < 0.58) {
        const data = rand() < 0.5 ? null : `v1.k1.${secretHash()}`;
        await both((s) => s.setSessionData(appId, id, data, now));
      } else if (roll < 0.63) {
        await both((s) => s.deleteSession(appId, id));
      } else if (roll < 0.72) {
        await both((s) => s.listWalletSessions(appId, subject, now));
      } else if (roll < 0.75) {
        const exceptId = rand() < 0.5 ? id : undefined;
        await both((s) => s.deleteWalletSessions(appId, subject, { exceptId, now }));
      } else if (roll < 0.79) {
        await both((s) => s.getSession(appId, id));
      } else if (roll < 0.82) {
        const limit = pick([1, 2, 1000]);
        await both((s) => s.cleanupExpired(now, limit));
      } else if (roll < 0.86) {
        await both((s) => s.readStats(appId, now));
      } else {
        now += int(0, 10) * 30_000;
      }
    }
    for (const appId of apps) for (const subject of subjects) await both((s) => s.listWalletSessions(appId, subject, now));
    for (const appId of apps) for (const namespace of namespaces) await both((s) => s.listEntries(appId, namespace, now));
  });

  it('refuses a duplicate id and leaves the stored session as it was', async () => {
    const store = track(openStore());
    const keys = new KeyLayout(store.keyPrefix);
    const now = Date.now();
    const rec = makeRecord('default', ALICE, now);
    await store.createSession({ record: rec, limit: 5, policy: 'evict-oldest', now });
    const twin = { ...makeRecord('default', ALICE, now + 1), id: rec.id };
    await expect(store.createSession({ record: twin, limit: 5, policy: 'evict-oldest', now: now + 1 })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    expect(await store.getSession('default', rec.id)).toEqual(rec);
    expect(await admin().zrange(keys.wallet('default', ALICE), 0, -1)).toEqual([rec.id]);
    expect(await admin().zscore(keys.appSessions('default'), JSON.stringify([rec.id, ALICE]))).toBe(String(rec.idleExpiresAt));
  });

  it('does not quit a client it was given, and quits one it made', async () => {
    const client = ownClient();
    const given = openStore({ client });
    await given.ping();
    await given.close();
    expect(await client.ping()).toBe('PONG');
    await expect(given.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });

    const made = openStore();
    await made.ping();
    await made.close();
    await expect(made.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('refuses bad options at construction, without echoing a URL', () => {
    const bad: RedisStoreOptions[] = [
      { keyPrefix: 'a{b' },
      { commandTimeoutMs: 0 },
      { commandTimeoutMs: 1.5 },
      { expiredRetentionMs: -1 },
      { url: 'http://user:hunter2@127.0.0.1' },
      { url: REDIS_URL, client: admin() },
    ];
    for (const options of bad) {
      let error: unknown;
      try {
        new RedisStore(options);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
      expect(String((error as Error).message)).not.toContain('hunter2');
    }
  });
});

describe('RedisStore options', () => {
  it('refuses a Cluster client that may read from replicas, and takes one that reads from masters only', () => {
    const nodes = [{ host: '127.0.0.1', port: 7000 }];
    const made: Cluster[] = [];
    const cluster = (options: ClusterOptions): Cluster => {
      const c = new Cluster(nodes, { lazyConnect: true, ...options });
      made.push(c);
      return c;
    };
    try {
      for (const scaleReads of ['slave', 'all', () => nodes[0]] as const) {
        let error: unknown;
        try {
          new RedisStore({ client: cluster({ scaleReads }) });
        } catch (e) {
          error = e;
        }
        expect(error).toMatchObject({ code: 'CONFIG_INVALID', field: 'client' });
      }
      for (const options of [{}, { scaleReads: 'master' as const }, { scaleReads: undefined }]) {
        expect(new RedisStore({ client: cluster(options) }).keyPrefix).toBe('lk:');
      }
    } finally {
      for (const c of made) c.disconnect();
    }
  });
});

describe.skipIf(!available)('RedisStore when Redis misbehaves', () => {
  const now = Date.UTC(2026, 0, 1);
  const input = { appId: 'default', id: '0'.repeat(32), tokenHash: 'x', now, activeBefore: now, idleExpiresAt: now + MIN };

  /**
   * A TCP peer on loopback. `silent` accepts and never answers; `handshake` answers the client's
   * ready check (INFO) and then never answers again, so the command itself must time out.
   */
  async function misbehavingServer(mode: 'silent' | 'handshake'): Promise<{ url: string; close(): Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      let answered = false;
      socket.on('data', (chunk) => {
        if (mode === 'handshake' && !answered && /info/i.test(chunk.toString('latin1'))) {
          answered = true;
          socket.write('$-1\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    return {
      url: `redis://127.0.0.1:${port}`,
      async close() {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  async function elapsed(p: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
    const start = performance.now();
    try {
      await p;
      return { ms: performance.now() - start, error: null };
    } catch (error) {
      return { ms: performance.now() - start, error };
    }
  }

  for (const mode of ['silent', 'handshake'] as const) {
    it(`rejects within the command timeout when the server ${mode === 'silent' ? 'never answers' : 'hangs after the handshake'}`, async () => {
      const server = await misbehavingServer(mode);
      const store = new RedisStore({ url: server.url, commandTimeoutMs: 300, keyPrefix: newPrefix() });
      try {
        if (mode === 'handshake') await new Promise((r) => setTimeout(r, 100)); // let the handshake finish
        for (const call of [
          () => store.validateSession(input),
          () => store.getSession('default', input.id),
          () => store.ping(),
        ]) {
          const { ms, error } = await elapsed(call());
          expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
          expect(ms).toBeLessThan(300 + 400);
        }
      } finally {
        await store.close();
        await server.close();
      }
    });
  }

  it('fails queued operations on one wallet promptly too, not one timeout after another', async () => {
    const server = await misbehavingServer('handshake');
    const store = new RedisStore({ url: server.url, commandTimeoutMs: 200, keyPrefix: newPrefix() });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const calls = Array.from({ length: 8 }, () => elapsed(store.listWalletSessions('default', ALICE, now)));
      for (const { ms, error } of await Promise.all(calls)) {
        expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
        expect(ms).toBeLessThan(3 * 200 + 400);
      }
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('rejects at once when nothing listens', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, keyPrefix: newPrefix() });
    try {
      for (let i = 0; i < 3; i++) {
        const { ms, error } = await elapsed(store.validateSession(input));
        expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
        expect(ms).toBeLessThan(1000);
      }
    } finally {
      await store.close();
    }
  });
});
