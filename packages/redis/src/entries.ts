import { LatchkeyError, type Store, type StoredEntry } from '@latchkey/core';
import { type Call, type Client, chunked, MAX_ITEMS_PER_COMMAND, untilSnapshotHolds } from './client.js';
import { asArray, asString, MalformedReplyError, readEntries } from './codec.js';
import type { KeyLayout } from './keys.js';
import { ADD_ENTRY, INCREMENT_ENTRY, LIST_ENTRIES, PUT_ENTRY, READ_ENTRIES, TAKE_ENTRY } from './scripts/index.js';

type ScanPage = Parameters<Store['scanEntries']>[2];

/** The contract's bound on one `scanEntries` page. */
const MAX_SCAN_PAGE = 1000;

/** JavaScript's string order (UTF-16 code units): MemoryStore's, so the contract's. Redis and Lua compare bytes. */
const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** An index member with its score (the entry's expiresAt as the index holds it). */
interface Member {
  key: string;
  score: number;
}

/**
 * Milliseconds an entry's key outlives its expiresAt in Redis: its TTL is `expiresAt − now` plus
 * this. Every read judges an entry by its stored expiresAt, so callers never see the slack. It
 * covers app servers whose clocks disagree: Redis must not drop an entry that a server running
 * behind still counts as live (a replay cache that forgets early accepts a replay).
 */
export const ENTRY_TTL_SLACK_MS = 5_000;

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

/**
 * The entry methods of one store. One namespace's keys share the tag {<appId>:e:<namespace>}: each
 * write, take and delete is one script over the entry's value key and the namespace's index. Keys
 * and arguments are worked out before `call`, so a caller bug (a bad namespace) throws as itself.
 */
export class Entries {
  readonly #keys: KeyLayout;
  readonly #call: Call;

  constructor(keys: KeyLayout, call: Call) {
    this.#keys = keys;
    this.#call = call;
  }

  async put(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<void> {
    const keys = [this.#keys.entry(appId, namespace, entry.key), this.#keys.entryIndex(appId, namespace)];
    const args = entryWriteArgs(entry, now);
    return this.#call(async (c) => {
      await PUT_ENTRY.run(c, keys, args);
    });
  }

  async add(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<boolean> {
    const keys = [this.#keys.entry(appId, namespace, entry.key), this.#keys.entryIndex(appId, namespace)];
    const args = [...entryWriteArgs(entry, now), String(now)];
    return this.#call(async (c) => (await ADD_ENTRY.run(c, keys, args)) === 1);
  }

  async take(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    const keys = [this.#keys.entry(appId, namespace, key), this.#keys.entryIndex(appId, namespace)];
    return this.#call(async (c) => {
      const value = await TAKE_ENTRY.run(c, keys, [key, String(now)]);
      return value === null ? null : asString(value, 'entry value');
    });
  }

  /**
   * One HMGET of the value key, no script, no write. Liveness is judged by the stored expiresAt
   * against `now`, as `list` judges it: an entry Redis still keeps (the TTL slack, a clock that
   * differs from the engine's) is absent once `now >= expiresAt`.
   */
  async get(appId: string, namespace: string, key: string, now: number): Promise<string | null> {
    const valueKey = this.#keys.entry(appId, namespace, key);
    return this.#call(async (c) => {
      const [value, expiry] = await c.hmget(valueKey, 'v', 'x');
      if (value === null || value === undefined || expiry === null || expiry === undefined) return null;
      return now < Number(expiry) ? value : null;
    });
  }

  /** A fresh window writes "1" as `put` would (TTL `expiresAt − now` plus the slack, index member); a live one keeps both. */
  async increment(appId: string, namespace: string, key: string, expiresAt: number, now: number): Promise<number> {
    const keys = [this.#keys.entry(appId, namespace, key), this.#keys.entryIndex(appId, namespace)];
    const args = [...entryWriteArgs({ key, value: '1', expiresAt }, now), String(now)];
    return this.#call(async (c) => {
      const count = await INCREMENT_ENTRY.run(c, keys, args);
      if (typeof count !== 'number') throw new MalformedReplyError('entry count');
      return count;
    });
  }

  /**
   * Up to MAX_ITEMS_PER_COMMAND live entries: two round trips, the index's members scored above
   * `now`, then the list script, which proves they are still exactly the live ones and reads their
   * values in the same atomic step (a key rotation that puts a new key and deletes the old one never
   * shows an empty list). More than that cannot go in one script call, so the values are read in
   * chunks, each atomic by itself: every entry live throughout the call is listed, and one written
   * or deleted meanwhile may or may not be.
   */
  async list(appId: string, namespace: string, now: number): Promise<StoredEntry[]> {
    const indexKey = this.#keys.entryIndex(appId, namespace);
    return this.#call(async (c) => {
      const reply = await untilSnapshotHolds('entry list', async () => {
        const keys = await c.zrangebyscore(indexKey, `(${now}`, '+inf');
        // Nothing live: the read alone is the answer, atomic on its own.
        if (keys.length === 0) return ['ok', []];
        if (keys.length > MAX_ITEMS_PER_COMMAND) {
          const read = await this.#read(c, appId, namespace, keys);
          return ['ok', read.filter((e) => now < e.expiresAt)];
        }
        const snapshot = await LIST_ENTRIES.run(
          c,
          [indexKey, ...keys.map((key) => this.#keys.entry(appId, namespace, key))],
          [String(now), String(keys.length), ...keys],
        );
        const [status, flat] = asArray(snapshot, 'entry list');
        return status === 'ok' ? ['ok', readEntries(flat)] : [status];
      });
      return (reply[1] as StoredEntry[]).sort((a, b) => byKey(a.key, b.key));
    });
  }

  /**
   * One page in (expiresAt, key) order after the cursor. The index is scored by expiresAt, so the
   * page is a score range (`ZRANGEBYSCORE … LIMIT`); Redis orders equal scores by bytes and the
   * contract by UTF-16 code units, so the members sharing the cursor's score and the page's last
   * score are read whole and the order among them is settled here. Then the values of at most
   * `limit` members are read in chunks, each chunk atomic by itself (a page is not one snapshot).
   * A member whose entry went away meanwhile leaves a gap, which further rounds after the last
   * member read fill, so a short page still means there is nothing more.
   */
  async scan(appId: string, namespace: string, page: ScanPage): Promise<StoredEntry[]> {
    const { expiringAfter, afterKey, limit, now } = page;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SCAN_PAGE) {
      throw new LatchkeyError('INTERNAL_ERROR', {
        message: `RedisStore: scanEntries limit must be an integer from 1 to ${MAX_SCAN_PAGE}`,
      });
    }
    if (!Number.isFinite(expiringAfter) || !Number.isFinite(now) || (afterKey !== undefined && typeof afterKey !== 'string')) {
      throw new LatchkeyError('INTERNAL_ERROR', {
        message: 'RedisStore: scanEntries cursor must be finite numbers and a string key',
      });
    }
    const indexKey = this.#keys.entryIndex(appId, namespace);
    const isAfterCursor = (e: StoredEntry): boolean =>
      e.expiresAt > expiringAfter || (afterKey !== undefined && e.expiresAt === expiringAfter && e.key > afterKey);
    return this.#call(async (c) => {
      const out: StoredEntry[] = [];
      let cursor: Member | null = afterKey === undefined ? null : { score: expiringAfter, key: afterKey };
      let bound = Math.max(expiringAfter, now);
      for (;;) {
        const want = limit - out.length;
        const { members, isLast } = await this.#membersAfter(c, indexKey, { cursor, bound, now, want });
        const keys = members.map((m) => m.key);
        const read = await this.#read(c, appId, namespace, keys);
        for (const e of read) if (now < e.expiresAt && isAfterCursor(e)) out.push(e);
        const last = members[members.length - 1];
        if (isLast || out.length >= limit || !last) break;
        cursor = last;
        bound = Math.max(last.score, now);
      }
      return out.sort((a, b) => a.expiresAt - b.expiresAt || byKey(a.key, b.key)).slice(0, limit);
    });
  }

  /**
   * The first `want` index members after `cursor` (same score, later key) or scored above `bound`,
   * in (score, key) order; `isLast` when there are no more.
   */
  async #membersAfter(
    c: Client,
    indexKey: string,
    { cursor, bound, now, want }: { cursor: Member | null; bound: number; now: number; want: number },
  ): Promise<{ members: Member[]; isLast: boolean }> {
    const found: Member[] = [];
    if (cursor && cursor.score > now) {
      for (const key of await c.zrangebyscore(indexKey, String(cursor.score), String(cursor.score))) {
        if (key > cursor.key) found.push({ key, score: cursor.score });
      }
    }
    let isFull = false;
    if (found.length <= want) {
      const flat = await c.zrangebyscore(indexKey, `(${bound}`, '+inf', 'WITHSCORES', 'LIMIT', 0, want);
      const later: Member[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) later.push({ key: flat[i]!, score: Number(flat[i + 1]) });
      isFull = later.length === want;
      const cut = isFull ? flat[flat.length - 1]! : null;
      // A full page may cut a run of equal scores where byte order put the cut: take the whole run.
      for (const m of later) if (!isFull || m.score !== Number(cut)) found.push(m);
      if (cut !== null) for (const key of await c.zrangebyscore(indexKey, cut, cut)) found.push({ key, score: Number(cut) });
    }
    found.sort((a, b) => a.score - b.score || byKey(a.key, b.key));
    return { members: found.slice(0, want), isLast: !isFull && found.length <= want };
  }

  /** The entries of `keys` whose value key exists (live or not), read MAX_ITEMS_PER_COMMAND at a time. */
  async #read(c: Client, appId: string, namespace: string, keys: string[]): Promise<StoredEntry[]> {
    const indexKey = this.#keys.entryIndex(appId, namespace);
    const out: StoredEntry[] = [];
    for (const chunk of chunked(keys)) {
      const reply = await READ_ENTRIES.run(c, [indexKey, ...chunk.map((key) => this.#keys.entry(appId, namespace, key))], chunk);
      out.push(...readEntries(reply));
    }
    return out;
  }

  async delete(appId: string, namespace: string, key: string, now: number): Promise<boolean> {
    const keys = [this.#keys.entry(appId, namespace, key), this.#keys.entryIndex(appId, namespace)];
    return this.#call(async (c) => (await TAKE_ENTRY.run(c, keys, [key, String(now)])) !== null);
  }
}
