import { LatchkeyError, type StoredEntry } from '@latchkey/core';
import { type Call, untilSnapshotHolds } from './client.js';
import { asString, decodeEntries, MalformedReplyError } from './codec.js';
import type { KeyLayout } from './keys.js';
import { ADD_ENTRY, INCREMENT_ENTRY, LIST_ENTRIES, PUT_ENTRY, TAKE_ENTRY } from './scripts.js';

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
   * Two round trips: the index's members scored above `now`, then the list script, which proves
   * they are still exactly the live ones and reads their values in the same atomic step (a key
   * rotation that puts a new key and deletes the old one never shows an empty list).
   */
  async list(appId: string, namespace: string, now: number): Promise<StoredEntry[]> {
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

  async delete(appId: string, namespace: string, key: string, now: number): Promise<boolean> {
    const keys = [this.#keys.entry(appId, namespace, key), this.#keys.entryIndex(appId, namespace)];
    return this.#call(async (c) => (await TAKE_ENTRY.run(c, keys, [key, String(now)])) !== null);
  }
}
