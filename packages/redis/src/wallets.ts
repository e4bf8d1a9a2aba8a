import { createHash } from 'node:crypto';
import type { LimitPolicy } from '@latchkey/core';
import { type Client, chunked, MAX_ITEMS_PER_COMMAND, untilSnapshotHolds } from './client.js';
import { asArray, asString } from './codec.js';
import type { KeyLayout } from './keys.js';
import {
  CREATE_SESSION,
  CREATE_SESSION_BY_DIGEST,
  DELETE_WALLET,
  DELETE_WALLET_CHUNK,
  LIST_WALLET,
  SCAN_WALLET,
} from './scripts/index.js';

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

/** What CREATE_SESSION_BY_DIGEST's `index_digest` computes in Lua: SHA-1 over `<byte length>:<id>` for each id in order. */
export function indexDigest(ids: readonly string[]): string {
  const hash = createHash('sha1');
  for (const id of ids) hash.update(`${Buffer.byteLength(id)}:${id}`);
  return hash.digest('hex');
}

/** createSession's input as the wallet scripts take it. */
export interface WalletCreate {
  appId: string;
  subject: string;
  id: string;
  createdAt: number;
  limit: number;
  policy: LimitPolicy;
  now: number;
  /** The new session's TTL, milliseconds. */
  ttl: number;
  /** The new session's hash, field/value pairs. */
  fields: string[];
}

/**
 * The wallet operations of one store instance: createSession, listWalletSessions and
 * deleteWalletSessions, queued per wallet.
 *
 * A wallet's index normally holds at most its limit of live sessions plus a few expired ones, and
 * then each operation is one snapshot script given every id (see scripts/wallets.ts). An index may hold
 * more ids than one call may carry (MAX_ITEMS_PER_COMMAND): a limit of up to 1000, or many
 * sessions that expired within `expiredRetentionMs` and await cleanup. Then:
 * - create reads the index in chunks (pruning ids whose hash Redis dropped), counts the live
 *   sessions, and runs CREATE_SESSION_BY_DIGEST, which proves by a digest that the index is as read
 *   and is given only the sessions to evict. It stays atomic.
 * - list reads the live sessions chunk by chunk: each chunk is atomic, the list as a whole is not.
 * - delete deletes chunk by chunk: every session present when the call began is deleted; one
 *   created meanwhile may survive, as if it had been created just after.
 */
export class WalletSnapshots {
  readonly #keys: KeyLayout;
  /** How long a call waits for the one ahead of it on the same wallet: the store's `commandTimeoutMs`. */
  readonly #queueWaitMs: number;
  readonly #queues = new Map<string, Promise<void>>();

  constructor(keys: KeyLayout, queueWaitMs: number) {
    this.#keys = keys;
    this.#queueWaitMs = queueWaitMs;
  }

  /** Returns {'duplicate'} | {'limit'} | {'ok', {evicted hash...}}. */
  async create(c: Client, input: WalletCreate): Promise<unknown[]> {
    const { appId, subject, id, createdAt, limit, policy, now, ttl, fields } = input;
    const sessionKey = this.#keys.session(appId, id);
    // Sessions evicted by rounds that had to stop short of the insert (CREATE_SESSION_BY_DIGEST).
    const evictedBefore: unknown[] = [];
    const reply = await this.#run(c, appId, subject, async (walletKey, ids) => {
      if (ids.length <= MAX_ITEMS_PER_COMMAND) {
        return CREATE_SESSION.run(
          c,
          [walletKey, ...ids.map((i) => this.#keys.session(appId, i)), sessionKey],
          [String(ids.length), ...ids, id, String(createdAt), String(limit), policy, String(now), String(ttl), ...fields],
        );
      }
      const { live, kept } = await this.#scan(c, appId, walletKey, ids, now);
      const evict =
        policy === 'evict-oldest' ? live.slice(0, Math.min(Math.max(live.length - limit + 1, 0), MAX_ITEMS_PER_COMMAND)) : [];
      const round = asArray(
        await CREATE_SESSION_BY_DIGEST.run(
          c,
          [walletKey, sessionKey, ...evict.map((i) => this.#keys.session(appId, i))],
          [
            indexDigest(kept),
            String(live.length),
            id,
            String(createdAt),
            String(limit),
            policy,
            String(ttl),
            String(now),
            String(evict.length),
            ...evict,
            ...fields,
          ],
        ),
        'create',
      );
      if (round[0] !== 'evicted') return round;
      evictedBefore.push(...asArray(round[1], 'evicted'));
      return ['retry'];
    });
    if (reply[0] !== 'ok') return reply;
    return ['ok', [...evictedBefore, ...asArray(reply[1], 'evicted')]];
  }

  /** Returns {'ok', {live hash...}} in index order (createdAt, then id). */
  async list(c: Client, appId: string, subject: string, now: number): Promise<unknown[]> {
    return this.#run(c, appId, subject, async (walletKey, ids) => {
      if (ids.length <= MAX_ITEMS_PER_COMMAND) {
        return LIST_WALLET.run(
          c,
          [walletKey, ...ids.map((id) => this.#keys.session(appId, id))],
          [String(ids.length), ...ids, String(now)],
        );
      }
      const hashes: unknown[] = [];
      for (const chunk of chunked(ids)) {
        const [live] = asArray(
          await SCAN_WALLET.run(c, this.#chunkKeys(appId, walletKey, chunk), [String(now), 'hashes', ...chunk]),
          'scan',
        );
        hashes.push(...asArray(live, 'sessions'));
      }
      return ['ok', hashes];
    });
  }

  /** Returns {'ok', {live hash...}, {removed id...}}. */
  async delete(c: Client, appId: string, subject: string, options: { exceptId?: string; now: number }): Promise<unknown[]> {
    const tail = [options.exceptId ?? '', String(options.now)];
    return this.#run(c, appId, subject, async (walletKey, ids) => {
      if (ids.length <= MAX_ITEMS_PER_COMMAND) {
        return DELETE_WALLET.run(c, this.#chunkKeys(appId, walletKey, ids), [String(ids.length), ...ids, ...tail]);
      }
      const live: unknown[] = [];
      const removed: unknown[] = [];
      for (const chunk of chunked(ids)) {
        const reply = asArray(
          await DELETE_WALLET_CHUNK.run(c, this.#chunkKeys(appId, walletKey, chunk), [String(chunk.length), ...chunk, ...tail]),
          'delete',
        );
        live.push(...asArray(reply[1], 'sessions'));
        removed.push(...asArray(reply[2], 'removed ids'));
      }
      return ['ok', live, removed];
    });
  }

  /**
   * The live ids of a large wallet in index order, and the ids the index keeps once those whose
   * hash Redis dropped are pruned: what CREATE_SESSION_BY_DIGEST's digest will see if nothing else
   * changes.
   */
  async #scan(
    c: Client,
    appId: string,
    walletKey: string,
    ids: string[],
    now: number,
  ): Promise<{ live: string[]; kept: string[] }> {
    const live: string[] = [];
    const pruned = new Set<string>();
    for (const chunk of chunked(ids)) {
      const [found, gone] = asArray(
        await SCAN_WALLET.run(c, this.#chunkKeys(appId, walletKey, chunk), [String(now), 'ids', ...chunk]),
        'scan',
      );
      for (const id of asArray(found, 'live ids')) live.push(asString(id, 'id'));
      for (const id of asArray(gone, 'pruned ids')) pruned.add(asString(id, 'id'));
    }
    return { live, kept: ids.filter((id) => !pruned.has(id)) };
  }

  #chunkKeys(appId: string, walletKey: string, ids: readonly string[]): string[] {
    return [walletKey, ...ids.map((id) => this.#keys.session(appId, id))];
  }

  /**
   * Runs a wallet snapshot script: reads the wallet's ids, hands them to `attempt` (which runs the
   * script with those ids' keys), and repeats while the script answers 'retry' because the index
   * changed in between. Operations on one wallet from this instance run one at a time, so they do
   * not make each other retry; only other instances can.
   */
  async #run(
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
    const previous = this.#queues.get(key);
    const result = (previous ? waitAtMost(previous, this.#queueWaitMs) : Promise.resolve()).then(run);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return result;
  }
}
