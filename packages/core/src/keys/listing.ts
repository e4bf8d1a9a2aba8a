import { DEFAULT_APP_ID } from '../session/config.js';
import type { EngineContext } from '../session/context.js';
import { isLive } from '../session/record.js';
import type { Store } from '../store/contract.js';
import { parseAccount } from '../subject/index.js';
import {
  decodeKeyRecord,
  encodeKeyRecord,
  isKeyLive,
  keyNamespace,
  type SessionKey,
  type SessionKeyRecord,
  sessionIdOfKey,
  toSessionKey,
} from './record.js';

/** Every stored record of one session's keys, live or retired (one store call). */
export async function readSessionKeys(store: Store, appId: string, sessionId: string, now: number): Promise<SessionKeyRecord[]> {
  const out: SessionKeyRecord[] = [];
  for (const entry of await store.listEntries(appId, keyNamespace(sessionId), now)) {
    const record = decodeKeyRecord(entry.value);
    if (record && record.id === entry.key && record.sessionId === sessionId) out.push(record);
  }
  return out;
}

export function liveKeyCount(records: readonly SessionKeyRecord[], now: number): number {
  let n = 0;
  for (const r of records) if (isKeyLive(r, now)) n++;
  return n;
}

const byAge = (a: SessionKeyRecord, b: SessionKeyRecord): number =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The live keys of a wallet's live sessions in an app, oldest first. A key of a session that has
 * ended is never listed, whether or not its record is still stored.
 */
export async function listWalletKeys(ctx: EngineContext, input: { appId?: string; account: string }): Promise<SessionKey[]> {
  const appId = input.appId ?? DEFAULT_APP_ID;
  ctx.settings(appId);
  const wallet = parseAccount(input.account);
  const now = ctx.clock.now();
  const sessions = await ctx.storeCall('listWalletSessions', () => ctx.store.listWalletSessions(appId, wallet.account, now));
  const perSession = await ctx.storeCall('listEntries', () =>
    Promise.all(sessions.map((s) => readSessionKeys(ctx.store, appId, s.id, now))),
  );
  return perSession
    .flat()
    .filter((r) => r.subject === wallet.account && isKeyLive(r, now))
    .sort(byAge)
    .map(toSessionKey);
}

/**
 * Revokes an unrevoked key of the wallet's, in a live session (only in `sessionId` when given): a live
 * key, or an expired one whose record is still kept, so that it cannot make its successor either. The
 * record stays until it lapses, so a stamp by it is told SESSION_KEY_REVOKED. False when there is no
 * such key.
 */
export async function revokeSessionKey(
  ctx: EngineContext,
  input: { appId?: string; account: string; keyId: string; sessionId?: string; reason?: string },
): Promise<boolean> {
  const appId = input.appId ?? DEFAULT_APP_ID;
  ctx.settings(appId);
  const wallet = parseAccount(input.account);
  const sessionId = typeof input.keyId === 'string' ? sessionIdOfKey(input.keyId) : null;
  if (sessionId === null || (input.sessionId !== undefined && input.sessionId !== sessionId)) return false;
  const now = ctx.clock.now();
  const session = await ctx.storeCall('getSession', () => ctx.store.getSession(appId, sessionId));
  if (!session || session.subject !== wallet.account || !isLive(session, now)) return false;
  return retireKey(
    ctx,
    appId,
    { sessionId, subject: wallet.account, keyId: input.keyId, reason: input.reason ?? 'revoked' },
    now,
  );
}

/**
 * Marks a key record of the session revoked (its entry keeps its lifetime) and audits it
 * (`session_key_revoked` with `reason`). False when the session keeps no unrevoked record of that id.
 */
export async function retireKey(
  ctx: EngineContext,
  appId: string,
  input: { sessionId: string; subject: string; keyId: string; reason: string },
  now: number,
): Promise<boolean> {
  const namespace = keyNamespace(input.sessionId);
  const entry = (await ctx.storeCall('listEntries', () => ctx.store.listEntries(appId, namespace, now))).find(
    (e) => e.key === input.keyId,
  );
  const record = entry ? decodeKeyRecord(entry.value) : null;
  if (!entry || !record || record.id !== input.keyId || record.sessionId !== input.sessionId || record.revokedAt !== null) {
    return false;
  }
  const revoked: SessionKeyRecord = { ...record, revokedAt: now };
  await ctx.storeCall('putEntry', () =>
    ctx.store.putEntry(appId, namespace, { key: entry.key, value: encodeKeyRecord(revoked), expiresAt: entry.expiresAt }, now),
  );
  await ctx.record(
    appId,
    [
      {
        at: now,
        type: 'session_key_revoked',
        sessionId: input.sessionId,
        subject: input.subject,
        details: { keyId: record.id, reason: input.reason },
      },
    ],
    {},
  );
  return true;
}

/**
 * Drops retired records beyond the newest `keep` (by when they stopped being live), so the session's
 * key namespace, which every stamp reads, stays small however often keys rotate. Best effort.
 */
export async function pruneRetired(
  ctx: EngineContext,
  appId: string,
  sessionId: string,
  records: readonly SessionKeyRecord[],
  now: number,
  keep: number,
): Promise<void> {
  const retiredAt = (r: SessionKeyRecord): number => r.revokedAt ?? r.expiresAt;
  const retired = records.filter((r) => !isKeyLive(r, now)).sort((a, b) => retiredAt(b) - retiredAt(a));
  await deleteRecords(ctx, appId, sessionId, retired.slice(keep), now);
}

/**
 * Deletes every key record of sessions that have ended (revoked, evicted, reused refresh token).
 * Best effort: a key of a dead session is already refused, since a stamp needs its session to
 * validate, and listings show only live sessions' keys. Failures are logged.
 */
export async function forgetSessionKeys(ctx: EngineContext, appId: string, sessionIds: readonly string[]): Promise<void> {
  const now = ctx.clock.now();
  await Promise.all(
    sessionIds.map(async (sessionId) => {
      try {
        await deleteRecords(ctx, appId, sessionId, await readSessionKeys(ctx.store, appId, sessionId, now), now);
      } catch (error) {
        ctx.logger.warn('session keys of an ended session could not be deleted', { appId, sessionId, error: String(error) });
      }
    }),
  );
}

async function deleteRecords(
  ctx: EngineContext,
  appId: string,
  sessionId: string,
  records: readonly SessionKeyRecord[],
  now: number,
): Promise<void> {
  if (records.length === 0) return;
  const namespace = keyNamespace(sessionId);
  const results = await Promise.allSettled(records.map((r) => ctx.store.deleteEntry(appId, namespace, r.id, now)));
  for (const r of results) {
    if (r.status === 'rejected')
      ctx.logger.warn('session key record could not be deleted', { appId, sessionId, error: String(r.reason) });
  }
}
