import { type AuditDraft, type AuditEntry, type AuditHead, linkAuditEntries } from '@latchkey/core';

/** Writes linked entries if the stored head is still `expected`; returns null, or the head found instead. */
export type AuditWriter = (expected: AuditHead, entries: AuditEntry[]) => Promise<AuditHead | null>;

interface Waiting {
  drafts: AuditDraft[];
  resolve(entries: AuditEntry[]): void;
  reject(error: unknown): void;
}

/** Drafts per compare-and-set: big enough to absorb a burst, small enough for one script call. */
const MAX_BATCH_DRAFTS = 500;
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
