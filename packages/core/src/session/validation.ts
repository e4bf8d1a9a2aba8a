import type { AuditDraft } from '../audit/entry.js';
import { hashesEqual, hashSecret, parseToken } from '../tokens/secret.js';
import { DEFAULT_APP_ID } from './config.js';
import { draft, type EngineContext, requireCipher } from './context.js';
import { isLive, type SessionSnapshot } from './record.js';
import { type Session, toSession } from './view.js';

/** Every way a token can fail validation. Not exceptions: validation answers with a value. */
export type InvalidSessionCode =
  | 'TOKEN_MALFORMED'
  | 'SESSION_NOT_FOUND'
  | 'TOKEN_INVALID'
  | 'SESSION_EXPIRED'
  | 'STORE_UNAVAILABLE';

export type ValidationResult =
  | { valid: true; session: Session; refreshRecommended: boolean; data?: unknown }
  | { valid: false; code: InvalidSessionCode };

export interface ValidateOptions {
  appId?: string;
  /** Decrypt and return the session data. Off by default: validation does no decryption unless asked. */
  withData?: boolean;
  /**
   * `record` (default): the throttled activity write (`lastActiveAt`, the sliding idle expiry) happens
   * in the validation's own store call. `defer`: nothing is written, so a request refused after
   * validation (a stamp missing or wrong) does not keep the session alive; call `recordActivity` once
   * the request is accepted.
   */
  activity?: 'record' | 'defer';
}

const AUDIT_THROTTLE_NAMESPACE = 'audit-throttle';

/** The hot path (`npm run bench:sessions`): no closures and no awaits beyond the one store call. */
export async function validateSession(ctx: EngineContext, token: string, options: ValidateOptions): Promise<ValidationResult> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  const settings = ctx.settings(appId);
  const parsed = parseToken('session', token);
  if (!parsed) return invalid(ctx, appId, 'TOKEN_MALFORMED', null);
  const tokenHash = hashSecret(parsed.secret);
  const now = ctx.clock.now();
  let record: SessionSnapshot | null;
  try {
    record = await ctx.store.validateSession({
      appId,
      id: parsed.id,
      tokenHash,
      now,
      // A deferred touch asks for a write no record can qualify for: `lastActiveAt` is never negative.
      activeBefore: options.activity === 'defer' ? -1 : now - settings.activityThrottleMs,
      idleExpiresAt: now + settings.idleTimeoutMs,
    });
  } catch (error) {
    ctx.logger.error('store unavailable during validation', { appId, sessionId: parsed.id, error: String(error) });
    return { valid: false, code: 'STORE_UNAVAILABLE' };
  }
  if (!record) return invalid(ctx, appId, 'SESSION_NOT_FOUND', null);
  if (!hashesEqual(record.tokenHash, tokenHash)) return invalid(ctx, appId, 'TOKEN_INVALID', record);
  if (!isLive(record, now)) return invalid(ctx, appId, 'SESSION_EXPIRED', record);
  const session = toSession(record, settings.roles);
  const refreshRecommended = now >= session.idleExpiresAt - settings.refreshWindowMs;
  if (!options.withData) return { valid: true, session, refreshRecommended };
  const data = record.data === null ? null : requireCipher(ctx).open(appId, record.id, record.data);
  return { valid: true, session, refreshRecommended, data };
}

/**
 * The activity write that `activity: 'defer'` left out, for a request accepted after all: no store call
 * unless one is due (`lastActiveAt` at or before the throttle), then one atomic touch that, like the
 * one in validation, never revives an expired session. Answers the session as it stands after it.
 * Throws STORE_UNAVAILABLE when the store cannot answer.
 */
export async function recordActivity(
  ctx: EngineContext,
  token: string,
  options: { appId?: string; session: Session },
): Promise<Session> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  const settings = ctx.settings(appId);
  const now = ctx.clock.now();
  const activeBefore = now - settings.activityThrottleMs;
  const parsed = parseToken('session', token);
  if (!parsed || parsed.id !== options.session.id || options.session.lastActiveAt > activeBefore) return options.session;
  const tokenHash = hashSecret(parsed.secret);
  const record = await ctx.storeCall('validateSession', () =>
    ctx.store.validateSession({
      appId,
      id: parsed.id,
      tokenHash,
      now,
      activeBefore,
      idleExpiresAt: now + settings.idleTimeoutMs,
    }),
  );
  // Ended or refreshed meanwhile: nothing was written, and the request was accepted as the session it validated.
  if (!record || !hashesEqual(record.tokenHash, tokenHash) || !isLive(record, now)) return options.session;
  return toSession(record, settings.roles);
}

async function invalid(
  ctx: EngineContext,
  appId: string,
  code: Exclude<InvalidSessionCode, 'STORE_UNAVAILABLE'>,
  record: SessionSnapshot | null,
): Promise<ValidationResult> {
  // Session ids are public, so anyone can make a token that names one: such failures are audited
  // at most once a minute per session (counted always), or they could fill the audit log.
  const now = ctx.clock.now();
  let drafts: AuditDraft[] = [];
  if (record) {
    const isFirstThisMinute = await ctx.store
      .addEntry(
        appId,
        AUDIT_THROTTLE_NAMESPACE,
        { key: `validation_failed:${record.id}`, value: '1', expiresAt: now + 60_000 },
        now,
      )
      .catch(() => false);
    if (isFirstThisMinute) drafts = [draft(now, 'validation_failed', record, { code })];
  }
  await ctx.record(appId, drafts, { validationFailed: 1 });
  return { valid: false, code };
}
