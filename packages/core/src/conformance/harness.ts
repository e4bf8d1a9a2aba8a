import type { AuditEntry } from '../audit/entry.js';
import type { Store } from '../store/contract.js';

/**
 * What a store package hands the conformance suite. Each `open()` returns a store over fresh,
 * empty data (its own temp file, its own key prefix) so tests never see each other.
 */
export interface StoreHarness<S extends Store = Store> {
  name: string;
  open(): Promise<S>;
  /** A second, independent instance over the same data as `store` (reopened file, new connection). */
  reopen(store: S): Promise<S>;
  /** A store whose backend cannot answer (closed file, no server, a server that never replies). */
  openUnavailable(): Promise<Store>;
  /** Change one stored audit entry behind the store's back, to prove the chain notices. */
  tamperAudit(store: S, appId: string, seq: number, change: (entry: AuditEntry) => void): Promise<void>;
  /** Remove one stored audit entry behind the store's back. */
  deleteAudit(store: S, appId: string, seq: number): Promise<void>;
  /** Called once after the suite. */
  teardown?(): Promise<void>;
}
