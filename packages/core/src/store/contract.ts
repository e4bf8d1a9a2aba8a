import type { AuditDraft, AuditEntry } from '../audit/entry.js';
import type { SessionRecord, SessionSnapshot } from '../session/record.js';

/** What `createSession` does when a wallet already holds its limit of live sessions. */
export type LimitPolicy = 'evict-oldest' | 'reject';

export interface CreateSessionInput {
  record: SessionRecord;
  /** Most live sessions the wallet (record.appId, record.subject) may hold, the new one included. */
  limit: number;
  policy: LimitPolicy;
  now: number;
}

export type CreateSessionResult = { created: true; evicted: SessionRecord[] } | { created: false; reason: 'limit' };

export interface ValidateSessionInput {
  appId: string;
  id: string;
  /** Hash of the presented secret; the activity write happens only when it matches. */
  tokenHash: string;
  now: number;
  /** Write activity only when `lastActiveAt <= activeBefore` (the throttle). */
  activeBefore: number;
  /** The idle expiry to write with the activity, as given (liveness takes the earlier of both expiries). */
  idleExpiresAt: number;
}

export interface RotateRefreshInput {
  appId: string;
  id: string;
  /** Hash of the presented refresh secret. */
  presentedHash: string;
  now: number;
  graceMs: number;
  /** Bound on `refresh.retired`; older hashes are forgotten (and then count as unknown). */
  retiredLimit: number;
  next: {
    tokenHash: string;
    refreshHash: string;
    /** The successor's secrets sealed to the presented refresh secret (see RefreshState). */
    successor: string;
    idleExpiresAt: number;
  };
}

/**
 * - `rotated`: the presented hash was current; the record now holds `next` (returned as stored).
 * - `grace`: the presented hash is the immediate predecessor and `now < rotatedAt + graceMs`;
 *   nothing changed; the caller unseals `record.refresh.successor`.
 * - `reused`: the presented hash is the predecessor after its grace window, or a retired hash;
 *   the session was deleted in the same atomic step (the record returned is as it was).
 * - `invalid`: no live session with that id, or a hash the session never had.
 */
export type RotateRefreshResult =
  | { outcome: 'rotated'; record: SessionRecord }
  | { outcome: 'grace'; record: SessionRecord }
  | { outcome: 'reused'; record: SessionRecord }
  | { outcome: 'invalid' };

export interface AuditQuery {
  subject?: string;
  /** Inclusive lower bound on `at`. */
  since?: number;
  /** Exclusive upper bound on `at`. */
  until?: number;
  /** Only entries with `seq > afterSeq` (paging). */
  afterSeq?: number;
  limit: number;
}

export type StatsCounter = 'created' | 'refreshed' | 'revoked' | 'reuseDetected' | 'validationFailed' | 'evicted' | 'expired';

export const STATS_COUNTERS: readonly StatsCounter[] = [
  'created',
  'refreshed',
  'revoked',
  'reuseDetected',
  'validationFailed',
  'evicted',
  'expired',
];

/** A short-lived value in an app's namespace: single-use nonces, replay caches, signing keys. */
export interface StoredEntry {
  key: string;
  value: string;
  /** Milliseconds since the epoch; the entry is live while `now < expiresAt`. */
  expiresAt: number;
}

/** Namespaces are short lowercase words; keys are at most 256 characters. */
export const ENTRY_NAMESPACE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
export const MAX_ENTRY_KEY_LENGTH = 256;

export function zeroCounters(): Record<StatsCounter, number> {
  return Object.fromEntries(STATS_COUNTERS.map((k) => [k, 0])) as Record<StatsCounter, number>;
}

export interface StoreStats {
  active: number;
  byChain: Record<string, number>;
  byAuthMethod: Record<string, number>;
  counters: Record<StatsCounter, number>;
}

/**
 * Where Latchkey keeps sessions, audit entries and counters. Every store passes the conformance
 * suite in `@latchkey/core/conformance`.
 *
 * Rules every implementation keeps:
 * - Time is the `now` the engine passes, never the store's own clock: tests run on a frozen clock
 *   far from the wall clock. A store that expires data by itself (Redis TTL) must set relative TTLs
 *   (`expiresAt - now`, plus slack) so it never deletes what the engine still considers live.
 * - A session is live at `now` when `now < idleExpiresAt && now < absoluteExpiresAt`. An expired
 *   session may linger until cleanup, but listings, limits and rotation never count it as live.
 * - Records are returned as copies; mutating one changes nothing stored.
 * - Every method either completes or throws; a thrown error means "could not answer" and the
 *   engine fails closed. Nothing is half-written.
 * - Nothing crosses apps: every key is scoped by `appId`.
 */
export interface Store {
  /**
   * Atomically: refuse a duplicate id (throw); count the wallet's live sessions; at the limit either refuse (`reject`) or delete
   * the oldest (by createdAt, then id) until one slot is free (`evict-oldest`); insert the record.
   * Concurrent creates never leave more than `limit` live sessions.
   */
  createSession(input: CreateSessionInput): Promise<CreateSessionResult>;

  /** The session as stored, live or not (null when absent). One round trip. */
  getSession(appId: string, id: string): Promise<SessionRecord | null>;

  /**
   * One round trip in the common case (a second at most once per throttle interval, when a store
   * reads first and touches separately). Returns the session as stored, live or expired (null when absent); the engine
   * judges the hash and expiry. When the session is live at `now`, `tokenHash` matches and
   * `lastActiveAt <= activeBefore`, it atomically sets `lastActiveAt = now` and `idleExpiresAt` to
   * the given value first and returns the record after that write. An expired session is never
   * touched (a touch must not revive it). The answer may leave out the refresh rotation state
   * (a `SessionSnapshot`), which validation never reads.
   */
  validateSession(input: ValidateSessionInput): Promise<SessionSnapshot | null>;

  /** Atomic refresh rotation; see RotateRefreshResult for the four outcomes. */
  rotateRefresh(input: RotateRefreshInput): Promise<RotateRefreshResult>;

  /** Replaces the sealed app data of a live session. False when there is none. */
  setSessionData(appId: string, id: string, data: string | null, now: number): Promise<boolean>;

  /** Deletes one session (and its index entry) atomically; returns what was deleted. */
  deleteSession(appId: string, id: string): Promise<SessionRecord | null>;

  /** The wallet's live sessions, oldest first. */
  listWalletSessions(appId: string, subject: string, now: number): Promise<SessionRecord[]>;

  /**
   * Atomically deletes every session of the wallet (live or expired) except `exceptId`;
   * returns the deleted live ones.
   */
  deleteWalletSessions(appId: string, subject: string, options: { exceptId?: string; now: number }): Promise<SessionRecord[]>;

  /**
   * Deletes sessions expired at `now` (across all apps), at most `limit` per call, earliest expiry
   * first (ties by appId, then id), and returns them. Each deletion removes the session and its
   * index entry together. Expired entries (`putEntry`) may be dropped here too, silently.
   */
  cleanupExpired(now: number, limit: number): Promise<SessionRecord[]>;

  /**
   * Appends drafts to the app's hash chain in order, atomically with respect to every other
   * append for that app (also from other processes): reads the head, links each draft with
   * `linkAuditEntries`, writes. Returns the linked entries. The head is kept apart from the
   * entries, so deleting the newest entry behind the store's back shows up as a gap.
   */
  appendAudit(appId: string, drafts: AuditDraft[]): Promise<AuditEntry[]>;

  /** Entries in chain order (ascending seq) that match the query. */
  queryAudit(appId: string, query: AuditQuery): Promise<AuditEntry[]>;

  /** Writes (or replaces) an entry that is live until `expiresAt`. */
  putEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<void>;

  /**
   * Atomically writes the entry only when no live entry has its key; true when it wrote. Of any
   * number of concurrent adds of one key, exactly one answers true (replay caches).
   */
  addEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<boolean>;

  /**
   * Atomically reads and deletes a live entry; null when there is none. Of any number of
   * concurrent takes of one key, exactly one gets the value (single-use nonces).
   */
  takeEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null>;

  /**
   * Atomically counts a hit on an entry used as a counter (rate limits): when no live entry has the
   * key, writes `"1"` expiring at `expiresAt` and answers 1; otherwise adds one to its value, keeps its
   * expiry, and answers the new count. Of N concurrent increments of a fresh key, the answers are 1..N.
   */
  incrementEntry(appId: string, namespace: string, key: string, expiresAt: number, now: number): Promise<number>;

  /**
   * One page of a namespace's live entries ordered by (expiresAt, key), strictly after the cursor
   * (`expiringAfter`, `afterKey`): expiresAt > expiringAfter, or equal to it with key > afterKey
   * (every key when `afterKey` is absent). At most `limit` (1..1000). For namespaces that grow
   * (recent revocations): a reader keeps the last entry it saw and asks only for what came after.
   * Keys compare as JavaScript strings; keys used with scans are ASCII.
   */
  scanEntries(
    appId: string,
    namespace: string,
    page: { expiringAfter: number; afterKey?: string; limit: number; now: number },
  ): Promise<StoredEntry[]>;

  /**
   * The value of the live entry with that key (live at `now`: `now < expiresAt`, judged by the stored
   * expiry as `listEntries` judges it, even where the backend has not dropped it yet); null when
   * there is none. One round trip, no write. For reading one key of a namespace (a stamp's key record).
   */
  getEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null>;

  /** The live entries of a namespace, by key. For small namespaces (signing keys, recent revocations). */
  listEntries(appId: string, namespace: string, now: number): Promise<StoredEntry[]>;

  /** Deletes an entry; true when a live one was there. */
  deleteEntry(appId: string, namespace: string, key: string, now: number): Promise<boolean>;

  /** Adds to the app's counters. Not atomic with the operation counted. */
  incrementCounters(appId: string, deltas: Partial<Record<StatsCounter, number>>): Promise<void>;

  /** Live sessions by chain and auth method, and the counters. */
  readStats(appId: string, now: number): Promise<StoreStats>;

  /** Throws when the store cannot answer. */
  ping(): Promise<void>;

  close(): Promise<void>;
}
