import { randomBytes } from 'node:crypto';
import {
  type AuditDraft,
  cryptoRandom,
  expiresAt,
  MemoryStore,
  newSessionId,
  type SessionRecord,
  type StoredEntry,
  verifyAuditChain,
} from '@latchkey/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { chunked, MAX_ITEMS_PER_COMMAND } from './client.js';
import { encodeSession } from './codec.js';
import { appSessionMember, KeyLayout } from './keys.js';
import { redisAnswers } from './probe.js';
import { CREATE_SESSION_BY_DIGEST } from './scripts/index.js';
import { RedisStore } from './store.js';
import { indexDigest } from './wallets.js';

/**
 * Namespaces, wallets, cleanups and audit appends far larger than one command may carry: every
 * list of keys, ids, members or fields goes in calls of at most MAX_ITEMS_PER_COMMAND, and the
 * answers stay what the contract says.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';

const available = await redisAnswers(REDIS_URL);
if (!available && process.env.CI === 'true') throw new Error('Redis does not answer on 127.0.0.1:6379 and CI=true.');

const ALICE = 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';
const MIN = 60_000;
const T = Date.UTC(2026, 0, 1, 12);

const prefixes: string[] = [];
const clients: Redis[] = [];
const stores: RedisStore[] = [];
let adminClient: Redis | null = null;
const admin = (): Redis => (adminClient ??= new Redis(REDIS_URL));

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const prefix of prefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await admin().scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
      cursor = next;
      for (const chunk of chunked(keys)) await admin().unlink(...chunk);
    } while (cursor !== '0');
  }
  for (const c of clients) c.disconnect();
  await adminClient?.quit();
});

interface SentCommand {
  name: string;
  /** Keys of a script call; for any other command, every argument. */
  keys: number;
  /** ARGV of a script call; 0 for any other command. */
  argv: number;
  /** The distinct Cluster hash tags among a script call's keys: one, or Cluster would refuse it. */
  tags: number;
}

const hashTag = (key: string): string => key.slice(key.indexOf('{'), key.indexOf('}') + 1);

/** A client whose every command (auto-pipelined ones included) is recorded with its size. */
function recordingClient(options: { enableAutoPipelining?: boolean } = {}): Redis & { sent: SentCommand[] } {
  const client = Object.assign(new Redis(REDIS_URL, options), { sent: [] as SentCommand[] });
  clients.push(client);
  const original = client.sendCommand.bind(client);
  client.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    const { name, args: commandArgs } = args[0];
    if (name === 'evalsha' || name === 'eval') {
      const keys = Number(commandArgs[1]);
      const tags = new Set(commandArgs.slice(2, 2 + keys).map((k) => hashTag(String(k)))).size;
      client.sent.push({ name, keys, argv: commandArgs.length - 2 - keys, tags });
    } else {
      client.sent.push({ name, keys: commandArgs.length, argv: 0, tags: 0 });
    }
    return original(...args);
  };
  return client;
}

/**
 * At most MAX_ITEMS_PER_COMMAND keys and list items per command, besides a few fixed arguments;
 * and every script call's keys in one hash slot.
 */
function expectBounded(sent: readonly SentCommand[]): void {
  expect(sent.length).toBeGreaterThan(0);
  for (const command of sent) {
    if (command.name === 'evalsha' || command.name === 'eval') {
      expect(command.keys, command.name).toBeLessThanOrEqual(MAX_ITEMS_PER_COMMAND + 2);
      expect(command.tags, command.name).toBe(1);
      // A session's fields (at most 16 pairs) and a handful of scalars ride along with the ids.
      expect(command.argv, command.name).toBeLessThanOrEqual(MAX_ITEMS_PER_COMMAND + 48);
    } else {
      expect(command.keys, command.name).toBeLessThanOrEqual(MAX_ITEMS_PER_COMMAND + 8);
    }
  }
}

function openStore(client: Redis, keyPrefix?: string): RedisStore {
  const prefix = keyPrefix ?? `lktest:${randomBytes(6).toString('hex')}:`;
  if (!keyPrefix) prefixes.push(prefix);
  const store = new RedisStore({ client, keyPrefix: prefix });
  stores.push(store);
  return store;
}

function makeRecord(subject: string, createdAt: number, idleMs: number): SessionRecord {
  const hash = (): string => randomBytes(16).toString('base64url');
  return {
    id: newSessionId('default', subject, cryptoRandom),
    appId: 'default',
    subject,
    chainType: 'eip155',
    userId: null,
    authMethod: 'siwe',
    scope: 'read-write',
    roles: ['member'],
    device: {},
    createdAt,
    lastActiveAt: createdAt,
    idleExpiresAt: createdAt + idleMs,
    absoluteExpiresAt: createdAt + 600 * MIN,
    tokenHash: hash(),
    refresh: { hash: hash(), generation: 0, previousHash: null, rotatedAt: null, successor: null, retired: [] },
    data: null,
  };
}

/**
 * Writes sessions as createSession would (hash with TTL, wallet index, app index), in one
 * pipeline per chunk: a large wallet in a fraction of the time thousands of creates would take.
 * `dropped` ones get only their index entries, as if Redis had dropped their hash by TTL.
 */
async function seedSessions(store: RedisStore, records: SessionRecord[], dropped: SessionRecord[] = []): Promise<void> {
  const keys = new KeyLayout(store.keyPrefix);
  for (const chunk of chunked([...records, ...dropped])) {
    const p = admin().pipeline();
    for (const r of chunk) {
      p.sadd(keys.apps(), r.appId);
      p.zadd(keys.appSessions(r.appId), String(expiresAt(r)), appSessionMember(r.id, r.subject));
      p.zadd(keys.wallet(r.appId, r.subject), String(r.createdAt), r.id);
      if (dropped.includes(r)) continue;
      p.hset(keys.session(r.appId, r.id), ...encodeSession(r));
      p.pexpire(keys.session(r.appId, r.id), 3_600_000 * 24);
    }
    await p.exec();
  }
}

const byAge = (a: SessionRecord, b: SessionRecord): number => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

describe('chunked', () => {
  it('cuts a list into consecutive slices of at most the size, and nothing from nothing', () => {
    expect(chunked([])).toEqual([]);
    expect(chunked([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    const big = Array.from({ length: 2 * MAX_ITEMS_PER_COMMAND + 1 }, (_, i) => i);
    expect(chunked(big).map((c) => c.length)).toEqual([MAX_ITEMS_PER_COMMAND, MAX_ITEMS_PER_COMMAND, 1]);
    expect(chunked(big).flat()).toEqual(big);
  });

  it('digests a wallet index as the Lua script does', async () => {
    if (!available) return;
    const ids = ['a', 'é', '\u{1F600}', 'x:y', ''];
    const script = `
      local parts = {}
      for i = 1, #ARGV do parts[i] = #ARGV[i] .. ':' .. ARGV[i] end
      return redis.sha1hex(table.concat(parts))`;
    expect(await admin().eval(script, 0, ...ids)).toBe(indexDigest(ids));
  });
});

describe.skipIf(!available)('RedisStore never sends an unbounded list in one command', () => {
  it('lists and scans a namespace of 40,000 entries through an auto-pipelining client, and the process survives', async () => {
    const client = recordingClient({ enableAutoPipelining: true });
    const store = openStore(client);
    const count = 40_000;
    // Runs of seven equal expiries, so most pages end inside a run.
    const expiry = (i: number): number => T + MIN + Math.floor(i / 7);
    for (const chunk of chunked(
      Array.from({ length: count }, (_, i) => i),
      2000,
    )) {
      await Promise.all(
        chunk.map((i) => store.putEntry('default', 'revoked', { key: `sid-${i}`, value: 'r', expiresAt: expiry(i) }, T)),
      );
    }
    await store.putEntry('default', 'revoked', { key: 'gone', value: 'r', expiresAt: T + 1 }, T);
    client.sent.length = 0;

    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', onUncaught);
    try {
      // Several at once, so auto-pipelining folds their commands into shared pipelines.
      const [listed, again] = await Promise.all([
        store.listEntries('default', 'revoked', T + 2),
        store.listEntries('default', 'revoked', T + 2),
        store.scanEntries('default', 'revoked', { expiringAfter: 0, limit: 1000, now: T + 2 }),
      ]);
      expect(listed).toHaveLength(count);
      expect(again).toEqual(listed);
      const keys = listed.map((e) => e.key);
      expect(keys).toEqual([...keys].sort());

      const seen: StoredEntry[] = [];
      let cursor: { expiringAfter: number; afterKey?: string } = { expiringAfter: 0 };
      let pages = 0;
      for (;;) {
        const page = await store.scanEntries('default', 'revoked', { ...cursor, limit: 1000, now: T + 2 });
        const last = page[page.length - 1];
        if (!last) break;
        pages += 1;
        seen.push(...page);
        cursor = { expiringAfter: last.expiresAt, afterKey: last.key };
      }
      expect(pages).toBe(count / 1000);
      expect(new Set(seen.map((e) => e.key)).size).toBe(count);
      const order = (a: StoredEntry, b: StoredEntry): number => a.expiresAt - b.expiresAt || (a.key < b.key ? -1 : 1);
      expect(seen).toEqual([...listed].sort(order));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expectBounded(client.sent);
    expect(Math.max(...client.sent.map((c) => c.keys))).toBe(MAX_ITEMS_PER_COMMAND + 1);
  });

  it('scans equal expiries in JavaScript key order, as MemoryStore does, whatever order Redis keeps', async () => {
    const store = openStore(recordingClient());
    const memory = new MemoryStore();
    // U+1F600 sorts before U+E000 by UTF-16 code units, after it by bytes (Redis's order for equal scores).
    const keys = ['a', 'b', '\uE000', '\uE000x', '\u{1F600}', '\u{1F600}x', 'z', '{k}'];
    for (const [i, key] of keys.entries()) {
      for (const s of [store, memory]) {
        await s.putEntry('default', 'revoked', { key, value: 'v', expiresAt: T + MIN }, T);
        await s.putEntry('default', 'revoked', { key: `${key}-later`, value: 'v', expiresAt: T + 2 * MIN + i }, T);
      }
    }
    for (const limit of [1, 2, 3, 5, 1000]) {
      for (const now of [T, T + MIN]) {
        let cursor: { expiringAfter: number; afterKey?: string } = { expiringAfter: 0 };
        for (;;) {
          const page = await store.scanEntries('default', 'revoked', { ...cursor, limit, now });
          expect(page).toEqual(await memory.scanEntries('default', 'revoked', { ...cursor, limit, now }));
          const last = page[page.length - 1];
          if (!last) break;
          cursor = { expiringAfter: last.expiresAt, afterKey: last.key };
        }
      }
    }
  });

  it('fills a page past entries that went away between reading the index and reading the values', async () => {
    const store = openStore(recordingClient());
    const layout = new KeyLayout(store.keyPrefix);
    for (let i = 0; i < 10; i++)
      await store.putEntry('default', 'revoked', { key: `k${i}`, value: 'v', expiresAt: T + MIN + i }, T);
    // Value keys gone behind the store's back: their index members are leftovers, pruned on the way.
    await admin().del(layout.entry('default', 'revoked', 'k1'), layout.entry('default', 'revoked', 'k2'));
    const page = await store.scanEntries('default', 'revoked', { expiringAfter: 0, limit: 5, now: T });
    expect(page.map((e) => e.key)).toEqual(['k0', 'k3', 'k4', 'k5', 'k6']);
    expect(await admin().zrange(layout.entryIndex('default', 'revoked'), 0, -1)).not.toContain('k1');
  });

  it('refuses a scan page outside the contract as a caller bug', async () => {
    const store = openStore(recordingClient());
    for (const page of [
      { expiringAfter: 0, limit: 0, now: T },
      { expiringAfter: 0, limit: 1001, now: T },
      { expiringAfter: 0, limit: 1.5, now: T },
      { expiringAfter: Number.NaN, limit: 1, now: T },
      { expiringAfter: 0, limit: 1, now: Number.POSITIVE_INFINITY },
    ]) {
      await expect(store.scanEntries('default', 'revoked', page)).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    }
  });

  it('lists, creates in and deletes a wallet whose index holds 1,300 ids, limit included, chunk by chunk', async () => {
    const client = recordingClient();
    const store = openStore(client);
    const keys = new KeyLayout(store.keyPrefix);
    const now = T + 100 * MIN;
    const live = Array.from({ length: 700 }, (_, i) => makeRecord(ALICE, T + i, 200 * MIN));
    const expired = Array.from({ length: 500 }, (_, i) => makeRecord(ALICE, T + i, MIN));
    const dropped = Array.from({ length: 100 }, (_, i) => makeRecord(ALICE, T + i, MIN));
    await seedSessions(store, [...live, ...expired], dropped);

    let alive = [...live].sort(byAge);
    expect(await store.listWalletSessions('default', ALICE, now)).toEqual(alive);
    // The list pruned the ids whose hash was gone.
    expect(await admin().zcard(keys.wallet('default', ALICE))).toBe(1200);

    // At a limit of 700: one eviction, the oldest live session.
    const first = makeRecord(ALICE, now, 200 * MIN);
    expect(await store.createSession({ record: first, limit: 700, policy: 'evict-oldest', now })).toEqual({
      created: true,
      evicted: [alive[0]],
    });
    alive = [...alive.slice(1), first];
    // A duplicate id is refused before anything is evicted.
    await expect(store.createSession({ record: { ...first }, limit: 700, policy: 'evict-oldest', now })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    expect(await store.listWalletSessions('default', ALICE, now)).toEqual(alive);
    const second = makeRecord(ALICE, now + 1, 200 * MIN);
    expect(await store.createSession({ record: second, limit: 1000, policy: 'reject', now })).toEqual({
      created: true,
      evicted: [],
    });
    alive.push(second);
    const refused = makeRecord(ALICE, now + 2, 200 * MIN);
    expect(await store.createSession({ record: refused, limit: 701, policy: 'reject', now })).toEqual({
      created: false,
      reason: 'limit',
    });
    expect(await store.getSession('default', refused.id)).toBeNull();

    // A limit lowered far below the live count: 602 evictions, more than one call carries, then the insert.
    const third = makeRecord(ALICE, now + 3, 200 * MIN);
    expect(await store.createSession({ record: third, limit: 100, policy: 'evict-oldest', now })).toEqual({
      created: true,
      evicted: alive.slice(0, 602),
    });
    alive = [...alive.slice(602), third];
    expect(alive).toHaveLength(100);
    expect(await store.listWalletSessions('default', ALICE, now)).toEqual(alive);
    expect((await store.readStats('default', now)).active).toBe(100);

    // Every session but one goes, the 500 expired ones too.
    const kept = alive[50]!;
    expect(await store.deleteWalletSessions('default', ALICE, { exceptId: kept.id, now })).toEqual(
      alive.filter((r) => r !== kept),
    );
    expect(await admin().zrange(keys.wallet('default', ALICE), 0, -1)).toEqual([kept.id]);
    expect(await store.getSession('default', expired[0]!.id)).toBeNull();
    expect(await store.listWalletSessions('default', ALICE, now)).toEqual([kept]);
    expectBounded(client.sent);
    expect(client.sent.some((c) => c.keys === MAX_ITEMS_PER_COMMAND + 1)).toBe(true);
  });

  it('never holds more than the limit when instances create concurrently in a wallet too large for one call', async () => {
    const a = openStore(recordingClient());
    const instances = [a, ...Array.from({ length: 5 }, () => openStore(recordingClient(), a.keyPrefix))];
    const now = T + 100 * MIN;
    await seedSessions(
      a,
      Array.from({ length: 600 }, (_, i) => makeRecord(ALICE, T + i, MIN)),
    );
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        instances[i % instances.length]!.createSession({
          record: makeRecord(ALICE, now + i, 200 * MIN),
          limit: 3,
          policy: 'evict-oldest',
          now,
        }),
      ),
    );
    expect(results.every((r) => r.created)).toBe(true);
    expect(results.flatMap((r) => (r.created ? r.evicted : []))).toHaveLength(57);
    expect(await a.listWalletSessions('default', ALICE, now)).toHaveLength(3);
    expect((await a.readStats('default', now)).active).toBe(3);
  });

  it('starts over when another instance creates between its read of a large wallet and its script', async () => {
    const client = recordingClient();
    const a = openStore(client);
    const b = openStore(recordingClient(), a.keyPrefix);
    const now = T + 100 * MIN;
    await seedSessions(
      a,
      Array.from({ length: 600 }, (_, i) => makeRecord(ALICE, T + i, MIN)),
    );
    const other = makeRecord(ALICE, now, 200 * MIN);
    // Hold a's first digest script until b has created a session: a counted no live session, b's makes one.
    let isHeld = false;
    const send = client.sendCommand.bind(client);
    client.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
      const [command] = args;
      if (!isHeld && command.name === 'evalsha' && command.args[0] === CREATE_SESSION_BY_DIGEST.sha) {
        isHeld = true;
        return b.createSession({ record: other, limit: 1, policy: 'reject', now }).then(() => send(...args));
      }
      return send(...args);
    };
    const mine = makeRecord(ALICE, now + 1, 200 * MIN);
    expect(await a.createSession({ record: mine, limit: 1, policy: 'reject', now })).toEqual({ created: false, reason: 'limit' });
    expect(isHeld).toBe(true);
    expect(await a.listWalletSessions('default', ALICE, now)).toEqual([other]);
  });

  it('cleans up, counts and audits more sessions than one call carries', async () => {
    const client = recordingClient();
    const store = openStore(client);
    const subjects = Array.from({ length: 1200 }, (_, i) => `eip155:1:0x${i.toString(16).padStart(40, '0')}`);
    const expired = subjects.map((subject, i) => makeRecord(subject, T + i, MIN));
    const live = subjects.slice(0, 300).map((subject) => makeRecord(subject, T, 500 * MIN));
    await seedSessions(store, [...expired, ...live]);
    const now = T + 1200 + MIN;

    expect((await store.readStats('default', now)).active).toBe(300);
    const first = await store.cleanupExpired(now, 1000);
    expect(first.map((r) => r.id)).toEqual(expired.slice(0, 1000).map((r) => r.id));
    expect((await store.cleanupExpired(now, 1000)).map((r) => r.id)).toEqual(expired.slice(1000).map((r) => r.id));
    expect(await store.cleanupExpired(now, 1000)).toEqual([]);

    // One append of 1,200 drafts, one subject each, with text JSON and Lua must both carry intact.
    const text = 'quote " backslash \\ newline \n é \u{1F600} lone \uD800 nul \u0000 \u2028';
    const drafts: AuditDraft[] = expired.map((r, i) => ({
      at: now,
      type: 'session_expired',
      sessionId: r.id,
      subject: r.subject,
      details: { i, text },
    }));
    const appended = await store.appendAudit('default', drafts);
    expect(appended.map((e) => e.seq)).toEqual(drafts.map((_, i) => i + 1));
    expect(await store.queryAudit('default', { limit: 5000 })).toEqual(appended);
    expect(await store.queryAudit('default', { subject: subjects[777]!, limit: 10 })).toEqual([appended[777]]);
    expect(await verifyAuditChain((afterSeq) => store.queryAudit('default', { afterSeq, limit: 1000 }))).toMatchObject({
      valid: true,
      entries: 1200,
    });
    expectBounded(client.sent);
  });
});
