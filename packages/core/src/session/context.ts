import { AccessTokens } from '../access/service.js';
import type { AuditDraft, AuditEventType } from '../audit/entry.js';
import type { SessionDataCipher } from '../crypto/keyring.js';
import { LatchkeyError } from '../errors/index.js';
import { forgetSessionKeys } from '../keys/listing.js';
import type { Logger } from '../logger.js';
import type { Clock, RandomSource } from '../runtime.js';
import type { StatsCounter, Store } from '../store/contract.js';
import type { AppSettings } from './config.js';
import type { SessionRecord } from './record.js';

/**
 * What the engine's parts share. Built once per engine; the session operations are functions over
 * it, so the public class holds only wiring. `logger` is swapped in place by `setLogger`.
 */
export interface EngineContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: RandomSource;
  logger: Logger;
  readonly cipher: SessionDataCipher | null;
  readonly access: AccessTokens;
  settings(appId: string): AppSettings;
  /** Runs a store call; a failure that is not a LatchkeyError is logged and becomes STORE_UNAVAILABLE. */
  storeCall<T>(operation: string, call: () => Promise<T>): Promise<T>;
  /** Audit and counters after an operation. Their failure is logged, not thrown: the operation already happened. */
  record(appId: string, drafts: AuditDraft[], counters: Partial<Record<StatsCounter, number>>): Promise<void>;
  /** Deletes the session keys of sessions that have ended. Best effort: logged, never thrown. */
  forgetSessionKeys(appId: string, sessionIds: readonly string[]): Promise<void>;
}

type EngineParts = Pick<EngineContext, 'store' | 'clock' | 'random' | 'logger' | 'cipher' | 'settings'>;

export function createEngineContext(parts: EngineParts): EngineContext {
  const storeCall = <T>(operation: string, call: () => Promise<T>): Promise<T> => guardedStoreCall(ctx, operation, call);
  const ctx: EngineContext = {
    store: parts.store,
    clock: parts.clock,
    random: parts.random,
    logger: parts.logger,
    cipher: parts.cipher,
    settings: parts.settings,
    access: new AccessTokens({
      store: parts.store,
      clock: parts.clock,
      random: parts.random,
      cipher: parts.cipher,
      logger: () => ctx.logger,
      settings: parts.settings,
      storeCall,
    }),
    storeCall,
    record: (appId, drafts, counters) => recordOutcome(ctx, appId, drafts, counters),
    forgetSessionKeys: (appId, sessionIds) => forgetSessionKeys(ctx, appId, sessionIds),
  };
  return ctx;
}

async function guardedStoreCall<T>(ctx: EngineContext, operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof LatchkeyError) throw error;
    ctx.logger.error('store call failed', { operation, error: String(error) });
    throw new LatchkeyError('STORE_UNAVAILABLE', { cause: error });
  }
}

async function recordOutcome(
  ctx: EngineContext,
  appId: string,
  drafts: AuditDraft[],
  counters: Partial<Record<StatsCounter, number>>,
): Promise<void> {
  const nonZero = Object.fromEntries(Object.entries(counters).filter(([, v]) => v !== 0));
  const writes: Promise<unknown>[] = [];
  if (drafts.length > 0) writes.push(ctx.store.appendAudit(appId, drafts));
  if (Object.keys(nonZero).length > 0) writes.push(ctx.store.incrementCounters(appId, nonZero));
  const results = await Promise.allSettled(writes);
  for (const r of results) {
    if (r.status === 'rejected')
      ctx.logger.error('audit or counter write failed', {
        appId,
        events: drafts.map((d) => d.type),
        error: String(r.reason),
      });
  }
}

export function requireCipher(ctx: EngineContext): SessionDataCipher {
  if (!ctx.cipher) throw new LatchkeyError('ENCRYPTION_KEY_MISSING');
  return ctx.cipher;
}

export function draft(
  at: number,
  type: AuditEventType,
  record: Pick<SessionRecord, 'id' | 'subject'>,
  details: AuditDraft['details'],
): AuditDraft {
  return { at, type, sessionId: record.id, subject: record.subject, details };
}
