import {
  type AuditDraft,
  type AuditEntry,
  type AuditQuery,
  type CreateSessionResult,
  LatchkeyError,
  type RotateRefreshInput,
  type RotateRefreshResult,
  type SessionRecord,
  type StatsCounter,
  type Store,
  type StoreCreateSessionInput,
  type StoredEntry,
  type StoreStats,
  type ValidateSessionInput,
} from '@latchkey/core';
import Database from 'better-sqlite3';
import { AuditLog } from './audit.js';
import { Cleanup } from './cleanup.js';
import { Entries, type ScanPage } from './entries.js';
import { type ResolvedOptions, resolveOptions, type SqliteStoreOptions } from './options.js';
import { migrate } from './schema.js';
import { Sessions } from './sessions.js';
import type { Statement } from './sql.js';
import { Stats } from './stats.js';

export type { SqliteStoreOptions } from './options.js';

/**
 * The Latchkey `Store` on one SQLite file (better-sqlite3, WAL). The embedded default: no other
 * service, and several processes may share the file.
 *
 * Every method that reads and then writes with more than one statement runs in one `BEGIN
 * IMMEDIATE` transaction, so it holds the file's write lock from its first read and no other
 * connection (in this process or another) can interleave. Single-statement methods (the entry
 * methods among them: an upsert, an upsert `… RETURNING`, or `DELETE … RETURNING`) rely on SQLite's
 * statement atomicity.
 * Methods are `async` to fit the contract but do their work synchronously, without yielding.
 *
 * Every failure, including use after `close()`, throws a `LatchkeyError` with code
 * `STORE_UNAVAILABLE` (the SQLite error is its `cause`), so the engine fails closed.
 *
 * @example
 * ```ts
 * const store = new SqliteStore({ path: './latchkey.db' });
 * await store.ping();
 * ```
 */
export class SqliteStore implements Store {
  readonly #options: ResolvedOptions;
  readonly #db: Database.Database;
  readonly #ping: Statement<[], unknown>;
  readonly #sessions: Sessions;
  readonly #cleanup: Cleanup;
  readonly #audit: AuditLog;
  readonly #entries: Entries;
  readonly #stats: Stats;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    this.#options = resolveOptions(options);
    let db: Database.Database | undefined;
    try {
      // `timeout` is SQLite's busy_timeout: set before anything else so even the WAL switch and the
      // schema migration wait for another process instead of failing.
      db = new Database(this.#options.path, { timeout: this.#options.busyTimeoutMs });
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`SQLite refused WAL mode (journal_mode is ${String(mode)})`);
      // In WAL, NORMAL loses at most the last commits on power loss, never on a process crash,
      // and never corrupts the file.
      db.pragma('synchronous = NORMAL');
      migrate(db);
      this.#db = db;
      // Reads the file (not just the connection), so a file that has become unreadable fails the ping.
      this.#ping = db.prepare<[], unknown>('SELECT 1 FROM sqlite_schema LIMIT 1');
      this.#sessions = new Sessions(db);
      this.#cleanup = new Cleanup(db);
      this.#audit = new AuditLog(db);
      this.#entries = new Entries(db);
      this.#stats = new Stats(db);
    } catch (cause) {
      db?.close();
      throw new LatchkeyError('STORE_UNAVAILABLE', {
        message: `Could not open the SQLite store at ${this.#options.path}.`,
        cause,
      });
    }
  }

  /** The database file, so a second store (or another process) can open the same data. */
  get path(): string {
    return this.#options.path;
  }

  /** Runs `work` on the open database; anything that goes wrong becomes STORE_UNAVAILABLE. */
  #run<T>(work: () => T): T {
    if (this.#closed) throw new LatchkeyError('STORE_UNAVAILABLE', { message: 'The SQLite store is closed.' });
    try {
      return work();
    } catch (cause) {
      if (cause instanceof LatchkeyError) throw cause;
      throw new LatchkeyError('STORE_UNAVAILABLE', { cause });
    }
  }

  // ---- sessions (sessions.ts) -----------------------------------------------------------------

  async createSession(input: StoreCreateSessionInput): Promise<CreateSessionResult> {
    return this.#run(() => this.#sessions.create(input));
  }

  async getSession(appId: string, id: string): Promise<SessionRecord | null> {
    return this.#run(() => this.#sessions.get(appId, id));
  }

  /**
   * The common case (a throttled validation) is one read and takes no lock. The activity write is a
   * compare-and-set UPDATE that repeats every condition (live, hash, throttle), so it lands only on
   * the state it was decided on and never revives an expired row; if another connection changed the
   * row in between, the row is read once more and returned as it now stands, which is what a
   * validation arriving just after that change would see.
   */
  async validateSession(input: ValidateSessionInput): Promise<SessionRecord | null> {
    return this.#run(() => this.#sessions.validate(input));
  }

  async rotateRefresh(input: RotateRefreshInput): Promise<RotateRefreshResult> {
    return this.#run(() => this.#sessions.rotateRefresh(input));
  }

  async setSessionData(appId: string, id: string, data: string | null, now: number): Promise<boolean> {
    return this.#run(() => this.#sessions.setData(appId, id, data, now));
  }

  async deleteSession(appId: string, id: string): Promise<SessionRecord | null> {
    return this.#run(() => this.#sessions.delete(appId, id));
  }

  async listWalletSessions(appId: string, subject: string, now: number): Promise<SessionRecord[]> {
    return this.#run(() => this.#sessions.listWallet(appId, subject, now));
  }

  /** One DELETE statement, so atomic on its own; RETURNING has no order, hence the sort. */
  async deleteWalletSessions(
    appId: string,
    subject: string,
    options: { exceptId?: string; now: number },
  ): Promise<SessionRecord[]> {
    return this.#run(() => this.#sessions.deleteWallet(appId, subject, options));
  }

  // ---- cleanup (cleanup.ts) -------------------------------------------------------------------

  /**
   * Expired entries go first, in batches of single DELETE statements, and whatever the limit (as
   * MemoryStore drops them all). Doing them first means a failing sweep throws before any session is
   * deleted, so no session is removed without being returned for the engine to audit.
   */
  async cleanupExpired(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#run(() => this.#cleanup.sweep(now, limit));
  }

  // ---- audit (audit.ts) -----------------------------------------------------------------------

  async appendAudit(appId: string, drafts: AuditDraft[]): Promise<AuditEntry[]> {
    return this.#run(() => this.#audit.append(appId, drafts));
  }

  async queryAudit(appId: string, query: AuditQuery): Promise<AuditEntry[]> {
    return this.#run(() => this.#audit.query(appId, query));
  }

  // ---- entries (entries.ts) -------------------------------------------------------------------

  /** One upsert statement. */
  async putEntry(appId: string, namespace: string, entry: StoredEntry, _now: number): Promise<void> {
    this.#run(() => this.#entries.put(appId, namespace, entry));
  }

  /**
   * One upsert statement whose update applies only over an expired row, so it is atomic across
   * connections: of concurrent adds of one key exactly one changes a row, and an expired row never
   * blocks the add.
   */
  async addEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<boolean> {
    return this.#run(() => this.#entries.add(appId, namespace, entry, now));
  }

  /**
   * One `DELETE … RETURNING` statement, so of concurrent takes exactly one gets the row. An expired
   * row is deleted too (as MemoryStore does) but its value is not returned.
   */
  async takeEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    return this.#run(() => this.#entries.take(appId, namespace, key, now));
  }

  /**
   * One upsert statement with `RETURNING`, so atomic across connections: of N concurrent increments
   * of a fresh key the answers are 1..N. Over an expired row it starts again at "1" with the new
   * expiry; over a live one it adds one and keeps the expiry.
   */
  async incrementEntry(appId: string, namespace: string, key: string, expiresAt: number, now: number): Promise<number> {
    return this.#run(() => this.#entries.increment(appId, namespace, key, expiresAt, now));
  }

  /**
   * One deferred (read) transaction, so the page comes from one snapshot: the rows expiring after
   * `max(expiringAfter, now)`, soonest first, `limit` of them (`entries_by_namespace_expiry` makes
   * that a range read, so a page costs its own size, not the namespace's). SQLite orders text by
   * UTF-8 bytes and JavaScript by UTF-16 code units, which disagree above U+FFFF, so the order
   * among equal expiries is settled here: the run of rows sharing the page's last expiry is read
   * whole, as is the run at the cursor's own expiry (filtered by `afterKey`), then all is sorted by
   * (expiresAt, key) and cut to `limit`. A page therefore reads `limit` rows plus those two runs.
   */
  async scanEntries(appId: string, namespace: string, page: ScanPage): Promise<StoredEntry[]> {
    return this.#run(() => this.#entries.scan(appId, namespace, page));
  }

  /** One SELECT by primary key; an expired row that is still stored counts as absent. */
  async getEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    return this.#run(() => this.#entries.get(appId, namespace, key, now));
  }

  /**
   * One SELECT. Sorted here rather than in SQL: SQLite orders text by UTF-8 bytes and JavaScript by
   * UTF-16 code units, which disagree above U+FFFF, and MemoryStore's order is the contract's.
   */
  async listEntries(appId: string, namespace: string, now: number): Promise<StoredEntry[]> {
    return this.#run(() => this.#entries.list(appId, namespace, now));
  }

  /** One `DELETE … RETURNING` statement; an expired row is deleted too but does not count. */
  async deleteEntry(appId: string, namespace: string, key: string, now: number): Promise<boolean> {
    return this.#run(() => this.#entries.delete(appId, namespace, key, now));
  }

  // ---- stats (stats.ts) -----------------------------------------------------------------------

  async incrementCounters(appId: string, deltas: Partial<Record<StatsCounter, number>>): Promise<void> {
    const entries = Object.entries(deltas).filter((e): e is [string, number] => e[1] !== undefined);
    this.#run(() => {
      if (entries.length > 0) this.#stats.increment(appId, entries);
    });
  }

  async readStats(appId: string, now: number): Promise<StoreStats> {
    return this.#run(() => this.#stats.read(appId, now));
  }

  // ---- connection -----------------------------------------------------------------------------

  async ping(): Promise<void> {
    this.#run(() => this.#ping.get());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
