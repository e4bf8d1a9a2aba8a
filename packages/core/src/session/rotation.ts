import type { RotateRefreshInput, RotateRefreshResult } from '../store/contract.js';
import { isLive, type SessionRecord } from './record.js';

/**
 * The refresh-rotation decision as a pure function, for stores that can run JavaScript inside
 * their atomic step (memory, SQLite). The Redis store runs the same rules in Lua; the conformance
 * suite holds them equal. `next` is the record to write (absent when nothing changes);
 * on `reused` the caller deletes the session.
 */
export function decideRotation(
  record: SessionRecord | null,
  input: RotateRefreshInput,
): { result: RotateRefreshResult; next?: SessionRecord } {
  if (!record || !isLive(record, input.now)) return { result: { outcome: 'invalid' } };
  const r = record.refresh;
  if (input.presentedHash === r.hash) {
    const retired = r.previousHash === null ? r.retired : [...r.retired, r.previousHash];
    const next: SessionRecord = {
      ...record,
      tokenHash: input.next.tokenHash,
      lastActiveAt: input.now,
      idleExpiresAt: input.next.idleExpiresAt,
      refresh: {
        hash: input.next.refreshHash,
        generation: r.generation + 1,
        previousHash: r.hash,
        rotatedAt: input.now,
        successor: input.next.successor,
        retired: retired.slice(Math.max(0, retired.length - input.retiredLimit)),
      },
    };
    return { result: { outcome: 'rotated', record: next }, next };
  }
  if (input.presentedHash === r.previousHash && r.rotatedAt !== null) {
    if (input.now < r.rotatedAt + input.graceMs) return { result: { outcome: 'grace', record } };
    return { result: { outcome: 'reused', record } };
  }
  if (r.retired.includes(input.presentedHash)) return { result: { outcome: 'reused', record } };
  return { result: { outcome: 'invalid' } };
}
