import { type ParsedStamp, parseStampHeader, stampPayload } from '@latchkey/protocol';
import type { AuditDraft } from '../audit/entry.js';
import { LatchkeyError } from '../errors/index.js';
import { DEFAULT_APP_ID } from '../session/config.js';
import type { EngineContext } from '../session/context.js';
import type { SessionScope } from '../session/record.js';
import { SESSION_ID_PATTERN } from '../tokens/ids.js';
import type { SessionKeyCache } from './key-cache.js';
import { verifyP256Signature } from './key-cache.js';
import { decodeKeyRecord, keyNamespace, nonceNamespace, type SessionKeyRecord } from './record.js';

/** Every way a stamp can fail, in the order they are checked. */
export type StampFailureCode =
  | 'SIGNATURE_MALFORMED'
  | 'SESSION_KEY_NOT_FOUND'
  | 'SESSION_KEY_MISMATCH'
  | 'SESSION_KEY_REVOKED'
  | 'SESSION_KEY_EXPIRED'
  | 'SIGNATURE_STALE'
  | 'SCOPE_READ_ONLY'
  | 'SIGNATURE_REPLAYED'
  | 'SIGNATURE_INVALID'
  | 'STORE_UNAVAILABLE';

export interface VerifyStampInput {
  appId?: string;
  /** The session the request's credential (bearer token or cookie) was validated as. */
  sessionId: string;
  /** The request's method, as sent. */
  method: string;
  /** Path and query exactly as on the request line. */
  path: string;
  /** `bodyDigest` of the body bytes as received (`@latchkey/protocol`). */
  bodyDigest: string;
  /** The `Latchkey-Signature` header value. */
  header: string;
  /** Milliseconds; default the engine's clock. */
  now?: number;
  /**
   * Accept an unrevoked key up to the app's `sessionKeys.rotationGraceSeconds` past its expiry: only
   * for making its one successor (which retires it) and asking for that successor's challenge.
   */
  allowExpiredKey?: boolean;
  /**
   * Whether the request changes state, which a read-only key may not sign. Default: any method but
   * GET, HEAD and OPTIONS.
   */
  isWrite?: boolean;
}

/** A stamp that verified: who signed, with what scope. */
export interface VerifiedStamp {
  valid: true;
  keyId: string;
  sessionId: string;
  scope: SessionScope;
  expiresAt: number;
  /** Only with `allowExpiredKey`: the key is past its expiry. */
  isKeyExpired: boolean;
}

/** Not an exception: every refusal is a value, SESSION_KEY_EXPIRED with the key's expiry. */
export type StampVerification =
  | VerifiedStamp
  | { valid: false; code: 'SESSION_KEY_EXPIRED'; expiresAt: number }
  | { valid: false; code: Exclude<StampFailureCode, 'SESSION_KEY_EXPIRED'> };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const AUDIT_THROTTLE_NAMESPACE = 'audit-throttle';

/**
 * The hot path: one read of the key's record (`getEntry`), one `addEntry`, one ECDSA verification.
 * The request's session is already valid. Checks in the documented order (docs/stamps.md): the record
 * exists, is the session's, unrevoked, unexpired (or, with `allowExpiredKey`, within the rotation
 * grace), the stamp inside the time window, the key's scope allows the request; only then is the
 * nonce consumed in the replay cache, and the signature is verified last. So a nonce is always spent
 * before its signature is looked at, and only a stamp naming a usable key of the session writes one.
 * The replay entry lives until `timestamp + skew`, the last moment the stamp could pass, so a stamp
 * signed up to `skew` ahead of the server clock is remembered as long as it is acceptable.
 */
export async function verifyStamp(
  ctx: EngineContext,
  keys: SessionKeyCache,
  input: VerifyStampInput,
): Promise<StampVerification> {
  const appId = input.appId ?? DEFAULT_APP_ID;
  const settings = ctx.settings(appId).sessionKeys;
  if (typeof input.sessionId !== 'string' || !SESSION_ID_PATTERN.test(input.sessionId)) {
    throw new LatchkeyError('VALIDATION_FAILED', { message: 'sessionId: a session id', field: 'sessionId' });
  }
  let stamp: ParsedStamp;
  try {
    stamp = parseStampHeader(input.header);
  } catch {
    return refuse(ctx, appId, input.sessionId, 'SIGNATURE_MALFORMED', null, {});
  }
  const now = input.now ?? ctx.clock.now();
  const keySession = keys.sessionOf(stamp.keyId);
  if (keySession === null) return refuse(ctx, appId, input.sessionId, 'SESSION_KEY_NOT_FOUND', null, { keyId: stamp.keyId });
  let stored: string | null;
  try {
    stored = await ctx.store.getEntry(appId, keyNamespace(keySession), stamp.keyId, now);
  } catch (error) {
    return storeUnavailable(ctx, appId, input.sessionId, error);
  }

  const record = stored === null ? null : readRecord(stored, stamp.keyId, keySession);
  const details = { keyId: stamp.keyId };
  if (!record) return refuse(ctx, appId, input.sessionId, 'SESSION_KEY_NOT_FOUND', null, details);
  if (keySession !== input.sessionId) return refuse(ctx, appId, input.sessionId, 'SESSION_KEY_MISMATCH', record, details);
  if (record.revokedAt !== null) return refuse(ctx, appId, input.sessionId, 'SESSION_KEY_REVOKED', record, details);
  const isKeyExpired = now >= record.expiresAt;
  const isInRotationGrace = input.allowExpiredKey === true && now < record.expiresAt + settings.rotationGraceMs;
  if (isKeyExpired && !isInRotationGrace) return { valid: false, code: 'SESSION_KEY_EXPIRED', expiresAt: record.expiresAt };
  if (Math.abs(now - stamp.timestamp) > settings.skewMs) {
    return refuse(ctx, appId, input.sessionId, 'SIGNATURE_STALE', record, { ...details, offsetMs: stamp.timestamp - now });
  }
  const isWrite = input.isWrite ?? !SAFE_METHODS.has(input.method.toUpperCase());
  if (isWrite && record.scope === 'read-only') return refuse(ctx, appId, input.sessionId, 'SCOPE_READ_ONLY', record, details);

  // Only now, for a usable key of this very session, is anything written: a made-up key id costs the store nothing.
  let isFresh: boolean;
  try {
    isFresh = await ctx.store.addEntry(
      appId,
      nonceNamespace(keySession),
      { key: `${stamp.keyId}.${stamp.nonce}`, value: '1', expiresAt: stamp.timestamp + settings.skewMs + 1 },
      now,
    );
  } catch (error) {
    return storeUnavailable(ctx, appId, input.sessionId, error);
  }
  if (!isFresh) return refuse(ctx, appId, input.sessionId, 'SIGNATURE_REPLAYED', record, details);

  const payload = stampPayload({
    version: 1,
    keyId: stamp.keyId,
    method: input.method.toUpperCase(),
    path: input.path,
    body: input.bodyDigest,
    timestamp: stamp.timestamp,
    nonce: stamp.nonce,
  });
  let isSigned: boolean;
  try {
    isSigned = await verifyP256Signature(keys.get(record.id, record.publicKey), payload, stamp.signature);
  } catch {
    isSigned = false;
  }
  if (!isSigned) return refuse(ctx, appId, input.sessionId, 'SIGNATURE_INVALID', record, details);
  return {
    valid: true,
    keyId: record.id,
    sessionId: record.sessionId,
    scope: record.scope,
    expiresAt: record.expiresAt,
    isKeyExpired,
  };
}

function storeUnavailable(ctx: EngineContext, appId: string, sessionId: string, error: unknown): StampVerification {
  ctx.logger.error('store unavailable during stamp verification', { appId, sessionId, error: String(error) });
  return { valid: false, code: 'STORE_UNAVAILABLE' };
}

/** The key's record from its entry's value; null when it is not a record of that key and session. */
function readRecord(value: string, keyId: string, sessionId: string): SessionKeyRecord | null {
  const record = decodeKeyRecord(value);
  return record && record.id === keyId && record.sessionId === sessionId ? record : null;
}

/**
 * A refusal: one fixed answer, the details in the audit log. Anyone with a session can send bad
 * stamps, so each (session, code) is audited at most once a minute.
 */
async function refuse(
  ctx: EngineContext,
  appId: string,
  sessionId: string,
  code: Exclude<StampFailureCode, 'SESSION_KEY_EXPIRED' | 'STORE_UNAVAILABLE'>,
  record: SessionKeyRecord | null,
  details: AuditDraft['details'],
): Promise<StampVerification> {
  await auditRejection(ctx, appId, { sessionId, subject: record?.subject ?? null }, { code, ...details });
  return { valid: false, code };
}

/** Audits a stamp (or registration proof) refused for a session, at most once a minute per session and code. Never throws. */
export async function auditRejection(
  ctx: EngineContext,
  appId: string,
  about: { sessionId: string; subject: string | null },
  details: AuditDraft['details'] & { code: string },
): Promise<void> {
  const now = ctx.clock.now();
  const throttle = { key: `stamp_rejected:${about.sessionId}:${details.code}`, value: '1', expiresAt: now + 60_000 };
  const isFirstThisMinute = await ctx.store.addEntry(appId, AUDIT_THROTTLE_NAMESPACE, throttle, now).catch(() => false);
  if (isFirstThisMinute) {
    await ctx.record(
      appId,
      [{ at: now, type: 'stamp_rejected', sessionId: about.sessionId, subject: about.subject, details }],
      {},
    );
  }
}
