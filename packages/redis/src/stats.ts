import { isLive, type SessionRecord, STATS_COUNTERS, type StoreStats, zeroCounters } from '@latchkey/core';
import { type Client, READ_CHUNK } from './client.js';
import { type KeyLayout, parseAppSessionMember } from './keys.js';

/** readStats: walks the whole app index (an admin path: O(sessions)), re-checking each session's expiry. */
export async function readAppStats(c: Client, keys: KeyLayout, appId: string, now: number): Promise<StoreStats> {
  const raw = await c.hgetall(keys.counters(appId));
  const counters = zeroCounters();
  for (const name of STATS_COUNTERS) if (raw[name] !== undefined) counters[name] = Number(raw[name]);
  const stats: StoreStats = { active: 0, byChain: {}, byAuthMethod: {}, counters };
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, flat] = await c.zscan(keys.appSessions(appId), cursor, 'COUNT', READ_CHUNK);
    cursor = next;
    const ids: string[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const parsed = parseAppSessionMember(flat[i]!);
      // ZSCAN may return an element twice; a session counts once.
      if (parsed && !seen.has(parsed.id)) {
        seen.add(parsed.id);
        ids.push(parsed.id);
      }
    }
    const rows = await Promise.all(ids.map((id) => c.hmget(keys.session(appId, id), 'ie', 'ae', 'm')));
    for (const [ie, ae, m] of rows) {
      if (ie == null || ae == null || m == null) continue;
      if (!isLive({ idleExpiresAt: Number(ie), absoluteExpiresAt: Number(ae) }, now)) continue;
      const meta = JSON.parse(m) as Pick<SessionRecord, 'chainType' | 'authMethod'>;
      stats.active += 1;
      stats.byChain[meta.chainType] = (stats.byChain[meta.chainType] ?? 0) + 1;
      stats.byAuthMethod[meta.authMethod] = (stats.byAuthMethod[meta.authMethod] ?? 0) + 1;
    }
  } while (cursor !== '0');
  return stats;
}
