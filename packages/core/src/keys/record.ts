import { base58 } from '@scure/base';
import type { SessionScope } from '../session/record.js';
import { SESSION_ID_PATTERN } from '../tokens/ids.js';

/**
 * A session key as callers see it: a P-256 public key bound to one session. The server keeps only
 * the public half; a stamp by the private half authenticates a request of that session.
 */
export interface SessionKey {
  /** `lksk_…`: names the key in a stamp. Public, not secret. */
  id: string;
  sessionId: string;
  /** Hex of the 65-byte uncompressed SEC1 point, lowercase. */
  publicKey: string;
  scope: SessionScope;
  name: string | null;
  createdAt: number;
  /** Never later than the session's absolute expiry. */
  expiresAt: number;
}

/** How the key came to be: sealed to a target key by the server, or registered by the device that holds it. */
export type SessionKeyOrigin = 'bundle' | 'registration';

/** A session key as the store keeps it (JSON in the session's key namespace, keyed by id). */
export interface SessionKeyRecord extends SessionKey {
  subject: string;
  origin: SessionKeyOrigin;
  /** Set when revoked; the record stays a while so a stamp by it is told SESSION_KEY_REVOKED. */
  revokedAt: number | null;
}

export const KEY_ID_PREFIX = 'lksk_';

/**
 * Key ids are `lksk_` + base58 of the 16 bytes of the session id followed by 16 random bytes. Like a
 * session id carries its wallet's tag, a key id carries its session: a stamp by another session's key
 * is told apart from an unknown key with one read of that session's keys, and no store-wide index.
 */
export function newSessionKeyId(sessionId: string, randomBytes: Uint8Array): string {
  const bytes = new Uint8Array(32);
  bytes.set(Buffer.from(sessionId, 'hex'), 0);
  bytes.set(randomBytes.subarray(0, 16), 16);
  return KEY_ID_PREFIX + base58.encode(bytes);
}

const KEY_ID_PATTERN = /^lksk_[1-9A-HJ-NP-Za-km-z]{32,48}$/;

/** The session a key id names, or null for an id this server never issues. */
export function sessionIdOfKey(keyId: string): string | null {
  if (!KEY_ID_PATTERN.test(keyId)) return null;
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(keyId.slice(KEY_ID_PREFIX.length));
  } catch {
    return null;
  }
  if (bytes.length !== 32) return null;
  const sessionId = Buffer.from(bytes.subarray(0, 16)).toString('hex');
  return SESSION_ID_PATTERN.test(sessionId) ? sessionId : null;
}

/**
 * Entry namespaces are at most 32 characters of `[a-z0-9_-]`, one more than a session id in hex, so
 * a session's namespaces carry its id in base 36 (25 characters).
 */
function sessionTag(sessionId: string): string {
  return BigInt(`0x${sessionId}`).toString(36).padStart(25, '0');
}

/** The session's key records, by key id. */
export function keyNamespace(sessionId: string): string {
  return `sk${sessionTag(sessionId)}`;
}

/** The session's stamp nonces (the replay cache), by `<key id>.<nonce>`. */
export function nonceNamespace(sessionId: string): string {
  return `sn${sessionTag(sessionId)}`;
}

/**
 * The session's spent rotations, by key id: an expired key makes one successor, and this entry (one
 * `addEntry`) decides which of concurrent rotations by it that is.
 */
export function rotationNamespace(sessionId: string): string {
  return `sr${sessionTag(sessionId)}`;
}

/** Registration challenges, by the session they were issued to (one outstanding per session); the value is the challenge. */
export const CHALLENGE_NAMESPACE = 'session-key-challenges';

/** One entry per session that has ever had a key: the first key without a stamp is created once. */
export const FIRST_KEY_NAMESPACE = 'session-key-first';

export function encodeKeyRecord(record: SessionKeyRecord): string {
  return JSON.stringify(record);
}

/** A stored record, or null for a value that is not one (never trusted further than its shape). */
export function decodeKeyRecord(value: string): SessionKeyRecord | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const r = parsed as Partial<SessionKeyRecord> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.id !== 'string' ||
    typeof r.sessionId !== 'string' ||
    typeof r.publicKey !== 'string' ||
    (r.scope !== 'read-only' && r.scope !== 'read-write') ||
    typeof r.createdAt !== 'number' ||
    typeof r.expiresAt !== 'number' ||
    (r.revokedAt !== null && typeof r.revokedAt !== 'number')
  ) {
    return null;
  }
  return r as SessionKeyRecord;
}

/** A key is live at `now` while unrevoked and `now < expiresAt` (expired AT the boundary, like a session). */
export function isKeyLive(record: Pick<SessionKeyRecord, 'expiresAt' | 'revokedAt'>, now: number): boolean {
  return record.revokedAt === null && now < record.expiresAt;
}

export function toSessionKey(record: SessionKeyRecord): SessionKey {
  return {
    id: record.id,
    sessionId: record.sessionId,
    publicKey: record.publicKey,
    scope: record.scope,
    name: record.name,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
  };
}
