import {
  type CreateSessionResult,
  decideRotation,
  isLive,
  type RotateRefreshInput,
  type RotateRefreshResult,
  type SessionRecord,
  type StoreCreateSessionInput,
  type ValidateSessionInput,
} from '@latchkey/core';
import type Database from 'better-sqlite3';
import { rowToSession, SESSION_COLUMNS, type SessionRow, sessionToRow } from './rows.js';
import { LIVE } from './sql.js';

const byAge = (a: SessionRecord, b: SessionRecord): number => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The session and wallet methods of one connection, with their statements prepared once. Each
 * method is one statement or one transaction; the caller runs it (see `SqliteStore`).
 */
export class Sessions {
  readonly #sql: Statements;
  readonly #create: Database.Transaction<(input: StoreCreateSessionInput) => CreateSessionResult>;
  readonly #rotate: Database.Transaction<(input: RotateRefreshInput) => RotateRefreshResult>;

  constructor(db: Database.Database) {
    const sql = prepareStatements(db);
    this.#sql = sql;
    this.#create = db.transaction((input: StoreCreateSessionInput): CreateSessionResult => {
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
    this.#rotate = db.transaction((input: RotateRefreshInput): RotateRefreshResult => {
      const row = sql.getSession.get(input.appId, input.id);
      const { result, next } = decideRotation(row ? rowToSession(row) : null, input);
      if (next) sql.updateSession.run(sessionToRow(next));
      if (result.outcome === 'reused') sql.deleteSession.run(input.appId, input.id);
      return result;
    });
  }

  /** Counts, evicts or refuses, and inserts in one `.immediate` transaction. */
  create(input: StoreCreateSessionInput): CreateSessionResult {
    return this.#create.immediate(input);
  }

  get(appId: string, id: string): SessionRecord | null {
    const row = this.#sql.getSession.get(appId, id);
    return row ? rowToSession(row) : null;
  }

  validate(input: ValidateSessionInput): SessionRecord | null {
    const { appId, id, tokenHash, now, activeBefore, idleExpiresAt } = input;
    const row = this.#sql.getSession.get(appId, id);
    if (!row) return null;
    const record = rowToSession(row);
    if (!isLive(record, now) || record.tokenHash !== tokenHash || record.lastActiveAt > activeBefore) return record;
    const written = this.#sql.touchSession.get(now, idleExpiresAt, appId, id, tokenHash, activeBefore, now);
    if (written) return rowToSession(written);
    const current = this.#sql.getSession.get(appId, id);
    return current ? rowToSession(current) : null;
  }

  /** Reads, decides (core's `decideRotation`) and writes in one `.immediate` transaction. */
  rotateRefresh(input: RotateRefreshInput): RotateRefreshResult {
    return this.#rotate.immediate(input);
  }

  setData(appId: string, id: string, data: string | null, now: number): boolean {
    return this.#sql.setData.run(data, appId, id, now).changes > 0;
  }

  delete(appId: string, id: string): SessionRecord | null {
    const row = this.#sql.deleteSessionReturning.get(appId, id);
    return row ? rowToSession(row) : null;
  }

  listWallet(appId: string, subject: string, now: number): SessionRecord[] {
    return this.#sql.liveWallet.all(appId, subject, now).map(rowToSession);
  }

  deleteWallet(appId: string, subject: string, options: { exceptId?: string; now: number }): SessionRecord[] {
    return this.#sql.deleteWallet
      .all(appId, subject, options.exceptId ?? null)
      .map(rowToSession)
      .filter((r) => isLive(r, options.now))
      .sort(byAge);
  }
}

function prepareStatements(db: Database.Database) {
  return {
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
  };
}
