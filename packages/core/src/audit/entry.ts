/** Lifecycle events written to the audit log. Stable strings: never renamed, never reused. */
export type AuditEventType =
  | 'session_created'
  | 'validation_failed'
  | 'session_refreshed'
  | 'refresh_token_reused'
  | 'session_revoked'
  | 'wallet_sessions_revoked'
  | 'session_evicted'
  | 'session_expired'
  | 'signin_failed'
  | 'session_key_created'
  | 'session_key_revoked'
  | 'stamp_rejected';

/** An audit event before the store links it onto the app's chain. Never holds a secret. */
export interface AuditDraft {
  at: number;
  type: AuditEventType;
  sessionId: string | null;
  subject: string | null;
  details: Record<string, string | number | boolean | null>;
}

/** A linked entry: `hash` covers every other field, including `prevHash`. */
export interface AuditEntry extends AuditDraft {
  appId: string;
  /** 1-based position in the app's chain; contiguous. */
  seq: number;
  prevHash: string;
  hash: string;
}

/** The `prevHash` of an app's first entry. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);
