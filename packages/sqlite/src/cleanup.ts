import type { SessionRecord } from '@latchkey/core';
import type Database from 'better-sqlite3';
import { rowToSession, SESSION_COLUMNS, type SessionRow } from './rows.js';
import { sqlLimit } from './sql.js';

/** Expired entries deleted per statement by `cleanupExpired`, so no sweep holds the write lock for long. */
const ENTRY_SWEEP_BATCH = 1000;

type Statements = ReturnType<typeof prepareStatements>;

/** `cleanupExpired` on one connection: expired entries, then expired sessions. */
export class Cleanup {
  readonly #sql: Statements;
  readonly #sessions: Database.Transaction<(now: number, limit: number) => SessionRecord[]>;

  constructor(db: Database.Database) {
    const sql = prepareStatements(db);
    this.#sql = sql;
    this.#sessions = db.transaction((now: number, limit: number): SessionRecord[] => {
      const rows = sql.oldestExpired.all(now, limit);
      for (const row of rows) sql.deleteSession.run(row.app_id, row.id);
      return rows.map(rowToSession);
    });
  }

  /** Deletes every entry expired at `now`, then returns and deletes at most `limit` expired sessions (`.immediate`). */
  sweep(now: number, limit: number): SessionRecord[] {
    let swept: number;
    do swept = this.#sql.sweepEntries.run(now, ENTRY_SWEEP_BATCH).changes;
    while (swept === ENTRY_SWEEP_BATCH);
    // Rounded as MemoryStore's `slice(0, limit)` rounds it.
    return limit >= 1 ? this.#sessions.immediate(now, sqlLimit(Math.floor(limit))) : [];
  }
}

function prepareStatements(db: Database.Database) {
  return {
    deleteSession: db.prepare<[string, string]>('DELETE FROM sessions WHERE app_id = ? AND id = ?'),
    oldestExpired: db.prepare<[number, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE expires_at <= ? ORDER BY expires_at, app_id, id LIMIT ?`,
    ),
    sweepEntries: db.prepare<[number, number]>(
      'DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries WHERE expires_at <= ? LIMIT ?)',
    ),
  };
}
