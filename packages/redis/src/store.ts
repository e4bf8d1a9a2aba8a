import {
  type AuditDraft,
  type AuditEntry,
  type AuditQuery,
  type CreateSessionResult,
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
} from '@latchkey/core';
import { Redis } from 'ioredis';
import { AuditLog } from './audit.js';
import { SessionCleanup } from './cleanup.js';
import { type Client, chunked } from './client.js';
import {
  asArray,
  asString,
  decodeOptionalSession,
  decodeSession,
  decodeSnapshot,
  encodeSession,
  MalformedReplyError,
  SNAPSHOT_FIELDS,
} from './codec.js';
import { Entries } from './entries.js';
import { appSessionMember, KeyLayout } from './keys.js';
import { type RedisStoreOptions, type ResolvedRedisStoreOptions, resolveOptions } from './options.js';
import { DELETE_SESSION, INCREMENT_COUNTERS, ROTATE_REFRESH, SET_SESSION_DATA, VALIDATE_SESSION } from './scripts/index.js';
import { readAppStats } from './stats.js';
import { WalletSnapshots } from './wallets.js';

export { ENTRY_TTL_SLACK_MS } from './entries.js';

/**
 * The Latchkey `Store` on Redis or Redis Cluster.
 *
 * Each multi-key operation is one Lua script over keys that share the wallet's hash tag, so it is
 * atomic and lands on one Cluster node. Validation is one HMGET (and the touch script when the
 * activity write is due). No command carries more than MAX_ITEMS_PER_COMMAND keys or members: a
 * wallet or an entry namespace larger than that is worked in chunks (wallets.ts, entries.ts say
 * what stays atomic). Keys expire with their session (plus `expiredRetentionMs`, so cleanup can
 * still report them). A Redis that is down or hangs makes every method throw `STORE_UNAVAILABLE`
 * within about `commandTimeoutMs`.
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
  readonly #wallets: WalletSnapshots;
  readonly #audit: AuditLog;
  readonly #entries: Entries;
  readonly #cleanup: SessionCleanup;
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
    const call = <T>(run: (client: Client) => Promise<T>): Promise<T> => this.#call(run);
    this.#audit = new AuditLog(this.#keys, call, () => this.#ready());
    this.#entries = new Entries(this.#keys, call);
    this.#cleanup = new SessionCleanup(this.#keys);
    this.#wallets = new WalletSnapshots(this.#keys, this.#options.commandTimeoutMs);
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
      const ttl = Math.ceil(Math.max(expiresAt(record) - now, 0) + this.#options.expiredRetentionMs);
      const reply = await this.#wallets.create(c, {
        appId: record.appId,
        subject: record.subject,
        id: record.id,
        createdAt: record.createdAt,
        limit,
        policy,
        now,
        ttl,
        fields: encodeSession(record),
      });
      // The id belongs to a session already stored; its app index entry is that session's, so it stays.
      if (reply[0] === 'duplicate') throw new Error('duplicate session id');
      if (reply[0] === 'limit') {
        await this.#quietly(c.zrem(appKey, member));
        return { created: false, reason: 'limit' };
      }
      const evicted = asArray(reply[1], 'evicted').map(decodeSession);
      const members = evicted.map((r) => appSessionMember(r.id, r.subject));
      await this.#unindex(c, record.appId, members);
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
      const reply = await this.#wallets.list(c, appId, subject, now);
      return asArray(reply[1], 'sessions').map(decodeSession);
    });
  }

  async deleteWalletSessions(
    appId: string,
    subject: string,
    options: { exceptId?: string; now: number },
  ): Promise<SessionRecord[]> {
    return this.#call(async (c) => {
      const reply = await this.#wallets.delete(c, appId, subject, options);
      const removed = asArray(reply[2], 'removed ids').map((id) => appSessionMember(asString(id, 'id'), subject));
      await this.#unindex(c, appId, removed);
      return asArray(reply[1], 'sessions').map(decodeSession);
    });
  }

  /**
   * Earliest expiry first, ties by appId then id, although the app indexes' scores may lag (see
   * cleanup.ts). Sessions removed before a failure are still returned, so that the engine audits them.
   */
  async cleanupExpired(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#call((c) => this.#cleanup.sweep(c, now, limit));
  }

  // ---- audit ----------------------------------------------------------------------------------

  async appendAudit(appId: string, drafts: AuditDraft[]): Promise<AuditEntry[]> {
    return this.#audit.append(appId, drafts);
  }

  async queryAudit(appId: string, query: AuditQuery): Promise<AuditEntry[]> {
    return this.#audit.query(appId, query);
  }

  // ---- entries (entries.ts) -------------------------------------------------------------------

  async putEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<void> {
    return this.#entries.put(appId, namespace, entry, now);
  }

  async addEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<boolean> {
    return this.#entries.add(appId, namespace, entry, now);
  }

  async takeEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    return this.#entries.take(appId, namespace, key, now);
  }

  async getEntry(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    return this.#entries.get(appId, namespace, key, now);
  }

  async scanEntries(
    appId: string,
    namespace: string,
    page: { expiringAfter: number; afterKey?: string; limit: number; now: number },
  ): Promise<StoredEntry[]> {
    return this.#entries.scan(appId, namespace, page);
  }

  async listEntries(appId: string, namespace: string, now: number): Promise<StoredEntry[]> {
    return this.#entries.list(appId, namespace, now);
  }

  async incrementEntry(appId: string, namespace: string, key: string, expiresAt: number, now: number): Promise<number> {
    return this.#entries.increment(appId, namespace, key, expiresAt, now);
  }

  async deleteEntry(appId: string, namespace: string, key: string, now: number): Promise<boolean> {
    return this.#entries.delete(appId, namespace, key, now);
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
    return this.#call((c) => readAppStats(c, this.#keys, appId, now));
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
   * Upkeep of the app-wide index after the wallet's script has committed. The index lives in
   * another slot and tolerates stale entries (cleanup and stats re-check every session), so a
   * failure here must not turn a finished operation into a reported failure.
   */
  async #quietly(write: Promise<unknown>): Promise<void> {
    await write.catch(() => {});
  }

  /** Removes members from the app index, MAX_ITEMS_PER_COMMAND per ZREM, as upkeep (see `#quietly`). */
  async #unindex(c: Client, appId: string, members: string[]): Promise<void> {
    const appKey = this.#keys.appSessions(appId);
    for (const chunk of chunked(members)) await this.#quietly(c.zrem(appKey, ...chunk));
  }
}
