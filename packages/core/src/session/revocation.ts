import { LatchkeyError } from '../errors/index.js';
import { parseAccount } from '../subject/index.js';
import { DEFAULT_APP_ID } from './config.js';
import { draft, type EngineContext } from './context.js';
import { validateSession } from './validation.js';

export async function revokeSession(ctx: EngineContext, token: string, options: { appId?: string }): Promise<boolean> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  const result = await validateSession(ctx, token, { appId });
  if (!result.valid) {
    if (result.code === 'STORE_UNAVAILABLE') throw new LatchkeyError('STORE_UNAVAILABLE');
    return false;
  }
  return revokeSessionById(ctx, result.session.id, { appId, reason: 'logout' });
}

export async function revokeSessionById(
  ctx: EngineContext,
  sessionId: string,
  options: { appId?: string; reason?: string },
): Promise<boolean> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  ctx.settings(appId);
  const now = ctx.clock.now();
  // Access-token verifiers learn of the revocation BEFORE the session goes: if that cannot be
  // recorded, nothing is deleted and the caller hears STORE_UNAVAILABLE (a marker for a session
  // that survives only fails closed).
  await ctx.storeCall('noteRevoked', () => ctx.access.noteRevoked(appId, [sessionId]));
  const record = await ctx.storeCall('deleteSession', () => ctx.store.deleteSession(appId, sessionId));
  if (!record) return false;
  await ctx.record(appId, [draft(now, 'session_revoked', record, { reason: options.reason ?? 'revoked' })], { revoked: 1 });
  await ctx.forgetSessionKeys(appId, [sessionId]);
  return true;
}

export async function invalidateAllWalletSessions(
  ctx: EngineContext,
  account: string,
  options: { appId?: string; keepSessionId?: string },
): Promise<{ revoked: number }> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  ctx.settings(appId);
  const wallet = parseAccount(account);
  const now = ctx.clock.now();
  if (ctx.access.isRevocationChecked(appId)) {
    // Mark first (see revokeSessionById); a session created in between is marked after the delete.
    const live = await ctx.storeCall('listWalletSessions', () => ctx.store.listWalletSessions(appId, wallet.account, now));
    const ids = live.map((r) => r.id).filter((id) => id !== options.keepSessionId);
    await ctx.storeCall('noteRevoked', () => ctx.access.noteRevoked(appId, ids));
  }
  const deleted = await ctx.storeCall('deleteWalletSessions', () =>
    ctx.store.deleteWalletSessions(
      appId,
      wallet.account,
      options.keepSessionId === undefined ? { now } : { now, exceptId: options.keepSessionId },
    ),
  );
  await ctx.record(
    appId,
    [
      {
        at: now,
        type: 'wallet_sessions_revoked',
        sessionId: options.keepSessionId ?? null,
        subject: wallet.account,
        details: { revoked: deleted.length, keptCurrent: options.keepSessionId !== undefined },
      },
    ],
    { revoked: deleted.length },
  );
  await noteRevoked(
    ctx,
    appId,
    deleted.map((r) => r.id),
  );
  return { revoked: deleted.length };
}

/**
 * Tells access-token verifiers on every node after a session is already gone (eviction, reuse,
 * a late wallet-wide delete), and drops the sessions' keys; a failure is logged, since there is
 * nothing left to undo.
 */
export async function noteRevoked(ctx: EngineContext, appId: string, sessionIds: string[]): Promise<void> {
  if (sessionIds.length > 0) await ctx.forgetSessionKeys(appId, sessionIds);
  try {
    await ctx.access.noteRevoked(appId, sessionIds);
  } catch (error) {
    ctx.logger.error('revocation could not be recorded for access-token verifiers', {
      appId,
      sessionIds,
      error: String(error),
    });
  }
}
