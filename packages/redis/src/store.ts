import {
  type AuditDraft,
  type AuditEntry,
  type AuditHead,
  type AuditQuery,
  type CreateSessionResult,
  EMPTY_AUDIT_HEAD,
  expiresAt,
  isLive,
  LatchkeyError,
  type RotateRefreshInput,
  type RotateRefreshResult,
  type SessionRecord,
  type SessionSnapshot,
  STATS_COUNTERS,
  type StatsCounter,
  type Store,
  type StoreCreateSessionInput,
  type StoredEntry,
  type StoreStats,
  sessionIdTag,
  type ValidateSessionInput,
  walletTag,
  zeroCounters,
} from '@latchkey/core';
import { type Cluster, Redis } from 'ioredis';
import { AuditAppender } from './audit.js';
import {
  asArray,
  asString,
  decodeEntries,
  decodeOptionalSession,
  decodeSession,
  decodeSnapshot,
  encodeSession,
  MalformedReplyError,
  SNAPSHOT_FIELDS,
} from './codec.js';
import { appSessionMember, KeyLayout, parseAppSessionMember } from './keys.js';
import { type RedisStoreOptions, type ResolvedRedisStoreOptions, resolveOptions } from './options.js';
import {
  ADD_ENTRY,
  APPEND_AUDIT,
  CLEANUP_SESSION,
  CREATE_SESSION,
  DELETE_SESSION,
  DELETE_WALLET,
  INCREMENT_COUNTERS,
  LIST_ENTRIES,
  LIST_WALLET,
  PUT_ENTRY,
  ROTATE_REFRESH,
  SET_SESSION_DATA,
  TAKE_ENTRY,
  VALIDATE_SESSION,
} from './scripts.js';

type Client = Redis | Cluster;

/** Snapshot retries before a wallet operation gives up; each retry means the wallet changed meanwhile. */
const MAX_SNAPSHOT_ATTEMPTS = 50;
/** Keys per burst of independent reads (stats, cleanup, audit pages): bounded memory and reply size. */
const READ_CHUNK = 500;
/**
 * Milliseconds an entry's key outlives its expiresAt in Redis: its TTL is `expiresAt − now` plus
 * this. Every read judges an entry by its stored expiresAt, so callers never see the slack. It
 * covers app servers whose clocks disagree: Redis must not drop an entry that a server running
 * behind still counts as live (a replay cache that forgets early accepts a replay).
 */
export const ENTRY_TTL_SLACK_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a snapshot script (see scripts.ts) until it stops answering 'retry'. Each retry means the
 * index changed between the read and the script, so it backs off a little after the first few.
 */
async function untilSnapshotHolds(what: string, attempt: () => Promise<unknown>): Promise<unknown[]> {
  for (let n = 0; n < MAX_SNAPSHOT_ATTEMPTS; n++) {
    const reply = asArray(await attempt(), what);
    if (reply[0] !== 'retry') return reply;
    if (n >= 2) await sleep(Math.random() * 2 ** Math.min(n, 6));
  }
  throw new Error(`${what}: the index kept changing; gave up after ${MAX_SNAPSHOT_ATTEMPTS} attempts`);
}

/**
 * The ARGV an entry write shares (key, value, expiresAt, ttl ms, prune bound), computed in Node
 * so that Lua never formats a number. The TTL is relative to the engine's `now`, never an
 * absolute PEXPIREAT, so a frozen or skewed clock cannot make Redis drop a live entry.
 */
function entryWriteArgs(entry: StoredEntry, now: number): string[] {
  if (!Number.isFinite(entry.expiresAt)) {
    throw new LatchkeyError('INTERNAL_ERROR', { message: 'RedisStore: entry expiresAt must be a finite number' });
  }
  const ttl = entry.expiresAt > now - ENTRY_TTL_SLACK_MS ? Math.ceil(entry.expiresAt - now) + ENTRY_TTL_SLACK_MS : 0;
  return [entry.key, entry.value, String(entry.expiresAt), String(ttl), String(now - ENTRY_TTL_SLACK_MS)];
}

/** Settles when `p` does or after `ms`, whichever comes first; never rejects. */
function waitAtMost(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A cleanup candidate found expired, with what it takes to delete it and to order it. */
interface ExpiredSession {
  appId: string;
  id: string;
  subject: string;
  member: string;
  expiresAt: number;
}

const byExpiry = (a: ExpiredSession, b: ExpiredSession): number =>
  a.expiresAt - b.expiresAt || (a.appId < b.appId ? -1 : a.appId > b.appId ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The Latchkey `Store` on Redis or Redis Cluster.
 *
 * Each multi-key operation is one Lua script over keys that share the wallet's hash tag, so it is
 * atomic and lands on one Cluster node. Validation is one EVALSHA. Keys expire with their session
 * (plus `expiredRetentionMs`, so cleanup can still report them). A Redis that is down or hangs
 * makes every method throw `STORE_UNAVAILABLE` within about `commandTimeoutMs`.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'myapp:' });
 * const latchkey = new Latchkey({ store, defaults: { ... } });
 * ```
 */
export class RedisStore implements Store {
  /** The prefix every key of this store starts with. */
  readonly keyPrefix: string;
  readonly #options: ResolvedRedisStoreOptions;
  readonly #client: Client;
  readonly #ownsClient: boolean;
  readonly #keys: KeyLayout;
  readonly #walletQueues = new Map<string, Promise<void>>();
  readonly #audit = new Map<string, AuditAppender>();
  #readyWait: Promise<void> | null = null;
  #closed = false;

  constructor(options: RedisStoreOptions = {}) {
    this.#options = resolveOptions(options);
    this.keyPrefix = this.#options.keyPrefix;
    this.#keys = new KeyLayout(this.keyPrefix);
    if (this.#options.client) {
      this.#client = this.#options.client;
      this.#ownsClient = false;
    } else {
      const timeout = this.#options.commandTimeoutMs;
      this.#client = new Redis(this.#options.url, {
        // A command sent while disconnected fails at once instead of waiting for a reconnect:
        // the engine fails closed rather than hanging a request.
        enableOfflineQueue: false,
        // Commands issued in the same tick share one socket write: under concurrent validation
        // this saves a syscall per request.
        enableAutoPipelining: true,
        commandTimeout: timeout,
        connectTimeout: timeout,
        maxRetriesPerRequest: 1,
      });
      this.#ownsClient = true;
      // Connection errors reach callers as rejected commands; without a listener ioredis would
      // also print each one as an unhandled error event.
      this.#client.on('error', () => {});
    }
  }

  // ---- sessions -------------------------------------------------------------------------------

  async createSession(input: StoreCreateSessionInput): Promise<CreateSessionResult> {
    const { record, limit, policy, now } = input;
    if (sessionIdTag(record.id) !== walletTag(record.appId, record.subject)) {
      // The session key's slot comes from the id, the wallet index's from the subject: they must agree.
      throw new LatchkeyError('INTERNAL_ERROR', { message: 'RedisStore: session id does not carry its wallet tag' });
    }
    return this.#call(async (c) => {
      const appKey = this.#keys.appSessions(record.appId);
      const member = appSessionMember(record.id, record.subject);
      // The app-wide index lives in another slot, so it cannot join the wallet's script. It is
      // written first: a crash in between leaves an entry without a session (cleanup drops it),
      // never a session that cleanup and stats cannot see.
      // NX: a duplicate id must not move the stored session's score later than its expiry.
      await Promise.all([c.sadd(this.#keys.apps(), record.appId), c.zadd(appKey, 'NX', String(expiresAt(record)), member)]);
      const sessionKey = this.#keys.session(record.appId, record.id);
      const ttl = String(Math.ceil(Math.max(expiresAt(record) - now, 0) + this.#options.expiredRetentionMs));
      const reply = await this.#withWalletSnapshot(c, record.appId, record.subject, (walletKey, ids) =>
        CREATE_SESSION.run(
          c,
          [walletKey, ...ids.map((id) => this.#keys.session(record.appId, id)), sessionKey],
          [
            String(ids.length),
            ...ids,
            record.id,
            String(record.createdAt),
            String(limit),
            policy,
            String(now),
            ttl,
            ...encodeSession(record),
          ],
        ),
      );
      // The id belongs to a session already stored; its app index entry is that session's, so it stays.
      if (reply[0] === 'duplicate') throw new Error('duplicate session id');
      if (reply[0] === 'limit') {
        await this.#quietly(c.zrem(appKey, member));
        return { created: false, reason: 'limit' };
      }
      const evicted = asArray(reply[1], 'evicted').map(decodeSession);
      if (evicted.length > 0) await this.#quietly(c.zrem(appKey, ...evicted.map((r) => appSessionMember(r.id, r.subject))));
      return { created: true, evicted };
    });
  }

  async getSession(appId: string, id: string): Promise<SessionRecord | null> {
    const key = this.#keys.session(appId, id);
    return this.#call(async (c) => {
      const hash = await c.hgetall(key);
      return Object.keys(hash).length === 0 ? null : decodeSession(hash);
    });
  }

  /**
   * One round trip (a plain HMGET, no script) in the common case. Only when the activity write is
   * due (at most once per throttle interval per session) does a second trip run the touch script,
   * which re-checks liveness, hash and throttle atomically before writing.
   */
  async validateSession(input: ValidateSessionInput): Promise<SessionSnapshot | null> {
    const key = this.#keys.session(input.appId, input.id);
    // The hot path: written out rather than through #call, to save two promises per validation.
    try {
      const c = this.#closed || this.#client.status !== 'ready' ? await this.#ready() : this.#client;
      const read = decodeSnapshot(await c.hmget(key, ...SNAPSHOT_FIELDS));
      const isTouchDue =
        read !== null && isLive(read, input.now) && read.tokenHash === input.tokenHash && read.lastActiveAt <= input.activeBefore;
      if (!isTouchDue) return read;
      return decodeSnapshot(
        await VALIDATE_SESSION.run(
          c,
          [key],
          [
            input.tokenHash,
            String(input.now),
            String(input.activeBefore),
            String(input.idleExpiresAt),
            String(this.#options.expiredRetentionMs),
          ],
        ),
      );
    } catch (error) {
      if (error instanceof LatchkeyError) throw error;
      throw new LatchkeyError('STORE_UNAVAILABLE', { cause: error });
    }
  }

  async rotateRefresh(input: RotateRefreshInput): Promise<RotateRefreshResult> {
    const key = this.#keys.session(input.appId, input.id);
    return this.#call(async (c) => {
      // The script may delete the wallet's index entry, so it needs the wallet key, which needs the
      // subject. A session's subject never changes, so reading it first cannot race.
      const subject = await c.hget(key, 'sub');
      if (subject === null) return { outcome: 'invalid' };
      const reply = asArray(
        await ROTATE_REFRESH.run(
          c,
          [key, this.#keys.wallet(input.appId, subject)],
          [
            input.id,
            subject,
            input.presentedHash,
            String(input.now),
            String(input.graceMs),
            String(input.retiredLimit),
            input.next.tokenHash,
            input.next.refreshHash,
            input.next.successor,
            String(input.next.idleExpiresAt),
            String(this.#options.expiredRetentionMs),
          ],
        ),
        'rotation',
      );
      const outcome = reply[0];
      if (outcome === 'invalid') return { outcome };
      if (outcome !== 'rotated' && outcome !== 'grace' && outcome !== 'reused') throw new MalformedReplyError('rotation outcome');
      const record = decodeSession(reply[1]);
      const appKey = this.#keys.appSessions(input.appId);
      const member = appSessionMember(record.id, record.subject);
      if (outcome === 'rotated') await this.#quietly(c.zadd(appKey, 'XX', String(expiresAt(record)), member));
      if (outcome === 'reused') await this.#quietly(c.zrem(appKey, member));
      return { outcome, record };
    });
  }

  async setSessionData(appId: string, id: string, data: string | null, now: number): Promise<boolean> {
    const key = this.#keys.session(appId, id);
    return this.#call(
      async (c) => (await SET_SESSION_DATA.run(c, [key], [String(now), data === null ? 'clear' : 'set', data ?? ''])) === 1,
    );
  }

  async deleteSession(appId: string, id: string): Promise<SessionRecord | null> {
    const key = this.#keys.session(appId, id);
    return this.#call(async (c) => {
      const subject = await c.hget(key, 'sub');
      if (subject === null) return null;
      const record = decodeOptionalSession(await DELETE_SESSION.run(c, [key, this.#keys.wallet(appId, subject)], [id, subject]));
      if (record) await this.#quietly(c.zrem(this.#keys.appSessions(appId), appSessionMember(id, subject)));
      return record;
    });
  }

  async listWalletSessions(appId: string, subject: string, now: number): Promise<SessionRecord[]> {
    return this.#call(async (c) => {
      const reply = await this.#withWalletSnapshot(c, appId, subject, (walletKey, ids) =>
        LIST_WALLET.run(
          c,
          [walletKey, ...ids.map((id) => this.#keys.session(appId, id))],
          [String(ids.length), ...ids, String(now)],
        ),
      );
      return asArray(reply[1], 'sessions').map(decodeSession);
    });
  }

  async deleteWalletSessions(
    appId: string,
    subject: string,
    options: { exceptId?: string; now: number },
  ): Promise<SessionRecord[]> {
    return this.#call(async (c) => {
      const reply = await this.#withWalletSnapshot(c, appId, subject, (walletKey, ids) =>
        DELETE_WALLET.run(
          c,
          [walletKey, ...ids.map((id) => this.#keys.session(appId, id))],
          [String(ids.length), ...ids, options.exceptId ?? '', String(options.now)],
        ),
      );
      const removed = asArray(reply[2], 'removed ids').map((id) => appSessionMember(asString(id, 'id'), subject));
      if (removed.length > 0) await this.#quietly(c.zrem(this.#keys.appSessions(appId), ...removed));
      return asArray(reply[1], 'sessions').map(decodeSession);
    });
  }

  /**
   * Picks exactly the sessions the contract names (earliest expiry first, ties by appId then id)
   * although the app indexes' scores may lag: a touch inside the validation script cannot reach
   * the index's slot. A score is a lower bound of its session's expiry (expiries only move later),
   * so every expired session is among the entries scored `<= now`, and once `limit` expired ones
   * are known, no entry scored above the limit-th expiry can displace them. Then each chosen
   * session is deleted by a script in its wallet's slot. Sessions removed before a failure are
   * still returned, so that the engine audits them.
   */
  async cleanupExpired(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#call(async (c) => {
      const removed: SessionRecord[] = [];
      if (limit <= 0) return removed;
      const chosen = await this.#findExpired(c, await c.smembers(this.#keys.apps()), now, limit);
      try {
        for (let i = 0; i < chosen.length; i += READ_CHUNK) {
          const results = await Promise.allSettled(chosen.slice(i, i + READ_CHUNK).map((e) => this.#removeExpired(c, e, now)));
          for (const r of results) if (r.status === 'fulfilled' && r.value) removed.push(r.value);
          const failure = results.find((r) => r.status === 'rejected');
          if (failure) throw failure.reason;
        }
      } catch (error) {
        if (removed.length === 0) throw error;
      }
      return removed;
    });
  }

  /**
   * Walks each app's index from its lowest score, `page` entries at a time. Every entry seen
   * either stays in the `<= now` range because it is expired (an expired session never becomes
   * live again), or leaves it: re-scored to its true expiry when live, removed when Redis already
   * dropped its session. So an app's next unseen entry sits at offset = its expired ones seen.
   */
  async #findExpired(c: Client, apps: string[], now: number, limit: number): Promise<ExpiredSession[]> {
    const page = Math.min(READ_CHUNK, Math.max(limit, 100));
    const cursors = apps.map((appId) => ({ appId, offset: 0, floor: Number.NEGATIVE_INFINITY, done: false }));
    const found = new Map<string, ExpiredSession>();
    for (;;) {
      const sorted = [...found.values()].sort(byExpiry);
      const bound = sorted.length >= limit ? sorted[limit - 1]!.expiresAt : Number.POSITIVE_INFINITY;
      const open = cursors.filter((cur) => !cur.done && cur.floor <= bound);
      if (open.length === 0) return sorted.slice(0, limit);
      await Promise.all(
        open.map(async (cur) => {
          const appKey = this.#keys.appSessions(cur.appId);
          const flat = await c.zrangebyscore(appKey, '-inf', String(now), 'WITHSCORES', 'LIMIT', cur.offset, page);
          const members: string[] = [];
          for (let i = 0; i + 1 < flat.length; i += 2) {
            members.push(flat[i]!);
            cur.floor = Number(flat[i + 1]);
          }
          if (members.length < page) cur.done = true;
          const inspected = await Promise.all(members.map((m) => this.#inspectCandidate(c, cur.appId, m, now)));
          for (const e of inspected) {
            if (!e) continue;
            cur.offset += 1;
            found.set(`${e.appId}\u0000${e.id}`, e);
          }
        }),
      );
    }
  }

  /** The candidate when it is expired; otherwise fixes its index entry and answers null. */
  async #inspectCandidate(c: Client, appId: string, member: string, now: number): Promise<ExpiredSession | null> {
    const appKey = this.#keys.appSessions(appId);
    const parsed = parseAppSessionMember(member);
    if (!parsed) {
      await c.zrem(appKey, member);
      return null;
    }
    const [ie, ae] = await c.hmget(this.#keys.session(appId, parsed.id), 'ie', 'ae');
    if (ie == null || ae == null) {
      // Redis dropped the session by TTL: the script prunes the wallet index in the wallet's slot.
      await CLEANUP_SESSION.run(
        c,
        [this.#keys.session(appId, parsed.id), this.#keys.wallet(appId, parsed.subject)],
        [parsed.id, String(now)],
      );
      await c.zrem(appKey, member);
      return null;
    }
    const expiry = Math.min(Number(ie), Number(ae));
    if (isLive({ idleExpiresAt: Number(ie), absoluteExpiresAt: Number(ae) }, now)) {
      await c.zadd(appKey, 'XX', Number(ie) < Number(ae) ? ie : ae, member);
      return null;
    }
    return { appId, id: parsed.id, subject: parsed.subject, member, expiresAt: expiry };
  }

  async #removeExpired(c: Client, e: ExpiredSession, now: number): Promise<SessionRecord | null> {
    const reply = asArray(
      await CLEANUP_SESSION.run(
        c,
        [this.#keys.session(e.appId, e.id), this.#keys.wallet(e.appId, e.subject)],
        [e.id, String(now)],
      ),
      'cleanup',
    );
    const appKey = this.#keys.appSessions(e.appId);
    if (reply[0] === 'live') {
      await c.zadd(appKey, 'XX', asString(reply[1], 'expiry'), e.member);
      return null;
    }
    await c.zrem(appKey, e.member);
    return reply[0] === 'removed' ? decodeSession(reply[1]) : null;
  }

  // ---- audit ----------------------------------------------------------------------------------

  async appendAudit(appId: string, drafts: AuditDraft[]): Promise<AuditEntry[]> {
    return this.#call(async () => {
      if (drafts.length === 0) return [];
      let appender = this.#audit.get(appId);
      if (!appender) {
        appender = new AuditAppender(
          appId,
          () => this.#readAuditHead(appId),
          (expected, entries) => this.#writeAudit(appId, expected, entries),
        );
        this.#audit.set(appId, appender);
      }
      return appender.append(drafts);
    });
  }

  async #readAuditHead(appId: string): Promise<AuditHead> {
    const c = await this.#ready();
    const [seq, hash] = await c.hmget(this.#keys.auditHead(appId), 'seq', 'hash');
    return seq && hash ? { seq: Number(seq), hash } : EMPTY_AUDIT_HEAD;
  }

  async #writeAudit(appId: string, expected: AuditHead, entries: AuditEntry[]): Promise<AuditHead | null> {
    const c = await this.#ready();
    const subjectKeys: string[] = [];
    const position = new Map<string, number>();
    const args: string[] = [];
    for (const e of entries) {
      let at = 0;
      if (e.subject !== null) {
        at = position.get(e.subject) ?? 0;
        if (at === 0) {
          subjectKeys.push(this.#keys.auditSubject(appId, e.subject));
          at = subjectKeys.length;
          position.set(e.subject, at);
        }
      }
      args.push(String(e.seq), JSON.stringify(e), String(at));
    }
    const last = entries[entries.length - 1]!;
    const reply = asArray(
      await APPEND_AUDIT.run(
        c,
        [this.#keys.auditHead(appId), this.#keys.auditEntries(appId), ...subjectKeys],
        [String(expected.seq), expected.hash, String(last.seq), last.hash, String(entries.length), ...args],
      ),
      'audit append',
    );
    if (reply[0] === 'ok') return null;
    const seq = Number(asString(reply[1], 'head seq'));
    return seq === 0 ? EMPTY_AUDIT_HEAD : { seq, hash: asString(reply[2], 'head hash') };
  }

  /**
   * Without a subject: walks seqs after `afterSeq` up to the head (they are contiguous, so no
   * index is needed). With a subject: walks that subject's seq index. Time bounds filter as they
   * go; a missing entry (deleted behind the store's back) is skipped, which chain verification
   * then reports as a gap.
   */
  async queryAudit(appId: string, query: AuditQuery): Promise<AuditEntry[]> {
    return this.#call(async (c) => {
      const out: AuditEntry[] = [];
      if (query.limit <= 0) return out;
      const entriesKey = this.#keys.auditEntries(appId);
      const chunk = Math.min(READ_CHUNK, Math.max(query.limit, 50));
      const take = (values: (string | null)[]): void => {
        for (const v of values) {
          if (v === null || out.length >= query.limit) continue;
          const e = JSON.parse(v) as AuditEntry;
          if (query.subject !== undefined && e.subject !== query.subject) continue;
          if (query.since !== undefined && e.at < query.since) continue;
          if (query.until !== undefined && e.at >= query.until) continue;
          out.push(e);
        }
      };
      let after = query.afterSeq ?? 0;
      if (query.subject === undefined) {
        const head = Number((await c.hget(this.#keys.auditHead(appId), 'seq')) ?? 0);
        for (let from = Math.floor(after) + 1; from <= head && out.length < query.limit; from += chunk) {
          const seqs = Array.from({ length: Math.min(chunk, head - from + 1) }, (_, i) => String(from + i));
          take(await c.hmget(entriesKey, ...seqs));
        }
        return out;
      }
      const subjectKey = this.#keys.auditSubject(appId, query.subject);
      while (out.length < query.limit) {
        const seqs = await c.zrangebyscore(subjectKey, `(${after}`, '+inf', 'LIMIT', 0, chunk);
        if (seqs.length === 0) break;
        take(await c.hmget(entriesKey, ...seqs));
        after = Number(seqs[seqs.length - 1]);
      }
      return out;
    });
  }

  // ---- entries --------------------------------------------------------------------------------
  // One namespace's keys share the tag {<appId>:e:<namespace>}: each write, take and delete is one
  // script over the entry's value key and the namespace's index.

  async putEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<void> {
    const keys = [this.#keys.entry(appId, namespace, entry.key), this.#keys.entryIndex(appId, namespace)];
    const args = entryWriteArgs(entry, now);
    return this.#call(async (c) => {
      await PUT_ENTRY.run(c, keys, args);
    });
  }

  async addEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<boolean> {
    const keys = [this.#keys.entry(appId, namespace, entry.key), this.#keys.entryIndex(appId, namespace)];
    const args = [...entryWriteArgs(entry, now), String(now)];
    return this.#call(async (c) => (await ADD_ENTRY.run(c, keys, args)) === 1);
  }

  async takeEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    const keys = [this.#keys.entry(appId, namespace, key), this.#keys.entryIndex(appId, namespace)];
    return this.#call(async (c) => {
      const value = await TAKE_ENTRY.run(c, keys, [key, String(now)]);
      return value === null ? null : asString(value, 'entry value');
    });
  }

  /**
   * Two round trips: the index's members scored above `now`, then the list script, which proves
   * they are still exactly the live ones and reads their values in the same atomic step (a key
   * rotation that puts a new key and deletes the old one never shows an empty list).
   */
  async listEntries(appId: string, namespace: string, now: number): Promise<StoredEntry[]> {
    const indexKey = this.#keys.entryIndex(appId, namespace);
    return this.#call(async (c) => {
      const reply = await untilSnapshotHolds('entry list', async () => {
        const keys = await c.zrangebyscore(indexKey, `(${now}`, '+inf');
        // Nothing live: the read alone is the answer, atomic on its own.
        if (keys.length === 0) return ['ok', []];
        return LIST_ENTRIES.run(
          c,
          [indexKey, ...keys.map((key) => this.#keys.entry(appId, namespace, key))],
          [String(now), String(keys.length), ...keys],
        );
      });
      return decodeEntries(reply[1]);
    });
  }

  async deleteEntry(appId: string, namespace: string, key: string, now: number): Promise<boolean> {
    const keys = [this.#keys.entry(appId, namespace, key), this.#keys.entryIndex(appId, namespace)];
    return this.#call(async (c) => (await TAKE_ENTRY.run(c, keys, [key, String(now)])) !== null);
  }

  // ---- counters and stats ---------------------------------------------------------------------

  async incrementCounters(appId: string, deltas: Partial<Record<StatsCounter, number>>): Promise<void> {
    const args: string[] = [];
    for (const name of STATS_COUNTERS) {
      const delta = deltas[name];
      if (delta === undefined || delta === 0) continue;
      if (!Number.isSafeInteger(delta))
        throw new LatchkeyError('INTERNAL_ERROR', { message: `RedisStore: counter ${name} delta must be an integer` });
      args.push(name, String(delta));
    }
    return this.#call(async (c) => {
      if (args.length > 0) await INCREMENT_COUNTERS.run(c, [this.#keys.counters(appId)], args);
    });
  }

  /** Walks the whole app index (an admin path: O(sessions)), re-checking each session's expiry. */
  async readStats(appId: string, now: number): Promise<StoreStats> {
    return this.#call(async (c) => {
      const raw = await c.hgetall(this.#keys.counters(appId));
      const counters = zeroCounters();
      for (const name of STATS_COUNTERS) if (raw[name] !== undefined) counters[name] = Number(raw[name]);
      const stats: StoreStats = { active: 0, byChain: {}, byAuthMethod: {}, counters };
      const seen = new Set<string>();
      let cursor = '0';
      do {
        const [next, flat] = await c.zscan(this.#keys.appSessions(appId), cursor, 'COUNT', READ_CHUNK);
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
        const rows = await Promise.all(ids.map((id) => c.hmget(this.#keys.session(appId, id), 'ie', 'ae', 'm')));
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
    });
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async ping(): Promise<void> {
    await this.#call(async (c) => {
      await c.ping();
    });
  }

  /** Stops the store. Quits the client only if the store created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#ownsClient) return;
    const c = this.#client;
    try {
      if (c.status === 'ready') await c.quit();
    } catch {
      // a failed QUIT still ends in disconnect() below
    } finally {
      c.disconnect();
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  /**
   * Runs one method: waits (briefly) for a connection, and turns any failure into
   * STORE_UNAVAILABLE so the engine fails closed.
   */
  async #call<T>(run: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await run(await this.#ready());
    } catch (error) {
      if (error instanceof LatchkeyError) throw error;
      throw new LatchkeyError('STORE_UNAVAILABLE', { cause: error });
    }
  }

  /**
   * The store's own client has no offline queue, so a command sent before the connection is up
   * would fail. A method arriving while the first connection is being made waits for it, at most
   * `commandTimeoutMs`; one arriving while the client is reconnecting after a failure fails at once.
   * A passed-in client is used as its owner configured it.
   */
  async #ready(): Promise<Client> {
    if (this.#closed) throw new LatchkeyError('STORE_UNAVAILABLE', { message: 'RedisStore is closed.' });
    const c = this.#client;
    if (!this.#ownsClient || c.status === 'ready') return c;
    if (c.status !== 'connecting' && c.status !== 'connect' && c.status !== 'wait') {
      throw new LatchkeyError('STORE_UNAVAILABLE', { message: `Redis connection is ${c.status}.` });
    }
    this.#readyWait ??= new Promise<void>((resolve, reject) => {
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        c.off('ready', onReady);
        c.off('error', onError);
        c.off('end', onEnd);
        this.#readyWait = null;
        if (error) reject(error);
        else resolve();
      };
      const onReady = (): void => settle();
      const onError = (error: Error): void => settle(error);
      const onEnd = (): void => settle(new Error('connection ended'));
      const timer = setTimeout(
        () => settle(new Error(`no connection within ${this.#options.commandTimeoutMs} ms`)),
        this.#options.commandTimeoutMs,
      );
      c.once('ready', onReady);
      c.once('error', onError);
      c.once('end', onEnd);
    });
    await this.#readyWait;
    return c;
  }

  /**
   * Runs a wallet snapshot script: reads the wallet's ids, hands them to `attempt` (which runs the
   * script with those ids' keys), and repeats while the script answers 'retry' because the index
   * changed in between. Operations on one wallet from this instance run one at a time, so they do
   * not make each other retry; only other instances can.
   */
  async #withWalletSnapshot(
    c: Client,
    appId: string,
    subject: string,
    attempt: (walletKey: string, ids: string[]) => Promise<unknown>,
  ): Promise<unknown[]> {
    const walletKey = this.#keys.wallet(appId, subject);
    return this.#serially(`${appId}\u0000${subject}`, () =>
      untilSnapshotHolds('wallet script', async () => attempt(walletKey, await c.zrange(walletKey, 0, -1))),
    );
  }

  /**
   * Runs `run` after the previous operation on `key` from this instance, but waits for it at most
   * `commandTimeoutMs`: the queue only spares snapshot retries (the snapshot check is what keeps
   * the operation correct), and a hanging Redis must not make the tenth queued call fail ten
   * timeouts late.
   */
  async #serially<T>(key: string, run: () => Promise<T>): Promise<T> {
    const previous = this.#walletQueues.get(key);
    const result = (previous ? waitAtMost(previous, this.#options.commandTimeoutMs) : Promise.resolve()).then(run);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#walletQueues.set(key, tail);
    void tail.then(() => {
      if (this.#walletQueues.get(key) === tail) this.#walletQueues.delete(key);
    });
    return result;
  }

  /**
   * Upkeep of the app-wide index after the wallet's script has committed. The index lives in
   * another slot and tolerates stale entries (cleanup and stats re-check every session), so a
   * failure here must not turn a finished operation into a reported failure.
   */
  async #quietly(write: Promise<unknown>): Promise<void> {
    await write.catch(() => {});
  }
}
