export {
  type AuditHead,
  type AuditVerifyResult,
  EMPTY_AUDIT_HEAD,
  hashAuditEntry,
  linkAuditEntries,
  verifyAuditChain,
} from './chain.js';
export { AUDIT_GENESIS_HASH, type AuditDraft, type AuditEntry, type AuditEventType } from './entry.js';
