import {
  type AuditDraft,
  type AuditEntry,
  type AuditQuery,
  type CreateSessionResult,
  decideRotation,
  EMPTY_AUDIT_HEAD,
  ENTRY_NAMESPACE_PATTERN,
  isLive,
  LatchkeyError,
  linkAuditEntries,
  MAX_ENTRY_KEY_LENGTH,
  type RotateRefreshInput,
  type RotateRefreshResult,
  type SessionRecord,
  STATS_COUNTERS,
  type StatsCounter,
  type Store,
  type StoreCreateSessionInput,
  type StoredEntry,
  type StoreStats,
  type ValidateSessionInput,
  zeroCounters,
} from '@latchkey/core';
import Database from 'better-sqlite3';
import {
  AUDIT_COLUMNS,
  type AuditRow,
  auditToRow,
  rowToAudit,
  rowToSession,
  SESSION_COLUMNS,
  type SessionRow,
  sessionToRow,
} from './rows.js';
import { migrate } from './schema.js';

export interface SqliteStoreOptions {
  /**
   * Path of the database file. Created, with its schema, when absent; its directory must exist.
   * Several processes may open the same file: WAL lets readers run beside one writer, and writers
   * wait for each other (see `busyTimeoutMs`).
   */
  path: string;
  /** How long a statement waits for another connection's write lock before it fails, in milliseconds. Default 5000. */
  busyTimeoutMs?: number;
}

interface ResolvedOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
}

function resolveOptions(options: SqliteStoreOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new LatchkeyError('CONFIG_INVALID', { message: 'SqliteStore options must be an object.' });
  }
  const { path, busyTimeoutMs = 5000 } = options;
  if (typeof path !== 'string' || path.length === 0) {
    throw new LatchkeyError('CONFIG_INVALID', { field: 'path', message: 'path must be a non-empty string.' });
  }
  if (path === ':memory:' || path.startsWith('file:')) {
    // A private in-memory database cannot be shared with a second connection or survive a
    // restart, which is what this store promises; MemoryStore is the in-memory store.
    throw new LatchkeyError('CONFIG_INVALID', { field: 'path', message: 'path must name a file; use MemoryStore for memory.' });
  }
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new LatchkeyError('CONFIG_INVALID', {
      field: 'busyTimeoutMs',
      message: 'busyTimeoutMs must be a non-negative integer.',
    });
  }
  return Object.freeze({ path, busyTimeoutMs });
}

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

const LIVE = 'expires_at > ?';

/** Expired entries deleted per statement by `cleanupExpired`, so no sweep holds the write lock for long. */
const ENTRY_SWEEP_BATCH = 1000;

/** The contract's bound on one `scanEntries` page. */
const MAX_SCAN_PAGE = 1000;

/** A lone surrogate would reach SQLite as U+FFFD, so two different keys could share one row. */
const LONE_SURROGATE = /\p{Cs}/u;

/*
 * Bad namespaces and keys are caller bugs, thrown as plain Errors so that `#run` reports them as
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

type ScanPage = Parameters<Store['scanEntries']>[2];

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
  readonly #sql: Statements;
  readonly #auditQueries = new Map<string, Statement<unknown[], AuditRow>>();
  readonly #tx: Transactions;
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
      this.#sql = prepareStatements(db);
      this.#tx = createTransactions(db, this.#sql);
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

  async createSession(input: StoreCreateSessionInput): Promise<CreateSessionResult> {
    return this.#run(() => this.#tx.createSession.immediate(input));
  }

  async getSession(appId: string, id: string): Promise<SessionRecord | null> {
    return this.#run(() => {
      const row = this.#sql.getSession.get(appId, id);
      return row ? rowToSession(row) : null;
    });
  }

  /**
   * The common case (a throttled validation) is one read and takes no lock. The activity write is a
   * compare-and-set UPDATE that repeats every condition (live, hash, throttle), so it lands only on
   * the state it was decided on and never revives an expired row; if another connection changed the
   * row in between, the row is read once more and returned as it now stands, which is what a
   * validation arriving just after that change would see.
   */
  async validateSession(input: ValidateSessionInput): Promise<SessionRecord | null> {
    return this.#run(() => {
      const { appId, id, tokenHash, now, activeBefore, idleExpiresAt } = input;
      const row = this.#sql.getSession.get(appId, id);
      if (!row) return null;
      const record = rowToSession(row);
      if (!isLive(record, now) || record.tokenHash !== tokenHash || record.lastActiveAt > activeBefore) return record;
      const written = this.#sql.touchSession.get(now, idleExpiresAt, appId, id, tokenHash, activeBefore, now);
      if (written) return rowToSession(written);
      const current = this.#sql.getSession.get(appId, id);
      return current ? rowToSession(current) : null;
    });
  }

  async rotateRefresh(input: RotateRefreshInput): Promise<RotateRefreshResult> {
    return this.#run(() => this.#tx.rotateRefresh.immediate(input));
  }

  async setSessionData(appId: string, id: string, data: string | null, now: number): Promise<boolean> {
    return this.#run(() => this.#sql.setData.run(data, appId, id, now).changes > 0);
  }

  async deleteSession(appId: string, id: string): Promise<SessionRecord | null> {
    return this.#run(() => {
      const row = this.#sql.deleteSessionReturning.get(appId, id);
      return row ? rowToSession(row) : null;
    });
  }

  async listWalletSessions(appId: string, subject: string, now: number): Promise<SessionRecord[]> {
    return this.#run(() => this.#sql.liveWallet.all(appId, subject, now).map(rowToSession));
  }

  /** One DELETE statement, so atomic on its own; RETURNING has no order, hence the sort. */
  async deleteWalletSessions(
    appId: string,
    subject: string,
    options: { exceptId?: string; now: number },
  ): Promise<SessionRecord[]> {
    return this.#run(() =>
      this.#sql.deleteWallet
        .all(appId, subject, options.exceptId ?? null)
        .map(rowToSession)
        .filter((r) => isLive(r, options.now))
        .sort(byAge),
    );
  }

  /**
   * Expired entries go first, in batches of single DELETE statements, and whatever the limit (as
   * MemoryStore drops them all). Doing them first means a failing sweep throws before any session is
   * deleted, so no session is removed without being returned for the engine to audit.
   */
  async cleanupExpired(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#run(() => {
      let swept: number;
      do swept = this.#sql.sweepEntries.run(now, ENTRY_SWEEP_BATCH).changes;
      while (swept === ENTRY_SWEEP_BATCH);
      // Rounded as MemoryStore's `slice(0, limit)` rounds it.
      return limit >= 1 ? this.#tx.cleanupExpired.immediate(now, sqlLimit(Math.floor(limit))) : [];
    });
  }

  async appendAudit(appId: string, drafts: AuditDraft[]): Promise<AuditEntry[]> {
    return this.#run(() => this.#tx.appendAudit.immediate(appId, drafts));
  }

  async queryAudit(appId: string, query: AuditQuery): Promise<AuditEntry[]> {
    return this.#run(() => {
      // Rounded as MemoryStore's `out.length >= limit` loop rounds it.
      const limit = Math.ceil(query.limit);
      if (!(limit > 0)) return [];
      const { sql, params } = auditQuerySql(appId, query, sqlLimit(limit));
      let stmt = this.#auditQueries.get(sql);
      if (!stmt) {
        stmt = this.#db.prepare<unknown[], AuditRow>(sql);
        this.#auditQueries.set(sql, stmt);
      }
      return stmt.all(...params).map(rowToAudit);
    });
  }

  /** One upsert statement. */
  async putEntry(appId: string, namespace: string, entry: StoredEntry, _now: number): Promise<void> {
    this.#run(() => {
      assertEntryAddress(namespace, entry.key);
      this.#sql.putEntry.run(appId, namespace, entry.key, entry.value, entry.expiresAt);
    });
  }

  /**
   * One upsert statement whose update applies only over an expired row, so it is atomic across
   * connections: of concurrent adds of one key exactly one changes a row, and an expired row never
   * blocks the add.
   */
  async addEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<boolean> {
    return this.#run(() => {
      assertEntryAddress(namespace, entry.key);
      return this.#sql.addEntry.run(appId, namespace, entry.key, entry.value, entry.expiresAt, now).changes > 0;
    });
  }

  /**
   * One `DELETE … RETURNING` statement, so of concurrent takes exactly one gets the row. An expired
   * row is deleted too (as MemoryStore does) but its value is not returned.
   */
  async takeEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    return this.#run(() => {
      assertEntryAddress(namespace, key);
      const row = this.#sql.deleteEntry.get(appId, namespace, key);
      return row && now < row.expires_at ? row.value : null;
    });
  }

  /**
   * One upsert statement with `RETURNING`, so atomic across connections: of N concurrent increments
   * of a fresh key the answers are 1..N. Over an expired row it starts again at "1" with the new
   * expiry; over a live one it adds one and keeps the expiry.
   */
  async incrementEntry(appId: string, namespace: string, key: string, expiresAt: number, now: number): Promise<number> {
    return this.#run(() => {
      assertEntryAddress(namespace, key);
      return this.#sql.incrementEntry.get({ app_id: appId, namespace, key, expires_at: expiresAt, now })!.count;
    });
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
    return this.#run(() => {
      assertEntryNamespace(namespace);
      assertScanPage(page);
      return this.#tx.scanEntries.deferred(appId, namespace, page);
    });
  }

  /**
   * One SELECT. Sorted here rather than in SQL: SQLite orders text by UTF-8 bytes and JavaScript by
   * UTF-16 code units, which disagree above U+FFFF, and MemoryStore's order is the contract's.
   */
  async listEntries(appId: string, namespace: string, now: number): Promise<StoredEntry[]> {
    return this.#run(() => {
      assertEntryNamespace(namespace);
      return this.#sql.liveEntries
        .all(appId, namespace, now)
        .map(toEntry)
        .sort((a, b) => byKey(a.key, b.key));
    });
  }

  /** One `DELETE … RETURNING` statement; an expired row is deleted too but does not count. */
  async deleteEntry(appId: string, namespace: string, key: string, now: number): Promise<boolean> {
    return this.#run(() => {
      assertEntryAddress(namespace, key);
      const row = this.#sql.deleteEntry.get(appId, namespace, key);
      return row !== undefined && now < row.expires_at;
    });
  }

  async incrementCounters(appId: string, deltas: Partial<Record<StatsCounter, number>>): Promise<void> {
    const entries = Object.entries(deltas).filter((e): e is [string, number] => e[1] !== undefined);
    this.#run(() => {
      if (entries.length > 0) this.#tx.incrementCounters.immediate(appId, entries);
    });
  }

  async readStats(appId: string, now: number): Promise<StoreStats> {
    return this.#run(() => this.#tx.readStats.deferred(appId, now));
  }

  async ping(): Promise<void> {
    this.#run(() => this.#sql.ping.get());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

/** SQLite's LIMIT takes an integer, and -1 for none; callers may pass Infinity for "all". */
const sqlLimit = (n: number): number => (Number.isFinite(n) ? n : -1);

const byAge = (a: SessionRecord, b: SessionRecord): number => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

type Statements = ReturnType<typeof prepareStatements>;
type Transactions = ReturnType<typeof createTransactions>;

/** Built once per connection; callers pick `.immediate` for writes so the write lock is held from the first read. */
function createTransactions(db: Database.Database, sql: Statements) {
  const createSession = db.transaction((input: StoreCreateSessionInput): CreateSessionResult => {
    const { record, limit, policy, now } = input;
    const live = sql.countLiveWallet.get(record.appId, record.subject, now)!;
    const evicted: SessionRecord[] = [];
    if (live >= limit) {
      if (policy === 'reject') return { created: false, reason: 'limit' };
      for (const row of sql.oldestLiveWallet.all(record.appId, record.subject, now, live - limit + 1)) {
        sql.deleteSession.run(row.app_id, row.id);
        evicted.push(rowToSession(row));
      }
    }
    sql.insertSession.run(sessionToRow(record));
    return { created: true, evicted };
  });

  const rotateRefresh = db.transaction((input: RotateRefreshInput): RotateRefreshResult => {
    const row = sql.getSession.get(input.appId, input.id);
    const { result, next } = decideRotation(row ? rowToSession(row) : null, input);
    if (next) sql.updateSession.run(sessionToRow(next));
    if (result.outcome === 'reused') sql.deleteSession.run(input.appId, input.id);
    return result;
  });

  const cleanupExpired = db.transaction((now: number, limit: number): SessionRecord[] => {
    const rows = sql.oldestExpired.all(now, limit);
    for (const row of rows) sql.deleteSession.run(row.app_id, row.id);
    return rows.map(rowToSession);
  });

  const appendAudit = db.transaction((appId: string, drafts: AuditDraft[]): AuditEntry[] => {
    const head = sql.auditHead.get(appId) ?? EMPTY_AUDIT_HEAD;
    const linked = linkAuditEntries(appId, head, drafts);
    for (const entry of linked) sql.insertAudit.run(auditToRow(entry));
    const last = linked[linked.length - 1];
    if (last) sql.setAuditHead.run(appId, last.seq, last.hash);
    return linked;
  });

  const incrementCounters = db.transaction((appId: string, deltas: [string, number][]): void => {
    for (const [name, delta] of deltas) sql.addCounter.run(appId, name, delta);
  });

  // Deferred: a read snapshot, so the live counts and the counters come from one moment.
  const readStats = db.transaction((appId: string, now: number): StoreStats => {
    const counters = zeroCounters();
    for (const { name, value } of sql.readCounters.all(appId)) {
      if ((STATS_COUNTERS as readonly string[]).includes(name)) counters[name as StatsCounter] = value;
    }
    const stats: StoreStats = { active: 0, byChain: {}, byAuthMethod: {}, counters };
    for (const { chain_type, auth_method, n } of sql.liveGroups.all(appId, now)) {
      stats.active += n;
      stats.byChain[chain_type] = (stats.byChain[chain_type] ?? 0) + n;
      stats.byAuthMethod[auth_method] = (stats.byAuthMethod[auth_method] ?? 0) + n;
    }
    return stats;
  });

  const scanEntries = db.transaction((appId: string, namespace: string, page: ScanPage): StoredEntry[] => {
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

  return { createSession, rotateRefresh, cleanupExpired, appendAudit, incrementCounters, readStats, scanEntries };
}

function prepareStatements(db: Database.Database) {
  return {
    // Reads the file (not just the connection), so a file that has become unreadable fails the ping.
    ping: db.prepare<[], unknown>('SELECT 1 FROM sqlite_schema LIMIT 1'),
    getSession: db.prepare<[string, string], SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE app_id = ? AND id = ?`),
    insertSession: db.prepare<[SessionRow]>(
      `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (@app_id, @id, @subject, @chain_type, @user_id, @auth_method, @scope, ` +
        '@roles, @device, @created_at, @last_active_at, @idle_expires_at, @absolute_expires_at, @token_hash, @refresh, @data)',
    ),
    // Every column, so the store keeps whatever decideRotation decides without knowing which fields it touches.
    updateSession: db.prepare<[SessionRow]>(
      'UPDATE sessions SET subject = @subject, chain_type = @chain_type, user_id = @user_id, auth_method = @auth_method, ' +
        'scope = @scope, roles = @roles, device = @device, created_at = @created_at, last_active_at = @last_active_at, ' +
        'idle_expires_at = @idle_expires_at, absolute_expires_at = @absolute_expires_at, token_hash = @token_hash, ' +
        'refresh = @refresh, data = @data WHERE app_id = @app_id AND id = @id',
    ),
    touchSession: db.prepare<[number, number, string, string, string, number, number], SessionRow>(
      'UPDATE sessions SET last_active_at = ?, idle_expires_at = ? ' +
        `WHERE app_id = ? AND id = ? AND token_hash = ? AND last_active_at <= ? AND ${LIVE} RETURNING ${SESSION_COLUMNS}`,
    ),
    setData: db.prepare<[string | null, string, string, number]>(
      `UPDATE sessions SET data = ? WHERE app_id = ? AND id = ? AND ${LIVE}`,
    ),
    deleteSession: db.prepare<[string, string]>('DELETE FROM sessions WHERE app_id = ? AND id = ?'),
    deleteSessionReturning: db.prepare<[string, string], SessionRow>(
      `DELETE FROM sessions WHERE app_id = ? AND id = ? RETURNING ${SESSION_COLUMNS}`,
    ),
    countLiveWallet: db
      .prepare<[string, string, number], number>(`SELECT count(*) FROM sessions WHERE app_id = ? AND subject = ? AND ${LIVE}`)
      .pluck(),
    liveWallet: db.prepare<[string, string, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE app_id = ? AND subject = ? AND ${LIVE} ORDER BY created_at, id`,
    ),
    oldestLiveWallet: db.prepare<[string, string, number, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE app_id = ? AND subject = ? AND ${LIVE} ORDER BY created_at, id LIMIT ?`,
    ),
    deleteWallet: db.prepare<[string, string, string | null], SessionRow>(
      `DELETE FROM sessions WHERE app_id = ? AND subject = ? AND id IS NOT ? RETURNING ${SESSION_COLUMNS}`,
    ),
    oldestExpired: db.prepare<[number, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE expires_at <= ? ORDER BY expires_at, app_id, id LIMIT ?`,
    ),
    liveGroups: db.prepare<[string, number], { chain_type: string; auth_method: string; n: number }>(
      `SELECT chain_type, auth_method, count(*) AS n FROM sessions WHERE app_id = ? AND ${LIVE} GROUP BY chain_type, auth_method`,
    ),
    auditHead: db.prepare<[string], { seq: number; hash: string }>('SELECT seq, hash FROM audit_heads WHERE app_id = ?'),
    setAuditHead: db.prepare<[string, number, string]>(
      'INSERT INTO audit_heads (app_id, seq, hash) VALUES (?, ?, ?) ON CONFLICT (app_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
    ),
    insertAudit: db.prepare<[AuditRow]>(
      `INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (@app_id, @seq, @at, @type, @session_id, @subject, @details, @prev_hash, @hash)`,
    ),
    addCounter: db.prepare<[string, string, number]>(
      'INSERT INTO counters (app_id, name, value) VALUES (?, ?, ?) ON CONFLICT (app_id, name) DO UPDATE SET value = value + excluded.value',
    ),
    readCounters: db.prepare<[string], { name: string; value: number }>('SELECT name, value FROM counters WHERE app_id = ?'),
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
    sweepEntries: db.prepare<[number, number]>(
      'DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries WHERE expires_at <= ? LIMIT ?)',
    ),
  };
}

/**
 * The SQL for one combination of filters. Only present filters appear, so each combination is a
 * fixed string that can be prepared once and cached, and the planner sees plain comparisons.
 */
function auditQuerySql(appId: string, query: AuditQuery, limit: number): { sql: string; params: unknown[] } {
  const where = ['app_id = ?'];
  const params: unknown[] = [appId];
  if (query.subject !== undefined) {
    where.push('subject = ?');
    params.push(query.subject);
  }
  if (query.since !== undefined) {
    where.push('at >= ?');
    params.push(query.since);
  }
  if (query.until !== undefined) {
    where.push('at < ?');
    params.push(query.until);
  }
  if (query.afterSeq !== undefined) {
    where.push('seq > ?');
    params.push(query.afterSeq);
  }
  params.push(limit);
  return { sql: `SELECT ${AUDIT_COLUMNS} FROM audit WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`, params };
}
