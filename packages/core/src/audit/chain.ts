import { createHash } from 'node:crypto';
import { AUDIT_GENESIS_HASH, type AuditDraft, type AuditEntry } from './entry.js';

/** The position an app's chain has reached: the last entry's seq and hash (0 and genesis when empty). */
export interface AuditHead {
  seq: number;
  hash: string;
}

export const EMPTY_AUDIT_HEAD: AuditHead = Object.freeze({ seq: 0, hash: AUDIT_GENESIS_HASH });

/**
 * SHA-256 (hex) over every field of the entry but `hash`, in a fixed order; details keys sorted.
 * Changing any field, or the link to the entry before, changes the hash.
 */
export function hashAuditEntry(entry: Omit<AuditEntry, 'hash'>): string {
  const details = Object.keys(entry.details)
    .sort()
    .map((k) => [k, entry.details[k]]);
  const body = JSON.stringify([
    'latchkey-audit-v1',
    entry.appId,
    entry.seq,
    entry.at,
    entry.type,
    entry.sessionId,
    entry.subject,
    details,
    entry.prevHash,
  ]);
  return createHash('sha256').update(body).digest('hex');
}

/** Links drafts onto `head` in order. Stores call this inside their atomic append. */
export function linkAuditEntries(appId: string, head: AuditHead, drafts: readonly AuditDraft[]): AuditEntry[] {
  const out: AuditEntry[] = [];
  let { seq, hash } = head;
  for (const d of drafts) {
    seq += 1;
    const unlinked = {
      appId,
      seq,
      at: d.at,
      type: d.type,
      sessionId: d.sessionId,
      subject: d.subject,
      details: { ...d.details },
      prevHash: hash,
    };
    hash = hashAuditEntry(unlinked);
    out.push({ ...unlinked, hash });
  }
  return out;
}

export type AuditVerifyResult =
  | { valid: true; entries: number; head: AuditHead }
  | { valid: false; entries: number; brokenAtSeq: number; reason: 'hash_mismatch' | 'link_mismatch' | 'sequence_gap' };

/**
 * Walks a chain page by page and checks every hash, every link and that seqs run 1, 2, 3… without
 * a gap. An edited entry breaks its own hash; a deleted one breaks the sequence or the next link.
 */
export async function verifyAuditChain(readPage: (afterSeq: number) => Promise<AuditEntry[]>): Promise<AuditVerifyResult> {
  let head: AuditHead = EMPTY_AUDIT_HEAD;
  let count = 0;
  for (;;) {
    const page = await readPage(head.seq);
    if (page.length === 0) return { valid: true, entries: count, head };
    for (const e of page) {
      if (e.seq !== head.seq + 1) return { valid: false, entries: count, brokenAtSeq: head.seq + 1, reason: 'sequence_gap' };
      if (e.prevHash !== head.hash) return { valid: false, entries: count, brokenAtSeq: e.seq, reason: 'link_mismatch' };
      const { hash, ...rest } = e;
      if (hashAuditEntry(rest) !== hash) return { valid: false, entries: count, brokenAtSeq: e.seq, reason: 'hash_mismatch' };
      head = { seq: e.seq, hash };
      count += 1;
    }
  }
}
