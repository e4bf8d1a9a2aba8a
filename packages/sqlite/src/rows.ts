import type { AuditEntry, SessionRecord } from '@latchkey/core';

/** A `sessions` row as better-sqlite3 returns it (the generated `expires_at` is never selected). */
export interface SessionRow {
  app_id: string;
  id: string;
  subject: string;
  chain_type: string;
  user_id: string | null;
  auth_method: string;
  scope: string;
  roles: string;
  device: string;
  created_at: number;
  last_active_at: number;
  idle_expires_at: number;
  absolute_expires_at: number;
  token_hash: string;
  refresh: string;
  data: string | null;
}

/** The stored columns in one place, so every SELECT and RETURNING reads the same shape. */
export const SESSION_COLUMNS =
  'app_id, id, subject, chain_type, user_id, auth_method, scope, roles, device, created_at, last_active_at, ' +
  'idle_expires_at, absolute_expires_at, token_hash, refresh, data';

/** Named parameters for INSERT and UPDATE: `@app_id`, `@id`, … */
export function sessionToRow(r: SessionRecord): SessionRow {
  return {
    app_id: r.appId,
    id: r.id,
    subject: r.subject,
    chain_type: r.chainType,
    user_id: r.userId,
    auth_method: r.authMethod,
    scope: r.scope,
    roles: JSON.stringify(r.roles),
    device: JSON.stringify(r.device),
    created_at: r.createdAt,
    last_active_at: r.lastActiveAt,
    idle_expires_at: r.idleExpiresAt,
    absolute_expires_at: r.absoluteExpiresAt,
    token_hash: r.tokenHash,
    refresh: JSON.stringify(r.refresh),
    data: r.data,
  };
}

/** A fresh object every call: parsing the JSON columns is what makes returned records copies. */
export function rowToSession(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    appId: row.app_id,
    subject: row.subject,
    chainType: row.chain_type as SessionRecord['chainType'],
    userId: row.user_id,
    authMethod: row.auth_method,
    scope: row.scope as SessionRecord['scope'],
    roles: JSON.parse(row.roles) as SessionRecord['roles'],
    device: JSON.parse(row.device) as SessionRecord['device'],
    createdAt: row.created_at,
    lastActiveAt: row.last_active_at,
    idleExpiresAt: row.idle_expires_at,
    absoluteExpiresAt: row.absolute_expires_at,
    tokenHash: row.token_hash,
    refresh: JSON.parse(row.refresh) as SessionRecord['refresh'],
    data: row.data,
  };
}

export interface AuditRow {
  app_id: string;
  seq: number;
  at: number;
  type: string;
  session_id: string | null;
  subject: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

export const AUDIT_COLUMNS = 'app_id, seq, at, type, session_id, subject, details, prev_hash, hash';

export function auditToRow(e: AuditEntry): AuditRow {
  return {
    app_id: e.appId,
    seq: e.seq,
    at: e.at,
    type: e.type,
    session_id: e.sessionId,
    subject: e.subject,
    details: JSON.stringify(e.details),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

export function rowToAudit(row: AuditRow): AuditEntry {
  return {
    appId: row.app_id,
    seq: row.seq,
    at: row.at,
    type: row.type as AuditEntry['type'],
    sessionId: row.session_id,
    subject: row.subject,
    details: JSON.parse(row.details) as AuditEntry['details'],
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
