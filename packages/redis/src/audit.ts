import {
  type AuditDraft,
  type AuditEntry,
  type AuditHead,
  type AuditQuery,
  EMPTY_AUDIT_HEAD,
  linkAuditEntries,
} from '@latchkey/core';
import { type Call, type Client, chunked, MAX_ITEMS_PER_COMMAND, READ_CHUNK } from './client.js';
import { asArray, asString } from './codec.js';
import type { KeyLayout } from './keys.js';
import { APPEND_AUDIT } from './scripts/index.js';

/** Writes linked entries if the stored head is still `expected`; returns null, or the head found instead. */
export type AuditWriter = (expected: AuditHead, entries: AuditEntry[]) => Promise<AuditHead | null>;

interface Waiting {
  drafts: AuditDraft[];
  resolve(entries: AuditEntry[]): void;
  reject(error: unknown): void;
}

/**
 * Drafts per compare-and-set: big enough to absorb a burst, small enough for one script call (one
 * subject key per draft at most, so at most MAX_ITEMS_PER_COMMAND keys besides the head and entries).
 */
const MAX_BATCH_DRAFTS = MAX_ITEMS_PER_COMMAND;
/** Compare-and-set attempts before giving up; each failure means another writer moved the head. */
const MAX_ATTEMPTS = 50;

/**
 * One app's audit appends from this store instance. Linking needs SHA-256, which Redis's Lua lacks,
 * so entries are linked here and written by a compare-and-set on the chain head. Appends from this
 * instance queue behind the one in flight and go together in the next batch, so a burst costs a
 * few round trips instead of a storm of failed compare-and-sets; appends from other instances or
 * processes are kept apart by the compare-and-set itself.
 */
export class AuditAppender {
  readonly #appId: string;
  readonly #readHead: () => Promise<AuditHead>;
  readonly #write: AuditWriter;
  #waiting: Waiting[] = [];
  #draining = false;
  /** The head after this instance's last append: a guess that saves a read while nobody else writes. */
  #head: AuditHead | null = null;

  constructor(appId: string, readHead: () => Promise<AuditHead>, write: AuditWriter) {
    this.#appId = appId;
    this.#readHead = readHead;
    this.#write = write;
  }

  append(drafts: AuditDraft[]): Promise<AuditEntry[]> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ drafts, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#waiting.length > 0) {
        let size = 0;
        let take = 0;
        while (take < this.#waiting.length && (take === 0 || size + this.#waiting[take]!.drafts.length <= MAX_BATCH_DRAFTS)) {
          size += this.#waiting[take]!.drafts.length;
          take += 1;
        }
        const batch = this.#waiting.splice(0, take);
        try {
          const linked = await this.#appendLinked(batch.flatMap((w) => w.drafts));
          let offset = 0;
          for (const w of batch) {
            w.resolve(linked.slice(offset, offset + w.drafts.length));
            offset += w.drafts.length;
          }
        } catch (error) {
          this.#head = null;
          for (const w of batch) w.reject(error);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  async #appendLinked(drafts: AuditDraft[]): Promise<AuditEntry[]> {
    let head = this.#head ?? (await this.#readHead());
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const linked = linkAuditEntries(this.#appId, head, drafts);
      const found = await this.#write(head, linked);
      if (found === null) {
        const last = linked[linked.length - 1]!;
        this.#head = { seq: last.seq, hash: last.hash };
        return linked;
      }
      head = found;
      // Several writers racing on one chain: step aside briefly so one of them wins outright.
      if (attempt >= 2) await new Promise((r) => setTimeout(r, Math.random() * 2 ** Math.min(attempt, 6)));
    }
    throw new Error(`audit chain head of app ${this.#appId} kept moving; gave up after ${MAX_ATTEMPTS} attempts`);
  }
}

/**
 * The audit chains of one store's keys: appends go through one AuditAppender per app (linked in
 * Node, written by the `appendAudit` compare-and-set script), queries read the entries back.
 */
export class AuditLog {
  readonly #keys: KeyLayout;
  readonly #call: Call;
  readonly #ready: () => Promise<Client>;
  readonly #appenders = new Map<string, AuditAppender>();

  /** `call` runs a store method (failing as the store does); `ready` is the client for the appenders' own reads and writes. */
  constructor(keys: KeyLayout, call: Call, ready: () => Promise<Client>) {
    this.#keys = keys;
    this.#call = call;
    this.#ready = ready;
  }

  async append(appId: string, drafts: AuditDraft[]): Promise<AuditEntry[]> {
    return this.#call(async () => {
      if (drafts.length === 0) return [];
      let appender = this.#appenders.get(appId);
      if (!appender) {
        appender = new AuditAppender(
          appId,
          () => this.#readHead(appId),
          (expected, entries) => this.#write(appId, expected, entries),
        );
        this.#appenders.set(appId, appender);
      }
      if (drafts.length <= MAX_BATCH_DRAFTS) return appender.append(drafts);
      // A call larger than one batch goes as consecutive batches, each its own compare-and-set:
      // the chain stays one line, but another instance's entries may fall between two batches.
      const linked: AuditEntry[] = [];
      for (const batch of chunked(drafts, MAX_BATCH_DRAFTS)) linked.push(...(await appender.append(batch)));
      return linked;
    });
  }

  async #readHead(appId: string): Promise<AuditHead> {
    const c = await this.#ready();
    const [seq, hash] = await c.hmget(this.#keys.auditHead(appId), 'seq', 'hash');
    return seq && hash ? { seq: Number(seq), hash } : EMPTY_AUDIT_HEAD;
  }

  async #write(appId: string, expected: AuditHead, entries: AuditEntry[]): Promise<AuditHead | null> {
    const c = await this.#ready();
    const subjectKeys: string[] = [];
    const position = new Map<string, number>();
    const payload: [string, string, number][] = [];
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
      payload.push([String(e.seq), JSON.stringify(e), at]);
    }
    const last = entries[entries.length - 1]!;
    const reply = asArray(
      await APPEND_AUDIT.run(
        c,
        [this.#keys.auditHead(appId), this.#keys.auditEntries(appId), ...subjectKeys],
        [String(expected.seq), expected.hash, String(last.seq), last.hash, JSON.stringify(payload)],
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
  async query(appId: string, query: AuditQuery): Promise<AuditEntry[]> {
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
}
