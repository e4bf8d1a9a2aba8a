import { type AuditHead, EMPTY_AUDIT_HEAD, linkAuditEntries } from '../audit/chain.js';
import type { AuditDraft, AuditEntry } from '../audit/entry.js';
import { expiresAt, isLive, type SessionRecord } from '../session/record.js';
import { decideRotation } from '../session/rotation.js';
import {
  type AuditQuery,
  type CreateSessionInput,
  type CreateSessionResult,
  type RotateRefreshInput,
  type RotateRefreshResult,
  type StatsCounter,
  type Store,
  type StoredEntry,
  type StoreStats,
  type ValidateSessionInput,
  zeroCounters,
} from './contract.js';

const copy = (r: SessionRecord): SessionRecord => ({
  ...r,
  roles: [...r.roles],
  device: { ...r.device },
  refresh: { ...r.refresh, retired: [...r.refresh.retired] },
});
const byAge = (a: SessionRecord, b: SessionRecord): number => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

/**
 * A Store in this process's memory: for tests and throwaway use. Every method runs to completion
 * without yielding, which is what makes each one atomic. Nothing survives the process.
 */
export class MemoryStore implements Store {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #wallets = new Map<string, Set<string>>();
  readonly #audit = new Map<string, AuditEntry[]>();
  /** Kept apart from the entries so that deleting the newest entry shows up as a gap. */
  readonly #auditHeads = new Map<string, AuditHead>();
  readonly #counters = new Map<string, Record<StatsCounter, number>>();
  readonly #entries = new Map<string, Map<string, StoredEntry>>();
  #closed = false;

  #check(): void {
    if (this.#closed) throw new Error('memory store is closed');
  }

  #walletIds(appId: string, subject: string): Set<string> {
    const key = `${appId}\u0000${subject}`;
    let ids = this.#wallets.get(key);
    if (!ids) {
      ids = new Set();
      this.#wallets.set(key, ids);
    }
    return ids;
  }

  #remove(appId: string, id: string): SessionRecord | null {
    const key = `${appId}\u0000${id}`;
    const rec = this.#sessions.get(key);
    if (!rec) return null;
    this.#sessions.delete(key);
    this.#walletIds(appId, rec.subject).delete(id);
    return rec;
  }

  #walletRecords(appId: string, subject: string): SessionRecord[] {
    const out: SessionRecord[] = [];
    for (const id of this.#walletIds(appId, subject)) {
      const rec = this.#sessions.get(`${appId}\u0000${id}`);
      if (rec) out.push(rec);
    }
    return out.sort(byAge);
  }

  async createSession(input: CreateSessionInput): Promise<CreateSessionResult> {
    this.#check();
    const { record, limit, policy, now } = input;
    if (this.#sessions.has(`${record.appId}\u0000${record.id}`)) throw new Error('duplicate session id');
    const live = this.#walletRecords(record.appId, record.subject).filter((r) => isLive(r, now));
    const evicted: SessionRecord[] = [];
    if (live.length >= limit) {
      if (policy === 'reject') return { created: false, reason: 'limit' };
      for (const r of live.slice(0, live.length - limit + 1)) {
        this.#remove(r.appId, r.id);
        evicted.push(copy(r));
      }
    }
    this.#sessions.set(`${record.appId}\u0000${record.id}`, copy(record));
    this.#walletIds(record.appId, record.subject).add(record.id);
    return { created: true, evicted };
  }

  async getSession(appId: string, id: string): Promise<SessionRecord | null> {
    this.#check();
    const rec = this.#sessions.get(`${appId}\u0000${id}`);
    return rec ? copy(rec) : null;
  }

  async validateSession(input: ValidateSessionInput): Promise<SessionRecord | null> {
    this.#check();
    const rec = this.#sessions.get(`${input.appId}\u0000${input.id}`);
    if (!rec) return null;
    if (isLive(rec, input.now) && rec.tokenHash === input.tokenHash && rec.lastActiveAt <= input.activeBefore) {
      rec.lastActiveAt = input.now;
      rec.idleExpiresAt = input.idleExpiresAt;
    }
    return copy(rec);
  }

  async rotateRefresh(input: RotateRefreshInput): Promise<RotateRefreshResult> {
    this.#check();
    const rec = this.#sessions.get(`${input.appId}\u0000${input.id}`) ?? null;
    const { result, next } = decideRotation(rec, input);
    if (next) this.#sessions.set(`${input.appId}\u0000${input.id}`, copy(next));
    if (result.outcome === 'reused') this.#remove(input.appId, input.id);
    return result.outcome === 'invalid' ? result : { outcome: result.outcome, record: copy(result.record) };
  }

  async setSessionData(appId: string, id: string, data: string | null, now: number): Promise<boolean> {
    this.#check();
    const rec = this.#sessions.get(`${appId}\u0000${id}`);
    if (!rec || !isLive(rec, now)) return false;
    rec.data = data;
    return true;
  }

  async deleteSession(appId: string, id: string): Promise<SessionRecord | null> {
    this.#check();
    const rec = this.#remove(appId, id);
    return rec ? copy(rec) : null;
  }

  async listWalletSessions(appId: string, subject: string, now: number): Promise<SessionRecord[]> {
    this.#check();
    return this.#walletRecords(appId, subject)
      .filter((r) => isLive(r, now))
      .map(copy);
  }

  async deleteWalletSessions(
    appId: string,
    subject: string,
    options: { exceptId?: string; now: number },
  ): Promise<SessionRecord[]> {
    this.#check();
    const out: SessionRecord[] = [];
    for (const r of this.#walletRecords(appId, subject)) {
      if (r.id === options.exceptId) continue;
      this.#remove(appId, r.id);
      if (isLive(r, options.now)) out.push(copy(r));
    }
    return out;
  }

  async cleanupExpired(now: number, limit: number): Promise<SessionRecord[]> {
    this.#check();
    const expired = [...this.#sessions.values()]
      .filter((r) => !isLive(r, now))
      .sort((a, b) => expiresAt(a) - expiresAt(b) || (a.appId < b.appId ? -1 : a.appId > b.appId ? 1 : a.id < b.id ? -1 : 1))
      .slice(0, limit);
    for (const r of expired) this.#remove(r.appId, r.id);
    for (const entries of this.#entries.values()) {
      for (const [key, e] of entries) if (now >= e.expiresAt) entries.delete(key);
    }
    return expired.map(copy);
  }

  async appendAudit(appId: string, drafts: AuditDraft[]): Promise<AuditEntry[]> {
    this.#check();
    const chain = this.#audit.get(appId) ?? [];
    const linked = linkAuditEntries(appId, this.#auditHeads.get(appId) ?? EMPTY_AUDIT_HEAD, drafts);
    chain.push(...linked);
    this.#audit.set(appId, chain);
    const last = linked[linked.length - 1];
    if (last) this.#auditHeads.set(appId, { seq: last.seq, hash: last.hash });
    return structuredClone(linked);
  }

  async queryAudit(appId: string, query: AuditQuery): Promise<AuditEntry[]> {
    this.#check();
    const out: AuditEntry[] = [];
    for (const e of this.#audit.get(appId) ?? []) {
      if (out.length >= query.limit) break;
      if (query.afterSeq !== undefined && e.seq <= query.afterSeq) continue;
      if (query.subject !== undefined && e.subject !== query.subject) continue;
      if (query.since !== undefined && e.at < query.since) continue;
      if (query.until !== undefined && e.at >= query.until) continue;
      out.push(structuredClone(e));
    }
    return out;
  }

  #namespace(appId: string, namespace: string): Map<string, StoredEntry> {
    const key = `${appId}\u0000${namespace}`;
    let entries = this.#entries.get(key);
    if (!entries) {
      entries = new Map();
      this.#entries.set(key, entries);
    }
    return entries;
  }

  #liveEntry(appId: string, namespace: string, key: string, now: number): StoredEntry | undefined {
    const entry = this.#namespace(appId, namespace).get(key);
    return entry && now < entry.expiresAt ? entry : undefined;
  }

  async putEntry(appId: string, namespace: string, entry: StoredEntry, _now: number): Promise<void> {
    this.#check();
    this.#namespace(appId, namespace).set(entry.key, { ...entry });
  }

  async addEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<boolean> {
    this.#check();
    if (this.#liveEntry(appId, namespace, entry.key, now)) return false;
    this.#namespace(appId, namespace).set(entry.key, { ...entry });
    return true;
  }

  async takeEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    this.#check();
    const entry = this.#liveEntry(appId, namespace, key, now);
    this.#namespace(appId, namespace).delete(key);
    return entry ? entry.value : null;
  }

  async incrementEntry(appId: string, namespace: string, key: string, expiresAt: number, now: number): Promise<number> {
    this.#check();
    const live = this.#liveEntry(appId, namespace, key, now);
    const count = live ? Number(live.value) + 1 : 1;
    this.#namespace(appId, namespace).set(key, { key, value: String(count), expiresAt: live ? live.expiresAt : expiresAt });
    return count;
  }

  async getEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    this.#check();
    return this.#liveEntry(appId, namespace, key, now)?.value ?? null;
  }

  async scanEntries(
    appId: string,
    namespace: string,
    page: { expiringAfter: number; afterKey?: string; limit: number; now: number },
  ): Promise<StoredEntry[]> {
    this.#check();
    const isAfter = (e: StoredEntry): boolean =>
      e.expiresAt > page.expiringAfter ||
      (page.afterKey !== undefined && e.expiresAt === page.expiringAfter && e.key > page.afterKey);
    return [...this.#namespace(appId, namespace).values()]
      .filter((e) => page.now < e.expiresAt && isAfter(e))
      .sort((a, b) => a.expiresAt - b.expiresAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, page.limit)
      .map((e) => ({ ...e }));
  }

  async listEntries(appId: string, namespace: string, now: number): Promise<StoredEntry[]> {
    this.#check();
    return [...this.#namespace(appId, namespace).values()]
      .filter((e) => now < e.expiresAt)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((e) => ({ ...e }));
  }

  async deleteEntry(appId: string, namespace: string, key: string, now: number): Promise<boolean> {
    this.#check();
    const entry = this.#liveEntry(appId, namespace, key, now);
    this.#namespace(appId, namespace).delete(key);
    return entry !== undefined;
  }

  async incrementCounters(appId: string, deltas: Partial<Record<StatsCounter, number>>): Promise<void> {
    this.#check();
    const c = this.#counters.get(appId) ?? zeroCounters();
    for (const [k, v] of Object.entries(deltas) as [StatsCounter, number][]) c[k] += v;
    this.#counters.set(appId, c);
  }

  async readStats(appId: string, now: number): Promise<StoreStats> {
    this.#check();
    const stats: StoreStats = {
      active: 0,
      byChain: {},
      byAuthMethod: {},
      counters: { ...(this.#counters.get(appId) ?? zeroCounters()) },
    };
    for (const r of this.#sessions.values()) {
      if (r.appId !== appId || !isLive(r, now)) continue;
      stats.active += 1;
      stats.byChain[r.chainType] = (stats.byChain[r.chainType] ?? 0) + 1;
      stats.byAuthMethod[r.authMethod] = (stats.byAuthMethod[r.authMethod] ?? 0) + 1;
    }
    return stats;
  }

  async ping(): Promise<void> {
    this.#check();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Test hook: drop a stored audit entry, to prove `verify` notices. */
  deleteAuditEntry(appId: string, seq: number): void {
    const chain = this.#audit.get(appId);
    if (chain)
      this.#audit.set(
        appId,
        chain.filter((e) => e.seq !== seq),
      );
  }

  /** Test hook: overwrite a stored audit entry, to prove `verify` notices. */
  tamperAuditEntry(appId: string, seq: number, change: (e: AuditEntry) => void): void {
    const e = this.#audit.get(appId)?.find((x) => x.seq === seq);
    if (e) change(e);
  }
}
