import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SessionRecord } from '@latchkey/core';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SqliteStore } from './index.js';
import { sessionToRow } from './rows.js';

/**
 * The schema as version 1 of this package wrote it, frozen here: a migration must keep working on
 * the files that are out there, whatever later edits do to `MIGRATIONS`.
 */
const VERSION_1_DDL = `
  CREATE TABLE IF NOT EXISTS sessions (
    app_id              TEXT    NOT NULL,
    id                  TEXT    NOT NULL,
    subject             TEXT    NOT NULL,
    chain_type          TEXT    NOT NULL,
    user_id             TEXT,
    auth_method         TEXT    NOT NULL,
    scope               TEXT    NOT NULL,
    roles               TEXT    NOT NULL,
    device              TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    last_active_at      INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    expires_at          INTEGER GENERATED ALWAYS AS (min(idle_expires_at, absolute_expires_at)) VIRTUAL,
    token_hash          TEXT    NOT NULL,
    refresh             TEXT    NOT NULL,
    data                TEXT,
    PRIMARY KEY (app_id, id)
  );
  CREATE INDEX IF NOT EXISTS sessions_by_wallet ON sessions (app_id, subject, created_at, id);
  CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at, app_id, id);

  CREATE TABLE IF NOT EXISTS audit (
    app_id     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    session_id TEXT,
    subject    TEXT,
    details    TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    PRIMARY KEY (app_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS audit_by_subject ON audit (app_id, subject, at);

  CREATE TABLE IF NOT EXISTS audit_heads (
    app_id TEXT    NOT NULL PRIMARY KEY,
    seq    INTEGER NOT NULL,
    hash   TEXT    NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE IF NOT EXISTS counters (
    app_id TEXT    NOT NULL,
    name   TEXT    NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (app_id, name)
  ) WITHOUT ROWID;
`;

/** What version 2 added, frozen likewise. */
const VERSION_2_DDL = `
  CREATE TABLE IF NOT EXISTS entries (
    app_id     TEXT    NOT NULL,
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, namespace, key)
  );
  CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (expires_at);
`;

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

const SESSION: SessionRecord = {
  id: '0123456789abcdef0123456789abcdef',
  appId: 'app',
  subject: 'eip155:1:0x52908400098527886E0F7030069857D2E4169EE7',
  chainType: 'eip155',
  userId: 'user-1',
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
  data: 'v1.sealed',
};

const dirs: string[] = [];
const opened: SqliteStore[] = [];
afterAll(async () => {
  for (const store of opened.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function freshPath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-sqlite-schema-'));
  dirs.push(dir);
  return path.join(dir, 'latchkey.db');
}

function withRaw<T>(file: string, work: (db: Database.Database) => T): T {
  const db = new Database(file, { timeout: 5000 });
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/** A file as version 1 left it: WAL, user_version 1, one session, one audit entry and a counter. */
function versionOneFile(extraDdl = ''): string {
  const file = freshPath();
  withRaw(file, (db) => {
    db.pragma('journal_mode = WAL');
    db.exec(VERSION_1_DDL + extraDdl);
    db.prepare(
      'INSERT INTO sessions (app_id, id, subject, chain_type, user_id, auth_method, scope, roles, device, created_at, ' +
        'last_active_at, idle_expires_at, absolute_expires_at, token_hash, refresh, data) VALUES (@app_id, @id, @subject, ' +
        '@chain_type, @user_id, @auth_method, @scope, @roles, @device, @created_at, @last_active_at, @idle_expires_at, ' +
        '@absolute_expires_at, @token_hash, @refresh, @data)',
    ).run(sessionToRow(SESSION));
    db.prepare("INSERT INTO counters (app_id, name, value) VALUES ('app', 'created', 1)").run();
    db.pragma('user_version = 1');
  });
  return file;
}

/** A file as version 2 left it: version 1's data plus two entries. */
function versionTwoFile(): string {
  const file = versionOneFile(VERSION_2_DDL);
  withRaw(file, (db) => {
    const insert = db.prepare('INSERT INTO entries (app_id, namespace, key, value, expires_at) VALUES (?, ?, ?, ?, ?)');
    insert.run('app', 'revoked', 'b', 'vb', T0 + HOUR);
    insert.run('app', 'revoked', 'a', 'va', T0 + HOUR);
    db.pragma('user_version = 2');
  });
  return file;
}

/** The SQL SQLite keeps for the named objects, to compare an upgraded file with a fresh one. */
function schemaOf(file: string, names: string[]): unknown[] {
  return withRaw(file, (db) =>
    db
      .prepare(
        `SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name IN (${names.map(() => '?').join(', ')}) ORDER BY name`,
      )
      .all(...names),
  );
}

describe('schema migrations', () => {
  it('is at version 3', () => {
    expect(SCHEMA_VERSION).toBe(3);
  });

  it('upgrades a version-1 file in place: entries appear, sessions, audit and counters stay', async () => {
    const file = versionOneFile();
    const store = new SqliteStore({ path: file });
    opened.push(store);

    withRaw(file, (db) => {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    });
    const fresh = freshPath();
    opened.push(new SqliteStore({ path: fresh }));
    const names = [
      'audit',
      'audit_by_subject',
      'audit_heads',
      'counters',
      'entries',
      'entries_by_expiry',
      'entries_by_namespace_expiry',
      'sessions',
    ];
    const added = ['entries', 'entries_by_expiry', 'entries_by_namespace_expiry'];
    expect(schemaOf(file, added)).toEqual(schemaOf(fresh, added));
    expect(schemaOf(file, names).map((o) => (o as { name: string }).name)).toEqual(names);

    expect(await store.getSession('app', SESSION.id)).toEqual(SESSION);
    expect(await store.listWalletSessions('app', SESSION.subject, T0)).toEqual([SESSION]);
    expect((await store.readStats('app', T0)).counters.created).toBe(1);
    const validated = await store.validateSession({
      appId: 'app',
      id: SESSION.id,
      tokenHash: SESSION.tokenHash,
      now: T0 + 1000,
      activeBefore: T0 + 1000,
      idleExpiresAt: T0 + 1000 + HOUR,
    });
    expect(validated).toMatchObject({ lastActiveAt: T0 + 1000 });

    expect(await store.addEntry('app', 'nonce', { key: 'n', value: 'v', expiresAt: T0 + HOUR }, T0)).toBe(true);
    expect(await store.takeEntry('app', 'nonce', 'n', T0)).toBe('v');
  });

  it('opens an upgraded file again without running the step twice', async () => {
    const file = versionOneFile();
    const first = new SqliteStore({ path: file });
    await first.putEntry('app', 'keys', { key: 'k', value: 'v', expiresAt: T0 + HOUR }, T0);
    await first.close();
    const second = new SqliteStore({ path: file });
    opened.push(second);
    expect(await second.listEntries('app', 'keys', T0)).toEqual([{ key: 'k', value: 'v', expiresAt: T0 + HOUR }]);
    expect(await second.getSession('app', SESSION.id)).toEqual(SESSION);
  });

  it('upgrades a version-2 file in place: the namespace expiry index appears, entries stay', async () => {
    const file = versionTwoFile();
    const store = new SqliteStore({ path: file });
    opened.push(store);
    const fresh = freshPath();
    opened.push(new SqliteStore({ path: fresh }));
    withRaw(file, (db) => expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION));
    const added = ['entries_by_namespace_expiry'];
    expect(schemaOf(file, added)).toEqual(schemaOf(fresh, added));
    expect(schemaOf(file, added)).toHaveLength(1);

    const expected = [
      { key: 'a', value: 'va', expiresAt: T0 + HOUR },
      { key: 'b', value: 'vb', expiresAt: T0 + HOUR },
    ];
    expect(await store.listEntries('app', 'revoked', T0)).toEqual(expected);
    expect(await store.scanEntries('app', 'revoked', { expiringAfter: 0, limit: 10, now: T0 })).toEqual(expected);
    expect(await store.getSession('app', SESSION.id)).toEqual(SESSION);
  });

  it('leaves a version-1 file untouched when the step fails (one transaction), and says STORE_UNAVAILABLE', () => {
    // A stray `entries` table without `expires_at`: CREATE TABLE IF NOT EXISTS skips it, the index then fails.
    const file = versionOneFile('CREATE TABLE entries (stray TEXT);');
    expect(() => new SqliteStore({ path: file })).toThrow(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }));
    withRaw(file, (db) => {
      expect(db.pragma('user_version', { simple: true })).toBe(1);
      expect(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'entries_by_expiry'").get()).toBeUndefined();
      expect(db.prepare('SELECT count(*) FROM sessions').pluck().get()).toBe(1);
    });
  });
});
