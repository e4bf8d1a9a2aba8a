import { isLive, type SessionRecord } from '@latchkey/core';
import { type Client, READ_CHUNK } from './client.js';
import { asArray, asString, decodeSession } from './codec.js';
import { type KeyLayout, parseAppSessionMember } from './keys.js';
import { CLEANUP_SESSION } from './scripts/index.js';

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
 * `cleanupExpired` for one store's keys.
 *
 * Picks exactly the sessions the contract names (earliest expiry first, ties by appId then id)
 * although the app indexes' scores may lag: a touch inside the validation script cannot reach
 * the index's slot. A score is a lower bound of its session's expiry (expiries only move later),
 * so every expired session is among the entries scored `<= now`, and once `limit` expired ones
 * are known, no entry scored above the limit-th expiry can displace them. Then each chosen
 * session is deleted by a script in its wallet's slot. Sessions removed before a failure are
 * still returned, so that the engine audits them.
 */
export class SessionCleanup {
  readonly #keys: KeyLayout;

  constructor(keys: KeyLayout) {
    this.#keys = keys;
  }

  /** Deletes and returns at most `limit` sessions expired at `now`, earliest expiry first. */
  async sweep(c: Client, now: number, limit: number): Promise<SessionRecord[]> {
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
}
