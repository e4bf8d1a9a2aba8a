/** The two chain families Latchkey signs wallets in from. */
export type ChainType = 'eip155' | 'solana';

/** What a session may do: a `read-only` session never holds a write permission, whatever its roles. */
export type SessionScope = 'read-only' | 'read-write';

/** How the session came to be: `siwe`, `siws`, `connect`, `api`, or an app-defined word. */
export type AuthMethod = string;

/** Device metadata recorded at sign-in. Informational; never used to authenticate. */
export interface DeviceInfo {
  deviceId?: string;
  userAgent?: string;
  ip?: string;
}

/**
 * Refresh-family state of a session. Every refresh rotates `hash` to a new secret; the hash it
 * replaced moves to `previousHash` and, at the next rotation, to `retired` (most recent last,
 * bounded). `rotatedAt` anchors the grace window of `previousHash`; `successor` is the successor's
 * secrets sealed under a key only the holder of the previous refresh secret can derive, so a
 * concurrent refresh inside the grace window gets the same successor back.
 */
export interface RefreshState {
  hash: string;
  generation: number;
  previousHash: string | null;
  rotatedAt: number | null;
  successor: string | null;
  retired: string[];
}

/**
 * A session as the store keeps it. Secrets never appear here: only their SHA-256 hashes.
 * Times are milliseconds since the epoch. A session is live at `now` when
 * `now < idleExpiresAt && now < absoluteExpiresAt` (so it is expired AT the boundary).
 */
export interface SessionRecord {
  id: string;
  appId: string;
  /** CAIP-10 account, normalised (EIP-55 for eip155). */
  subject: string;
  chainType: ChainType;
  userId: string | null;
  authMethod: AuthMethod;
  scope: SessionScope;
  roles: string[];
  device: DeviceInfo;
  createdAt: number;
  lastActiveAt: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
  /** SHA-256 (base64url) of the current session-token secret. */
  tokenHash: string;
  refresh: RefreshState;
  /** App data sealed with AES-256-GCM (`v1.<kid>.<iv>.<ciphertext>`), or null. */
  data: string | null;
}

/**
 * What validation needs of a session: the record without the refresh family's rotation state
 * (only its generation). Stores may answer `validateSession` with a full record or just this.
 */
export type SessionSnapshot = Omit<SessionRecord, 'refresh'> & { refresh: Pick<RefreshState, 'generation'> };

/** True when the session is live at `now`: both expiries lie strictly after it. */
export function isLive(record: Pick<SessionRecord, 'idleExpiresAt' | 'absoluteExpiresAt'>, now: number): boolean {
  return now < record.idleExpiresAt && now < record.absoluteExpiresAt;
}

/** The moment the session stops being live. */
export function expiresAt(record: Pick<SessionRecord, 'idleExpiresAt' | 'absoluteExpiresAt'>): number {
  return Math.min(record.idleExpiresAt, record.absoluteExpiresAt);
}
