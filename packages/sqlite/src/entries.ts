import { ENTRY_NAMESPACE_PATTERN, MAX_ENTRY_KEY_LENGTH, type Store, type StoredEntry } from '@latchkey/core';
import type Database from 'better-sqlite3';
import { LIVE } from './sql.js';

/** The contract's bound on one `scanEntries` page. */
const MAX_SCAN_PAGE = 1000;

/** A lone surrogate would reach SQLite as U+FFFD, so two different keys could share one row. */
const LONE_SURROGATE = /\p{Cs}/u;

/*
 * Bad namespaces and keys are caller bugs, thrown as plain Errors so that `SqliteStore`'s `#run` reports them as
 * STORE_UNAVAILABLE like every other failure (as a duplicate session id is). The messages name the
 * rule, never the key: a key may be a nonce.
 */
function assertEntryNamespace(namespace: string): void {
  if (typeof namespace !== 'string' || !ENTRY_NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`entry namespace must match ${String(ENTRY_NAMESPACE_PATTERN)}`);
  }
}

function assertEntryAddress(namespace: string, key: string): void {
  assertEntryNamespace(namespace);
  if (typeof key !== 'string' || key.length > MAX_ENTRY_KEY_LENGTH || LONE_SURROGATE.test(key)) {
    throw new Error(`entry key must be a well-formed string of at most ${MAX_ENTRY_KEY_LENGTH} UTF-16 code units`);
  }
}

export type ScanPage = Parameters<Store['scanEntries']>[2];

/** A page outside the contract (a limit beyond 1..1000, a bound that is not a number) is a caller bug. */
function assertScanPage(page: ScanPage): void {
  const { expiringAfter, afterKey, limit, now } = page;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SCAN_PAGE) {
    throw new Error(`scanEntries limit must be an integer from 1 to ${MAX_SCAN_PAGE}`);
  }
  if (!Number.isFinite(expiringAfter) || !Number.isFinite(now))
    throw new Error('scanEntries expiringAfter and now must be finite numbers');
  if (afterKey !== undefined && typeof afterKey !== 'string') throw new Error('scanEntries afterKey must be a string when given');
}

type EntryRow = { key: string; value: string; expires_at: number };

const toEntry = (row: EntryRow): StoredEntry => ({ key: row.key, value: row.value, expiresAt: row.expires_at });

/** JavaScript's string order (UTF-16 code units), which is MemoryStore's and so the contract's. */
const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The entry methods of one connection. Each checks its namespace and key first: a bad one is a
 * caller bug, thrown before any statement runs.
 */
export class Entries {
  readonly #sql: Statements;
  readonly #scan: Database.Transaction<(appId: string, namespace: string, page: ScanPage) => StoredEntry[]>;

  constructor(db: Database.Database) {
    const sql = prepareStatements(db);
    this.#sql = sql;
    this.#scan = db.transaction((appId: string, namespace: string, page: ScanPage): StoredEntry[] => {
      const { expiringAfter, afterKey, limit, now } = page;
      const rows: EntryRow[] = [];
      // The cursor's own expiry: only keys after `afterKey` (JavaScript order), and only while live.
      if (afterKey !== undefined && expiringAfter > now) {
        for (const row of sql.entriesAt.all(appId, namespace, expiringAfter)) if (row.key > afterKey) rows.push(row);
      }
      if (rows.length < limit) {
        const later = sql.entriesAfter.all(appId, namespace, Math.max(expiringAfter, now), limit);
        const last = later.length === limit ? later[limit - 1]!.expires_at : null;
        // A full page may cut a run of equal expiries where SQLite's order put the cut: take the whole run.
        for (const row of later) if (row.expires_at !== last) rows.push(row);
        if (last !== null) rows.push(...sql.entriesAt.all(appId, namespace, last));
      }
      return rows
        .map(toEntry)
        .sort((a, b) => a.expiresAt - b.expiresAt || byKey(a.key, b.key))
        .slice(0, limit);
    });
  }

  put(appId: string, namespace: string, entry: StoredEntry): void {
    assertEntryAddress(namespace, entry.key);
    this.#sql.putEntry.run(appId, namespace, entry.key, entry.value, entry.expiresAt);
  }

  add(appId: string, namespace: string, entry: StoredEntry, now: number): boolean {
    assertEntryAddress(namespace, entry.key);
    return this.#sql.addEntry.run(appId, namespace, entry.key, entry.value, entry.expiresAt, now).changes > 0;
  }

  take(appId: string, namespace: string, key: string, now: number): string | null {
    assertEntryAddress(namespace, key);
    const row = this.#sql.deleteEntry.get(appId, namespace, key);
    return row && now < row.expires_at ? row.value : null;
  }

  increment(appId: string, namespace: string, key: string, expiresAt: number, now: number): number {
    assertEntryAddress(namespace, key);
    return this.#sql.incrementEntry.get({ app_id: appId, namespace, key, expires_at: expiresAt, now })!.count;
  }

  /** One `.deferred` transaction, so the page comes from one snapshot. */
  scan(appId: string, namespace: string, page: ScanPage): StoredEntry[] {
    assertEntryNamespace(namespace);
    assertScanPage(page);
    return this.#scan.deferred(appId, namespace, page);
  }

  get(appId: string, namespace: string, key: string, now: number): string | null {
    assertEntryAddress(namespace, key);
    return this.#sql.liveEntry.get(appId, namespace, key, now)?.value ?? null;
  }

  list(appId: string, namespace: string, now: number): StoredEntry[] {
    assertEntryNamespace(namespace);
    return this.#sql.liveEntries
      .all(appId, namespace, now)
      .map(toEntry)
      .sort((a, b) => byKey(a.key, b.key));
  }

  delete(appId: string, namespace: string, key: string, now: number): boolean {
    assertEntryAddress(namespace, key);
    const row = this.#sql.deleteEntry.get(appId, namespace, key);
    return row !== undefined && now < row.expires_at;
  }
}

function prepareStatements(db: Database.Database) {
  return {
    putEntry: db.prepare<[string, string, string, string, number]>(
      'INSERT INTO entries (app_id, namespace, key, value, expires_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (app_id, namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
    ),
    // The WHERE makes a live row win the conflict: nothing changes, and `changes` is 0.
    addEntry: db.prepare<[string, string, string, string, number, number]>(
      'INSERT INTO entries (app_id, namespace, key, value, expires_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (app_id, namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at ' +
        'WHERE entries.expires_at <= ?',
    ),
    // SET sees the row as it was, so both CASEs judge the stored expiry; RETURNING sees the row as written.
    incrementEntry: db.prepare<
      [{ app_id: string; namespace: string; key: string; expires_at: number; now: number }],
      { count: number }
    >(
      "INSERT INTO entries (app_id, namespace, key, value, expires_at) VALUES (@app_id, @namespace, @key, '1', @expires_at) " +
        'ON CONFLICT (app_id, namespace, key) DO UPDATE SET ' +
        "value = CASE WHEN entries.expires_at <= @now THEN '1' ELSE CAST(CAST(entries.value AS INTEGER) + 1 AS TEXT) END, " +
        'expires_at = CASE WHEN entries.expires_at <= @now THEN excluded.expires_at ELSE entries.expires_at END ' +
        'RETURNING CAST(value AS INTEGER) AS count',
    ),
    deleteEntry: db.prepare<[string, string, string], { value: string; expires_at: number }>(
      'DELETE FROM entries WHERE app_id = ? AND namespace = ? AND key = ? RETURNING value, expires_at',
    ),
    liveEntry: db.prepare<[string, string, string, number], { value: string }>(
      `SELECT value FROM entries WHERE app_id = ? AND namespace = ? AND key = ? AND ${LIVE}`,
    ),
    liveEntries: db.prepare<[string, string, number], EntryRow>(
      `SELECT key, value, expires_at FROM entries WHERE app_id = ? AND namespace = ? AND ${LIVE}`,
    ),
    // Both range over entries_by_namespace_expiry (app_id, namespace, expires_at).
    entriesAfter: db.prepare<[string, string, number, number], EntryRow>(
      'SELECT key, value, expires_at FROM entries WHERE app_id = ? AND namespace = ? AND expires_at > ? ORDER BY expires_at LIMIT ?',
    ),
    entriesAt: db.prepare<[string, string, number], EntryRow>(
      'SELECT key, value, expires_at FROM entries WHERE app_id = ? AND namespace = ? AND expires_at = ?',
    ),
  };
}
