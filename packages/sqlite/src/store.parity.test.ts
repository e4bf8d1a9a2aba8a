import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type AuditDraft, MemoryStore, type SessionRecord, type StatsCounter, type Store } from '@latchkey/core';

import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from './store.js';

/**
 * MemoryStore is the reference. Random operation sequences run against both stores and every
 * answer must be equal, which checks ordering, expiry boundaries and copies beyond the cases the
 * conformance suite names.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const APPS = ['app-a', 'app-b'];
const SUBJECTS = ['eip155:1:0xA', 'eip155:1:0xB', 'solana:mainnet:C'];
const COUNTERS: StatsCounter[] = ['created', 'refreshed', 'revoked', 'expired'];
const NAMESPACES = ['nonce', 'keys', 'rate'];
/** Only counters and decimal values live here: `incrementEntry` over any other value is a caller bug. */
const COUNTER_NAMESPACE = 'rate';
// U+1F600 and U+E000 sort one way by UTF-16 code units (JavaScript) and the other by UTF-8 bytes (SQLite).
const ENTRY_KEYS = ['a', '\uE000', '\u{1F600}', 'x'.repeat(256)];

async function runScenario(seed: number, steps: number): Promise<void> {
  const random = prng(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-sqlite-parity-'));
  dirs.push(dir);
  const sqlite = new SqliteStore({ path: path.join(dir, 'parity.db') });
  const memory = new MemoryStore();

  let now = Date.UTC(2026, 0, 1);
  // Expiries are made distinct so "soonest expiry first" has one answer (the stores break ties differently).
  let unique = 0;
  const expiry = (): number => {
    unique += 1;
    return now + int(40) * 1000 + unique;
  };
  const known: { appId: string; id: string }[] = [];
  const hashes = new Set<string>(['never-seen']);
  const written: { appId: string; namespace: string; key: string; expiresAt: number }[] = [];
  // Half the time an entry written before, at `now` or exactly at (or just before) its expiry, so the
  // boundaries are met far more often than a random walk of `now` would meet them. The stores keep no
  // clock of their own for entries, so a moment other than `now` is a fair question.
  const entryTarget = (namespaces = NAMESPACES): { appId: string; namespace: string; key: string; at: number } => {
    const candidates = written.filter((w) => namespaces.includes(w.namespace));
    if (candidates.length === 0 || random() < 0.5)
      return { appId: pick(APPS), namespace: pick(namespaces), key: pick(ENTRY_KEYS), at: now };
    const { appId, namespace, key, expiresAt } = pick(candidates);
    return { appId, namespace, key, at: pick([now, expiresAt - 1, expiresAt]) };
  };

  // Every random choice is made before `both`, so the two stores get the same arguments.
  const both = async <T>(label: string, op: (store: Store) => Promise<T>): Promise<void> => {
    const [fromMemory, fromSqlite] = [await op(memory), await op(sqlite)];
    expect(fromSqlite, `seed ${seed}: ${label}`).toEqual(fromMemory);
  };

  for (let step = 0; step < steps; step += 1) {
    now += int(4) * 1000;
    const target = known.length > 0 && random() < 0.9 ? pick(known) : { appId: pick(APPS), id: `${step}`.padStart(32, 'f') };
    switch (int(24)) {
      case 0:
      case 1: {
        const idle = expiry();
        const record: SessionRecord = {
          id: `${step}`.padStart(32, '0'),
          appId: pick(APPS),
          subject: pick(SUBJECTS),
          chainType: 'eip155',
          userId: random() < 0.5 ? null : 'user',
          authMethod: pick(['siwe', 'siws', 'api']),
          scope: pick(['read-only', 'read-write']),
          roles: ['member'],
          device: { userAgent: 'ua' },
          createdAt: now - int(3) * 1000,
          lastActiveAt: now,
          idleExpiresAt: idle,
          absoluteExpiresAt: random() < 0.5 ? idle + 20_000 : expiry(),
          tokenHash: `t${step}`,
          refresh: { hash: `r${step}`, generation: 0, previousHash: null, rotatedAt: null, successor: null, retired: [] },
          data: null,
        };
        hashes.add(record.tokenHash).add(record.refresh.hash);
        known.push({ appId: record.appId, id: record.id });
        const input = { record, limit: 1 + int(3), policy: pick(['evict-oldest', 'reject'] as const), now };
        await both('createSession', (s) => s.createSession(structuredClone(input)));
        break;
      }
      case 2: {
        const input = {
          ...target,
          tokenHash: pick([...hashes]),
          now,
          activeBefore: now - int(3) * 1000,
          idleExpiresAt: expiry(),
        };
        await both('validateSession', (s) => s.validateSession(input));
        break;
      }
      case 3:
      case 4: {
        const next = { tokenHash: `t${step}x`, refreshHash: `r${step}x`, successor: `sealed${step}`, idleExpiresAt: expiry() };
        hashes.add(next.tokenHash).add(next.refreshHash);
        const input = { ...target, presentedHash: pick([...hashes]), now, graceMs: 2000, retiredLimit: 2, next };
        await both('rotateRefresh', (s) => s.rotateRefresh(input));
        break;
      }
      case 5: {
        const data = random() < 0.8 ? `v1.k.${step}` : null;
        await both('setSessionData', (s) => s.setSessionData(target.appId, target.id, data, now));
        break;
      }
      case 6:
        await both('deleteSession', (s) => s.deleteSession(target.appId, target.id));
        break;
      case 7: {
        const [appId, subject] = [pick(APPS), pick(SUBJECTS)];
        const options = random() < 0.5 ? { now } : { now, exceptId: target.id };
        await both('deleteWalletSessions', (s) => s.deleteWalletSessions(appId, subject, options));
        break;
      }
      case 8: {
        const limit = pick([0, 1, 2, 3, Number.POSITIVE_INFINITY]);
        await both('cleanupExpired', (s) => s.cleanupExpired(now, limit));
        break;
      }
      case 9: {
        const drafts: AuditDraft[] = Array.from({ length: int(3) }, (_, i) => ({
          at: now + i,
          type: 'session_created',
          sessionId: random() < 0.5 ? null : target.id,
          subject: random() < 0.3 ? null : pick(SUBJECTS),
          details: { step, ok: random() < 0.5, note: random() < 0.5 ? null : 'x' },
        }));
        await both('appendAudit', (s) => s.appendAudit(target.appId, drafts));
        break;
      }
      case 10: {
        const query = {
          limit: pick([0, 1, 2, 5, Number.POSITIVE_INFINITY]),
          ...(random() < 0.5 ? { subject: pick(SUBJECTS) } : {}),
          ...(random() < 0.5 ? { since: now - int(20) * 1000 } : {}),
          ...(random() < 0.5 ? { until: now - int(10) * 1000 } : {}),
          ...(random() < 0.5 ? { afterSeq: int(8) } : {}),
        };
        const appId = pick(APPS);
        await both('queryAudit', (s) => s.queryAudit(appId, query));
        break;
      }
      case 11: {
        const [appId, deltas] = [pick(APPS), { [pick(COUNTERS)]: 1 + int(3) }];
        await both('incrementCounters', (s) => s.incrementCounters(appId, deltas));
        break;
      }
      case 12:
      case 13:
      case 14: {
        // Half short-lived (from already expired through exactly `at`), half long enough to be met again.
        const { appId, namespace, key, at } = entryTarget();
        const lifetime = random() < 0.5 ? int(8) - 1 : int(300);
        const value = namespace === COUNTER_NAMESPACE ? String(int(5)) : `e${step}`;
        const entry = { key, value, expiresAt: at + lifetime * 1000 };
        written.push({ appId, namespace, key, expiresAt: entry.expiresAt });
        if (random() < 0.5) await both('putEntry', (s) => s.putEntry(appId, namespace, { ...entry }, at));
        else await both('addEntry', (s) => s.addEntry(appId, namespace, { ...entry }, at));
        break;
      }
      case 15:
      case 16: {
        const { appId, namespace, key, at } = entryTarget();
        await both('takeEntry', (s) => s.takeEntry(appId, namespace, key, at));
        break;
      }
      case 17:
      case 18: {
        const { appId, namespace, key, at } = entryTarget();
        await both('deleteEntry', (s) => s.deleteEntry(appId, namespace, key, at));
        break;
      }
      case 19: {
        // A list that the caller mutates must not change what either store holds.
        const { appId, namespace, at } = entryTarget();
        await both('listEntries (mutated after)', async (s) => {
          const listed = await s.listEntries(appId, namespace, at);
          const answer = structuredClone(listed);
          for (const e of listed) e.value = 'mutated';
          return answer;
        });
        break;
      }
      case 20:
      case 21: {
        // Counters: a fresh window (already over through long), or one more hit in a live one.
        const { appId, namespace, key, at } = entryTarget([COUNTER_NAMESPACE]);
        const lifetime = random() < 0.5 ? int(8) - 1 : int(300);
        const expiresAt = at + lifetime * 1000;
        written.push({ appId, namespace, key, expiresAt });
        await both('incrementEntry', (s) => s.incrementEntry(appId, namespace, key, expiresAt, at));
        break;
      }
      default: {
        const appId = pick(APPS);
        await both('readStats', (s) => s.readStats(appId, now));
      }
    }
    const subject = pick(SUBJECTS);
    await both('listWalletSessions', (s) => s.listWalletSessions(target.appId, subject, now));
    // Every stored record, live or not, so a divergence is caught at the step that caused it.
    for (const { appId, id } of known) await both(`getSession after step ${step}`, (s) => s.getSession(appId, id));
    for (const appId of APPS) {
      for (const namespace of NAMESPACES) {
        await both(`listEntries after step ${step}`, (s) => s.listEntries(appId, namespace, now));
        // A cursor often on a written expiry, so the runs of equal expiries (and their key order) are met.
        const expiries = written.filter((w) => w.appId === appId && w.namespace === namespace).map((w) => w.expiresAt);
        const page = {
          expiringAfter: expiries.length > 0 && random() < 0.7 ? pick(expiries) : pick([0, now]),
          ...(random() < 0.5 ? { afterKey: pick(ENTRY_KEYS) } : {}),
          limit: pick([1, 2, 3, 1000]),
          now,
        };
        await both(`scanEntries after step ${step}`, (s) => s.scanEntries(appId, namespace, page));
      }
    }
  }
  await sqlite.close();
}

describe('SqliteStore answers exactly as MemoryStore', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`random scenario, seed ${seed}`, () => runScenario(seed, 300));
  }
});
