import { once } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type AuditDraft,
  type AuditEntry,
  isLatchkeyError,
  MAX_ENTRY_KEY_LENGTH,
  MemoryStore,
  type SessionRecord,
  type StoredEntry,
  verifyAuditChain,
} from '@latchkey/core';
import { describeStoreConformance, type StoreHarness } from '@latchkey/core/conformance';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore, SCHEMA_VERSION, SqliteStore } from './index.js';
import { type AuditRow, auditToRow, rowToAudit } from './rows.js';

const tempDirs: string[] = [];
const opened: SqliteStore[] = [];

function freshPath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-sqlite-'));
  tempDirs.push(dir);
  return path.join(dir, 'latchkey.db');
}

function track(store: SqliteStore): SqliteStore {
  opened.push(store);
  return store;
}

/** A second, raw connection: what another process (or someone with the file) would see. */
function withRaw<T>(file: string, work: (db: Database.Database) => T): T {
  const db = new Database(file, { timeout: 5000 });
  try {
    return work(db);
  } finally {
    db.close();
  }
}

async function removeTempDirs(): Promise<void> {
  for (const store of opened.splice(0)) await store.close();
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

const harness: StoreHarness<SqliteStore> = {
  name: 'sqlite',
  async open() {
    return track(new SqliteStore({ path: freshPath() }));
  },
  async reopen(store) {
    return track(new SqliteStore({ path: store.path }));
  },
  async openUnavailable() {
    const store = new SqliteStore({ path: freshPath() });
    await store.close();
    return store;
  },
  async tamperAudit(store, appId, seq, change) {
    withRaw(store.path, (db) => {
      const row = db.prepare<[string, number], AuditRow>('SELECT * FROM audit WHERE app_id = ? AND seq = ?').get(appId, seq);
      if (!row) throw new Error(`no audit entry ${appId}#${seq}`);
      const entry = rowToAudit(row);
      change(entry);
      db.prepare(
        'UPDATE audit SET app_id = @app_id, seq = @seq, at = @at, type = @type, session_id = @session_id, subject = @subject, ' +
          'details = @details, prev_hash = @prev_hash, hash = @hash WHERE app_id = @old_app_id AND seq = @old_seq',
      ).run({ ...auditToRow(entry), old_app_id: appId, old_seq: seq });
    });
  },
  async deleteAudit(store, appId, seq) {
    withRaw(store.path, (db) => db.prepare('DELETE FROM audit WHERE app_id = ? AND seq = ?').run(appId, seq));
  },
  teardown: removeTempDirs,
};

describeStoreConformance(harness);

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: '0123456789abcdef0123456789abcdef',
    appId: 'app',
    subject: 'eip155:1:0x52908400098527886E0F7030069857D2E4169EE7',
    chainType: 'eip155',
    userId: null,
    authMethod: 'siwe',
    scope: 'read-write',
    roles: ['member'],
    device: { userAgent: 'test' },
    createdAt: T0,
    lastActiveAt: T0,
    idleExpiresAt: T0 + HOUR,
    absoluteExpiresAt: T0 + 24 * HOUR,
    tokenHash: 'token-hash',
    refresh: { hash: 'refresh-hash', generation: 0, previousHash: null, rotatedAt: null, successor: null, retired: [] },
    data: null,
    ...overrides,
  };
}

const draft = (n: number): AuditDraft => ({
  at: T0 + n,
  type: 'session_created',
  sessionId: null,
  subject: null,
  details: { n },
});

/** Every call fails as STORE_UNAVAILABLE, no error carries the key, and no entry row was written. */
async function expectRefusedWritingNothing(path: string, calls: (() => Promise<unknown>)[], secretKey: string): Promise<void> {
  for (const call of calls) {
    const error = await call().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isLatchkeyError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(String((error as Error).cause)).not.toContain(secretKey);
  }
  expect(withRaw(path, (db) => db.prepare('SELECT count(*) FROM entries').pluck().get())).toBe(0);
}

describe('SqliteStore on a real file', () => {
  afterAll(removeTempDirs);

  it('creates the file with its schema, WAL mode and schema version', () => {
    const file = freshPath();
    track(openSqliteStore({ path: file }));
    expect(fs.existsSync(file)).toBe(true);
    withRaw(file, (db) => {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      expect(tables).toEqual(['audit', 'audit_heads', 'counters', 'entries', 'sessions']);
      const indexes = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
        .pluck()
        .all();
      expect(indexes).toEqual([
        'audit_by_subject',
        'entries_by_expiry',
        'entries_by_namespace_expiry',
        'sessions_by_expiry',
        'sessions_by_wallet',
      ]);
    });
  });

  it('survives a restart: close, open the path again, validate the same session', async () => {
    const file = freshPath();
    const first = new SqliteStore({ path: file });
    await first.createSession({ record: session(), limit: 5, policy: 'reject', now: T0 });
    await first.appendAudit('app', [draft(1), draft(2)]);
    await first.incrementCounters('app', { created: 1 });
    await first.close();

    const second = track(new SqliteStore({ path: file }));
    const validated = await second.validateSession({
      appId: 'app',
      id: session().id,
      tokenHash: 'token-hash',
      now: T0 + 1000,
      activeBefore: T0 + 1000,
      idleExpiresAt: T0 + 1000 + HOUR,
    });
    expect(validated).toEqual(session({ lastActiveAt: T0 + 1000, idleExpiresAt: T0 + 1000 + HOUR }));
    const [third] = await second.appendAudit('app', [draft(3)]);
    expect(third?.seq).toBe(3);
    expect((await second.readStats('app', T0)).counters.created).toBe(1);
  });

  it('opens a file that already holds the current schema without touching its data', async () => {
    const file = freshPath();
    const first = new SqliteStore({ path: file });
    await first.createSession({ record: session(), limit: 5, policy: 'reject', now: T0 });
    const second = track(new SqliteStore({ path: file }));
    expect(await second.getSession('app', session().id)).toEqual(session());
    await first.close();
  });

  it('refuses a file written by a newer schema version', () => {
    const file = freshPath();
    withRaw(file, (db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));
    expect(() => new SqliteStore({ path: file })).toThrow(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }));
  });

  it('throws STORE_UNAVAILABLE when the file cannot be opened', () => {
    const missingDir = path.join(path.dirname(freshPath()), 'missing', 'latchkey.db');
    expect(() => new SqliteStore({ path: missingDir })).toThrow(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }));
    const notADatabase = freshPath();
    fs.writeFileSync(notADatabase, 'this is not a database, it is a text file that is long enough to have a header');
    expect(() => new SqliteStore({ path: notADatabase })).toThrow(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }));
  });

  it('rejects bad options at construction with CONFIG_INVALID', () => {
    for (const options of [
      { path: '' },
      { path: ':memory:' },
      { path: freshPath(), busyTimeoutMs: -1 },
      { path: freshPath(), busyTimeoutMs: 1.5 },
    ]) {
      expect(() => new SqliteStore(options)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('throws from every method once closed, and close() may be called twice', async () => {
    const store = new SqliteStore({ path: freshPath() });
    await store.close();
    await store.close();
    const calls: (() => Promise<unknown>)[] = [
      () => store.createSession({ record: session(), limit: 5, policy: 'reject', now: T0 }),
      () => store.getSession('app', 'x'),
      () => store.validateSession({ appId: 'app', id: 'x', tokenHash: 'h', now: T0, activeBefore: T0, idleExpiresAt: T0 }),
      () =>
        store.rotateRefresh({
          appId: 'app',
          id: 'x',
          presentedHash: 'h',
          now: T0,
          graceMs: 0,
          retiredLimit: 1,
          next: { tokenHash: 't', refreshHash: 'r', successor: 's', idleExpiresAt: T0 },
        }),
      () => store.setSessionData('app', 'x', null, T0),
      () => store.deleteSession('app', 'x'),
      () => store.listWalletSessions('app', 's', T0),
      () => store.deleteWalletSessions('app', 's', { now: T0 }),
      () => store.cleanupExpired(T0, 10),
      () => store.appendAudit('app', []),
      () => store.queryAudit('app', { limit: 10 }),
      () => store.incrementCounters('app', {}),
      () => store.readStats('app', T0),
      () => store.putEntry('app', 'nonce', { key: 'k', value: 'v', expiresAt: T0 + HOUR }, T0),
      () => store.addEntry('app', 'nonce', { key: 'k', value: 'v', expiresAt: T0 + HOUR }, T0),
      () => store.takeEntry('app', 'nonce', 'k', T0),
      () => store.listEntries('app', 'nonce', T0),
      () => store.deleteEntry('app', 'nonce', 'k', T0),
      () => store.ping(),
    ];
    for (const call of calls) {
      const error = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isLatchkeyError(error, 'STORE_UNAVAILABLE')).toBe(true);
    }
  });

  it('keeps the audit head apart, so deleting the newest entry leaves a visible gap', async () => {
    const store = track(new SqliteStore({ path: freshPath() }));
    const [, second] = await store.appendAudit('app', [draft(1), draft(2)]);
    await harness.deleteAudit(store, 'app', 2);
    const [third] = await store.appendAudit('app', [draft(3)]);
    expect(third).toMatchObject({ seq: 3, prevHash: (second as AuditEntry).hash });
    expect((await store.queryAudit('app', { limit: 10 })).map((e) => e.seq)).toEqual([1, 3]);
  });

  it('cleanupExpired deletes across apps, soonest expiry first, within the limit', async () => {
    const store = track(new SqliteStore({ path: freshPath() }));
    const ids = ['a', 'b', 'c', 'd'].map((c) => c.repeat(32));
    await store.createSession({
      record: session({ id: ids[0], appId: 'one', idleExpiresAt: T0 + 30 }),
      limit: 9,
      policy: 'reject',
      now: T0,
    });
    await store.createSession({
      record: session({ id: ids[1], appId: 'two', absoluteExpiresAt: T0 + 10 }),
      limit: 9,
      policy: 'reject',
      now: T0,
    });
    await store.createSession({
      record: session({ id: ids[2], appId: 'one', idleExpiresAt: T0 + 20 }),
      limit: 9,
      policy: 'reject',
      now: T0,
    });
    await store.createSession({ record: session({ id: ids[3], appId: 'two' }), limit: 9, policy: 'reject', now: T0 });
    expect((await store.cleanupExpired(T0 + 30, 2)).map((r) => r.id)).toEqual([ids[1], ids[2]]);
    expect((await store.cleanupExpired(T0 + 30, 2)).map((r) => r.id)).toEqual([ids[0]]);
    expect(await store.cleanupExpired(T0 + 30, 2)).toEqual([]);
    expect(await store.getSession('two', ids[3]!)).not.toBeNull();
  });

  it('refuses a bad entry namespace or key with STORE_UNAVAILABLE, naming no key; accepts the bounds', async () => {
    const store = track(new SqliteStore({ path: freshPath() }));
    const entry = (key: string) => ({ key, value: 'v', expiresAt: T0 + HOUR });
    const secretKey = `nonce-${'s'.repeat(MAX_ENTRY_KEY_LENGTH)}`;
    const calls: (() => Promise<unknown>)[] = [];
    for (const namespace of ['', 'Nonce', '1nonce', 'n'.repeat(33), 'no nce']) {
      calls.push(
        () => store.putEntry('app', namespace, entry('k'), T0),
        () => store.addEntry('app', namespace, entry('k'), T0),
        () => store.takeEntry('app', namespace, 'k', T0),
        () => store.listEntries('app', namespace, T0),
        () => store.scanEntries('app', namespace, { expiringAfter: 0, limit: 10, now: T0 }),
        () => store.deleteEntry('app', namespace, 'k', T0),
      );
    }
    for (const key of [secretKey, 'lone \uD800 surrogate']) {
      calls.push(
        () => store.putEntry('app', 'nonce', entry(key), T0),
        () => store.addEntry('app', 'nonce', entry(key), T0),
        () => store.takeEntry('app', 'nonce', key, T0),
        () => store.deleteEntry('app', 'nonce', key, T0),
      );
    }
    await expectRefusedWritingNothing(store.path, calls, secretKey);

    // The bounds themselves are accepted, and keys list in JavaScript's order (UTF-16 code units),
    // where U+1F600 sorts before U+E000; SQLite's own byte order would put it after.
    const longest = 'k'.repeat(MAX_ENTRY_KEY_LENGTH);
    const widest = `a${'z'.repeat(31)}`;
    for (const key of ['\uE000', longest, '\u{1F600}']) await store.putEntry('app', widest, entry(key), T0);
    expect((await store.listEntries('app', widest, T0)).map((e) => e.key)).toEqual([longest, '\u{1F600}', '\uE000']);
  });

  it('cleanupExpired sweeps every expired entry, beyond one batch and whatever the limit, leaving live ones', async () => {
    const store = track(new SqliteStore({ path: freshPath() }));
    withRaw(store.path, (db) => {
      const insert = db.prepare('INSERT INTO entries (app_id, namespace, key, value, expires_at) VALUES (?, ?, ?, ?, ?)');
      db.transaction(() => {
        for (let i = 0; i < 2500; i += 1) insert.run(i % 2 ? 'one' : 'two', 'nonce', `n${i}`, 'v', T0 + 1 + (i % 5));
      })();
    });
    await store.putEntry('one', 'keys', { key: 'live', value: 'v', expiresAt: T0 + 6 }, T0);
    expect(await store.cleanupExpired(T0 + 5, 0)).toEqual([]);
    const left = withRaw(store.path, (db) => db.prepare('SELECT app_id, namespace, key FROM entries').all());
    expect(left).toEqual([{ app_id: 'one', namespace: 'keys', key: 'live' }]);
    expect(await store.listEntries('one', 'keys', T0 + 5)).toEqual([{ key: 'live', value: 'v', expiresAt: T0 + 6 }]);
  });

  it('scanEntries refuses a page outside the contract with STORE_UNAVAILABLE', async () => {
    const store = track(new SqliteStore({ path: freshPath() }));
    const pages = [
      { expiringAfter: 0, limit: 0, now: T0 },
      { expiringAfter: 0, limit: 1001, now: T0 },
      { expiringAfter: 0, limit: 2.5, now: T0 },
      { expiringAfter: 0, limit: Number.POSITIVE_INFINITY, now: T0 },
      { expiringAfter: Number.NaN, limit: 10, now: T0 },
      { expiringAfter: 0, limit: 10, now: Number.NEGATIVE_INFINITY },
      { expiringAfter: 0, afterKey: 7 as unknown as string, limit: 10, now: T0 },
    ];
    for (const page of pages) {
      await expect(store.scanEntries('app', 'revoked', page)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    }
    expect(await store.scanEntries('app', 'revoked', { expiringAfter: 0, limit: 1000, now: T0 })).toEqual([]);
  });

  it('scanEntries cuts runs of equal expiries in JavaScript order, not SQLite byte order, and pages each entry once', async () => {
    const store = track(new SqliteStore({ path: freshPath() }));
    const memory = new MemoryStore();
    // U+1F600 sorts before U+E000 by UTF-16 code units and after it by UTF-8 bytes.
    const keys = ['a', 'b', '\uE000', '\uE000x', '\u{1F600}', '\u{1F600}x', 'z'];
    for (const [i, key] of keys.entries()) {
      for (const s of [store, memory]) {
        await s.putEntry('app', 'revoked', { key, value: 'v', expiresAt: T0 + HOUR }, T0);
        await s.putEntry('app', 'revoked', { key: `${key}-later`, value: 'v', expiresAt: T0 + 2 * HOUR + i }, T0);
        await s.putEntry('app', 'revoked', { key: `${key}-gone`, value: 'v', expiresAt: T0 - 1 }, T0 - 2);
      }
    }
    for (const limit of [1, 2, 3, 5, 8, 1000]) {
      for (const now of [T0, T0 + HOUR, T0 + 2 * HOUR + 3]) {
        const seen: StoredEntry[] = [];
        let cursor: { expiringAfter: number; afterKey?: string } = { expiringAfter: 0 };
        for (;;) {
          const page = await store.scanEntries('app', 'revoked', { ...cursor, limit, now });
          expect(page).toEqual(await memory.scanEntries('app', 'revoked', { ...cursor, limit, now }));
          const last = page[page.length - 1];
          if (!last) break;
          seen.push(...page);
          cursor = { expiringAfter: last.expiresAt, afterKey: last.key };
        }
        expect(seen).toEqual(await memory.scanEntries('app', 'revoked', { expiringAfter: 0, limit: 1000, now }));
      }
    }
    const afterZ = { expiringAfter: T0 + HOUR, afterKey: 'z', limit: 3, now: T0 };
    expect((await store.scanEntries('app', 'revoked', afterZ)).map((e) => e.key)).toEqual(['\u{1F600}', '\u{1F600}x', '\uE000']);
  });

  it('scanEntries reads one namespace by its expiry index: 40,000 entries page by page, each once', async () => {
    const store = track(new SqliteStore({ path: freshPath() }));
    const count = 40_000;
    withRaw(store.path, (db) => {
      const insert = db.prepare('INSERT INTO entries (app_id, namespace, key, value, expires_at) VALUES (?, ?, ?, ?, ?)');
      db.transaction(() => {
        // Runs of ten equal expiries, so most pages end inside a run; a second namespace and app around it.
        for (let i = 0; i < count; i += 1) insert.run('app', 'revoked', `sid-${i}`, 'r', T0 + 1 + Math.floor(i / 10));
        for (let i = 0; i < 1000; i += 1)
          insert.run(i % 2 ? 'app' : 'other', i % 2 ? 'nonce' : 'revoked', `n${i}`, 'v', T0 + 1 + i);
      })();
      const plan = (sql: string): string[] =>
        db
          .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
          .all(...Array.from(sql.matchAll(/\?/g), () => 1))
          .map((r) => r.detail);
      const where = 'FROM entries WHERE app_id = ? AND namespace = ?';
      expect(plan(`SELECT key ${where} AND expires_at > ? ORDER BY expires_at LIMIT ?`)).toEqual([
        'SEARCH entries USING INDEX entries_by_namespace_expiry (app_id=? AND namespace=? AND expires_at>?)',
      ]);
      expect(plan(`SELECT key ${where} AND expires_at = ?`)).toEqual([
        'SEARCH entries USING INDEX entries_by_namespace_expiry (app_id=? AND namespace=? AND expires_at=?)',
      ]);
    });
    const seen = new Set<string>();
    let pages = 0;
    let cursor: { expiringAfter: number; afterKey?: string } = { expiringAfter: 0 };
    for (;;) {
      const page = await store.scanEntries('app', 'revoked', { ...cursor, limit: 999, now: T0 });
      const last = page[page.length - 1];
      if (!last) break;
      pages += 1;
      for (const e of page) {
        expect(seen.has(e.key)).toBe(false);
        seen.add(e.key);
      }
      cursor = { expiringAfter: last.expiresAt, afterKey: last.key };
    }
    expect(seen.size).toBe(count);
    expect(pages).toBe(Math.ceil(count / 999));
    expect(await store.listEntries('app', 'revoked', T0)).toHaveLength(count);
  });

  it('takes each nonce once and admits each replay key once with four connections racing from four threads', async () => {
    const file = freshPath();
    const store = track(new SqliteStore({ path: file }));
    const keys = 200;
    for (let i = 0; i < keys; i += 1) {
      await store.putEntry('app', 'nonce', { key: `n${i}`, value: `v${i}`, expiresAt: T0 + HOUR }, T0);
      // An expired replay row under every other key must not block the add.
      if (i % 2) await store.putEntry('app', 'replay', { key: `r${i}`, value: 'stale', expiresAt: T0 }, T0 - 1);
    }
    const module = pathToFileURL(path.resolve(import.meta.dirname, '../dist/index.js')).href;
    if (!fs.existsSync(new URL(module))) throw new Error('build @latchkey/sqlite first (npm run build): the workers load dist/');
    const start = new SharedArrayBuffer(4);
    const racers = await Promise.all(Array.from({ length: 4 }, (_, worker) => entryRacer({ module, file, worker, keys, start })));
    Atomics.store(new Int32Array(start), 0, 1);
    Atomics.notify(new Int32Array(start), 0);
    const results = await Promise.all(racers.map((r) => r.done));

    const taken = results.flatMap((r) => r.taken).sort();
    expect(taken).toEqual(Array.from({ length: keys }, (_, i) => `v${i}`).sort());
    const added = results.flatMap((r) => r.added).sort();
    expect(added).toEqual(Array.from({ length: keys }, (_, i) => `r${i}`).sort());
    expect(await store.listEntries('app', 'nonce', T0)).toEqual([]);
    expect(await store.listEntries('app', 'replay', T0)).toHaveLength(keys);
  });

  it('counts every hit exactly once with four connections incrementing from four threads', async () => {
    const file = freshPath();
    const store = track(new SqliteStore({ path: file }));
    const keys = 20;
    const hitsPerThread = 25;
    // An expired window under every other key (a stale count, held past its expiry) must start over at 1.
    for (let i = 1; i < keys; i += 2) await store.putEntry('app', 'rate', { key: `ip${i}`, value: '41', expiresAt: T0 }, T0 - 1);
    const module = pathToFileURL(path.resolve(import.meta.dirname, '../dist/index.js')).href;
    if (!fs.existsSync(new URL(module))) throw new Error('build @latchkey/sqlite first (npm run build): the workers load dist/');
    const start = new SharedArrayBuffer(4);
    const racers = await Promise.all(
      Array.from({ length: 4 }, (_, worker) => counterRacer({ module, file, worker, keys, hitsPerThread, start })),
    );
    Atomics.store(new Int32Array(start), 0, 1);
    Atomics.notify(new Int32Array(start), 0);
    const results = await Promise.all(racers.map((r) => r.done));

    const hits = 4 * hitsPerThread;
    for (let i = 0; i < keys; i += 1) {
      const answers = results.flatMap((r) => r[`ip${i}`] ?? []).sort((a, b) => a - b);
      expect(answers, `ip${i}`).toEqual(Array.from({ length: hits }, (_, n) => n + 1));
    }
    expect(await store.listEntries('app', 'rate', T0)).toEqual(
      Array.from({ length: keys }, (_, i) => ({ key: `ip${i}`, value: String(hits), expiresAt: T0 + HOUR })).sort((a, b) =>
        a.key < b.key ? -1 : 1,
      ),
    );
  });

  it('incrementEntry refuses a bad namespace or key as the other entry methods do, and writes nothing', async () => {
    const store = track(new SqliteStore({ path: freshPath() }));
    const secretKey = `ip-${'s'.repeat(MAX_ENTRY_KEY_LENGTH)}`;
    const calls = [
      ...['', 'Rate', '1rate', 'r'.repeat(33), 'ra te'].map(
        (namespace) => () => store.incrementEntry('app', namespace, 'k', T0 + HOUR, T0),
      ),
      ...[secretKey, 'lone \uD800 surrogate'].map((key) => () => store.incrementEntry('app', 'rate', key, T0 + HOUR, T0)),
    ];
    await expectRefusedWritingNothing(store.path, calls, secretKey);
    const longest = 'k'.repeat(MAX_ENTRY_KEY_LENGTH);
    expect(await store.incrementEntry('app', 'rate', longest, T0 + HOUR, T0)).toBe(1);
    expect(await store.incrementEntry('app', 'rate', longest, T0 + 2 * HOUR, T0 + 1)).toBe(2);
    expect(await store.listEntries('app', 'rate', T0)).toEqual([{ key: longest, value: '2', expiresAt: T0 + HOUR }]);
  });

  it('a write waits for another connection holding the write lock instead of failing', async () => {
    const file = freshPath();
    const store = track(new SqliteStore({ path: file, busyTimeoutMs: 5000 }));
    const holdMs = 300;
    const holder = await holdWriteLock(file, holdMs);
    const started = Date.now();
    const [entry] = await store.appendAudit('app', [draft(1)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(holdMs - 50);
    expect(entry?.seq).toBe(1);
    expect(await holder.done).toBe('committed');
  });

  it('with busyTimeoutMs 0 a contended write fails closed with STORE_UNAVAILABLE', async () => {
    const file = freshPath();
    const store = track(new SqliteStore({ path: file, busyTimeoutMs: 0 }));
    const holder = await holdWriteLock(file, 300);
    await expect(store.appendAudit('app', [draft(1)])).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await holder.done;
    expect(await store.queryAudit('app', { limit: 10 })).toEqual([]);
  });

  it('holds the limit and the audit chain with four connections writing at once from four threads', async () => {
    const file = freshPath();
    track(new SqliteStore({ path: file }));
    const module = pathToFileURL(path.resolve(import.meta.dirname, '../dist/index.js')).href;
    if (!fs.existsSync(new URL(module))) throw new Error('build @latchkey/sqlite first (npm run build): the workers load dist/');
    const workers = Array.from({ length: 4 }, (_, worker) => concurrentWriter({ module, file, worker, count: 30 }));
    expect(await Promise.all(workers)).toEqual(['done', 'done', 'done', 'done']);

    const store = track(new SqliteStore({ path: file }));
    expect(await store.listWalletSessions('app', session().subject, T0)).toHaveLength(5);
    const entries = await store.queryAudit('app', { limit: 1000 });
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    const verified = await verifyAuditChain((afterSeq) => store.queryAudit('app', { afterSeq, limit: 50 }));
    expect(verified).toMatchObject({ valid: true, entries: 120 });
  });
});

/**
 * One thread with its own SqliteStore (loaded from dist/). Once its store is open it says so and
 * waits for the shared start flag, then tries to take every nonce and add every replay key,
 * interleaving the two; `done` answers what it won.
 */
async function entryRacer(workerData: {
  module: string;
  file: string;
  worker: number;
  keys: number;
  start: SharedArrayBuffer;
}): Promise<{ done: Promise<{ taken: string[]; added: string[] }> }> {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { SqliteStore } = await import(workerData.module);
      const store = new SqliteStore({ path: workerData.file });
      const T0 = Date.UTC(2026, 0, 1);
      const taken = [];
      const added = [];
      parentPort.postMessage('ready');
      Atomics.wait(new Int32Array(workerData.start), 0, 0);
      for (let j = 0; j < workerData.keys; j += 1) {
        // Each thread walks the keys from its own offset so the races spread over every key.
        const i = (j + workerData.worker * 7) % workerData.keys;
        const value = await store.takeEntry('app', 'nonce', 'n' + i, T0);
        if (value !== null) taken.push(value);
        const entry = { key: 'r' + i, value: 'w' + workerData.worker, expiresAt: T0 + 3600000 };
        if (await store.addEntry('app', 'replay', entry, T0)) added.push('r' + i);
      }
      await store.close();
      parentPort.postMessage({ taken, added });
    })().catch((error) => parentPort.postMessage(String(error && error.stack)));
    `,
    { eval: true, workerData },
  );
  const [ready] = await once(worker, 'message');
  if (ready !== 'ready') {
    await worker.terminate();
    throw new Error(String(ready));
  }
  // As in holdWriteLock: listening again right after the first message cannot miss the second.
  const done = once(worker, 'message')
    .then(([message]) => {
      if (typeof message === 'string') throw new Error(message);
      return message as { taken: string[]; added: string[] };
    })
    .finally(() => worker.terminate());
  return { done };
}

/**
 * One thread with its own SqliteStore (loaded from dist/). Once its store is open it says so and
 * waits for the shared start flag, then counts `hitsPerThread` hits on every key, walking the keys
 * from its own offset; `done` answers the counts it was given, by key.
 */
async function counterRacer(workerData: {
  module: string;
  file: string;
  worker: number;
  keys: number;
  hitsPerThread: number;
  start: SharedArrayBuffer;
}): Promise<{ done: Promise<Record<string, number[]>> }> {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { SqliteStore } = await import(workerData.module);
      const store = new SqliteStore({ path: workerData.file });
      const T0 = Date.UTC(2026, 0, 1);
      const counts = {};
      parentPort.postMessage('ready');
      Atomics.wait(new Int32Array(workerData.start), 0, 0);
      for (let hit = 0; hit < workerData.hitsPerThread; hit += 1) {
        for (let j = 0; j < workerData.keys; j += 1) {
          const key = 'ip' + ((j + workerData.worker * 7) % workerData.keys);
          // Only the first hit of a window sets its expiry: the later expiresAt must never win.
          const count = await store.incrementEntry('app', 'rate', key, T0 + 3600000 + hit, T0);
          (counts[key] ??= []).push(count);
        }
      }
      await store.close();
      parentPort.postMessage(counts);
    })().catch((error) => parentPort.postMessage(String(error && error.stack)));
    `,
    { eval: true, workerData },
  );
  const [ready] = await once(worker, 'message');
  if (ready !== 'ready') {
    await worker.terminate();
    throw new Error(String(ready));
  }
  // As in holdWriteLock: listening again right after the first message cannot miss the second.
  const done = once(worker, 'message')
    .then(([message]) => {
      if (typeof message === 'string') throw new Error(message);
      return message as Record<string, number[]>;
    })
    .finally(() => worker.terminate());
  return { done };
}

/**
 * Another thread (standing in for another process) takes the write lock and keeps it for
 * `holdMs`. A worker is needed because better-sqlite3 blocks its own thread while it waits.
 */
async function holdWriteLock(file: string, holdMs: number): Promise<{ done: Promise<string> }> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.driver);
    const db = new Database(workerData.file);
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO counters (app_id, name, value) VALUES ('holder', 'created', 1)").run();
    parentPort.postMessage('locked');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
    db.exec('COMMIT');
    db.close();
    parentPort.postMessage('committed');
    `,
    { eval: true, workerData: { driver, file, holdMs } },
  );
  // Each message is its own task, so listening again right after the first cannot miss the second.
  await once(worker, 'message');
  const done = once(worker, 'message')
    .then(([message]) => String(message))
    .finally(() => worker.terminate());
  return { done };
}

/** One thread with its own SqliteStore (loaded from dist/) creating sessions for one wallet and auditing each. */
async function concurrentWriter(workerData: { module: string; file: string; worker: number; count: number }): Promise<string> {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { SqliteStore } = await import(workerData.module);
      const store = new SqliteStore({ path: workerData.file });
      const T0 = Date.UTC(2026, 0, 1);
      for (let i = 0; i < workerData.count; i += 1) {
        const id = 'w' + workerData.worker + '-' + i;
        const record = {
          id, appId: 'app', subject: 'eip155:1:0x52908400098527886E0F7030069857D2E4169EE7', chainType: 'eip155',
          userId: null, authMethod: 'siwe', scope: 'read-write', roles: [], device: {},
          createdAt: T0 + i, lastActiveAt: T0, idleExpiresAt: T0 + 3600000, absoluteExpiresAt: T0 + 7200000,
          tokenHash: 'th-' + id,
          refresh: { hash: 'rh-' + id, generation: 0, previousHash: null, rotatedAt: null, successor: null, retired: [] },
          data: null,
        };
        await store.createSession({ record, limit: 5, policy: 'evict-oldest', now: T0 });
        await store.appendAudit('app', [{ at: T0 + i, type: 'session_created', sessionId: id, subject: record.subject, details: { i } }]);
      }
      await store.close();
      parentPort.postMessage('done');
    })().catch((error) => parentPort.postMessage(String(error && error.stack)));
    `,
    { eval: true, workerData },
  );
  try {
    const [message] = await once(worker, 'message');
    return String(message);
  } finally {
    await worker.terminate();
  }
}
