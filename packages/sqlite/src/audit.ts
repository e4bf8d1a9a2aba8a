import { type AuditDraft, type AuditEntry, type AuditQuery, EMPTY_AUDIT_HEAD, linkAuditEntries } from '@latchkey/core';
import type Database from 'better-sqlite3';
import { AUDIT_COLUMNS, type AuditRow, auditToRow, rowToAudit } from './rows.js';
import { type Statement, sqlLimit } from './sql.js';

/** The audit chain on one connection: appends link onto the stored head; queries are prepared per filter combination. */
export class AuditLog {
  readonly #db: Database.Database;
  readonly #queries = new Map<string, Statement<unknown[], AuditRow>>();
  readonly #append: Database.Transaction<(appId: string, drafts: AuditDraft[]) => AuditEntry[]>;

  constructor(db: Database.Database) {
    const sql = prepareStatements(db);
    this.#db = db;
    this.#append = db.transaction((appId: string, drafts: AuditDraft[]): AuditEntry[] => {
      const head = sql.auditHead.get(appId) ?? EMPTY_AUDIT_HEAD;
      const linked = linkAuditEntries(appId, head, drafts);
      for (const entry of linked) sql.insertAudit.run(auditToRow(entry));
      const last = linked[linked.length - 1];
      if (last) sql.setAuditHead.run(appId, last.seq, last.hash);
      return linked;
    });
  }

  /** One `.immediate` transaction: read the head, link, write the entries and the new head. */
  append(appId: string, drafts: AuditDraft[]): AuditEntry[] {
    return this.#append.immediate(appId, drafts);
  }

  query(appId: string, query: AuditQuery): AuditEntry[] {
    // Rounded as MemoryStore's `out.length >= limit` loop rounds it.
    const limit = Math.ceil(query.limit);
    if (!(limit > 0)) return [];
    const { sql, params } = auditQuerySql(appId, query, sqlLimit(limit));
    let stmt = this.#queries.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare<unknown[], AuditRow>(sql);
      this.#queries.set(sql, stmt);
    }
    return stmt.all(...params).map(rowToAudit);
  }
}

function prepareStatements(db: Database.Database) {
  return {
    auditHead: db.prepare<[string], { seq: number; hash: string }>('SELECT seq, hash FROM audit_heads WHERE app_id = ?'),
    setAuditHead: db.prepare<[string, number, string]>(
      'INSERT INTO audit_heads (app_id, seq, hash) VALUES (?, ?, ?) ON CONFLICT (app_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
    ),
    insertAudit: db.prepare<[AuditRow]>(
      `INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (@app_id, @seq, @at, @type, @session_id, @subject, @details, @prev_hash, @hash)`,
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
