import { type AuditVerifyResult, verifyAuditChain } from '../audit/chain.js';
import type { AuditEntry } from '../audit/entry.js';
import type { StoreStats } from '../store/contract.js';
import { parseAccount } from '../subject/index.js';
import { DEFAULT_APP_ID } from './config.js';
import { draft, type EngineContext } from './context.js';
import { appOption, parseInput } from './inputs.js';
import type { SessionRecord } from './record.js';
import { type Session, toSession } from './view.js';

export interface AuditQueryOptions {
  appId?: string;
  account?: string;
  since?: number;
  until?: number;
  afterSeq?: number;
  /** Default 100, at most 1000. */
  limit?: number;
}

const CLEANUP_BATCH = 500;

export async function getWalletSessions(ctx: EngineContext, account: string, options: { appId?: string }): Promise<Session[]> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  const settings = ctx.settings(appId);
  const wallet = parseAccount(account);
  const records = await ctx.storeCall('listWalletSessions', () =>
    ctx.store.listWalletSessions(appId, wallet.account, ctx.clock.now()),
  );
  return records.map((r) => toSession(r, settings.roles));
}

export async function cleanupExpiredSessions(ctx: EngineContext): Promise<{ removed: number }> {
  const now = ctx.clock.now();
  let removed = 0;
  for (;;) {
    const batch = await ctx.storeCall('cleanupExpired', () => ctx.store.cleanupExpired(now, CLEANUP_BATCH));
    const byApp = new Map<string, SessionRecord[]>();
    for (const r of batch) byApp.set(r.appId, [...(byApp.get(r.appId) ?? []), r]);
    for (const [appId, records] of byApp) {
      await ctx.record(
        appId,
        records.map((r) => draft(now, 'session_expired', r, { reason: now >= r.absoluteExpiresAt ? 'absolute' : 'idle' })),
        { expired: records.length },
      );
    }
    removed += batch.length;
    if (batch.length < CLEANUP_BATCH) break;
  }
  if (removed > 0) ctx.logger.info('expired sessions cleaned up', { removed });
  return { removed };
}

export async function getSessionStats(ctx: EngineContext, options: { appId?: string }): Promise<StoreStats & { appId: string }> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  ctx.settings(appId);
  const stats = await ctx.storeCall('readStats', () => ctx.store.readStats(appId, ctx.clock.now()));
  return { appId, ...stats };
}

export async function queryAudit(ctx: EngineContext, options: AuditQueryOptions): Promise<AuditEntry[]> {
  const appId = parseInput(appOption, { appId: options.appId }, 'appId').appId ?? DEFAULT_APP_ID;
  ctx.settings(appId);
  const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? 100)), 1000);
  const subject = options.account === undefined ? undefined : parseAccount(options.account).account;
  return ctx.storeCall('queryAudit', () =>
    ctx.store.queryAudit(appId, {
      limit,
      ...(subject === undefined ? {} : { subject }),
      ...(options.since === undefined ? {} : { since: options.since }),
      ...(options.until === undefined ? {} : { until: options.until }),
      ...(options.afterSeq === undefined ? {} : { afterSeq: options.afterSeq }),
    }),
  );
}

export async function verifyAudit(ctx: EngineContext, options: { appId?: string }): Promise<AuditVerifyResult> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  ctx.settings(appId);
  return verifyAuditChain((afterSeq) =>
    ctx.storeCall('queryAudit', () => ctx.store.queryAudit(appId, { afterSeq, limit: 1000 })),
  );
}
