import { describe, expect, it } from 'vitest';
import type { Store } from '../store/contract.js';
import { MIN, type SuiteContext } from './fixtures.js';

export function entryCases<S extends Store>({ harness, opened, setup }: SuiteContext<S>): void {
  describe('entries (nonces, replay caches, keys)', () => {
    const T = Date.UTC(2026, 0, 1, 12);
    const entry = (key: string, value: string, expiresAt = T + MIN) => ({ key, value, expiresAt });

    it('keeps an entry live until exactly its expiry', async () => {
      const { store } = await setup();
      await store.putEntry('default', 'nonce', entry('n1', 'v1'), T);
      await store.putEntry('default', 'nonce', entry('n2', 'v2'), T);
      expect(await store.listEntries('default', 'nonce', T + MIN - 1)).toEqual([entry('n1', 'v1'), entry('n2', 'v2')]);
      expect(await store.listEntries('default', 'nonce', T + MIN)).toEqual([]);
      expect(await store.takeEntry('default', 'nonce', 'n1', T + MIN)).toBeNull();
      expect(await store.takeEntry('default', 'nonce', 'n2', T + MIN - 1)).toBe('v2');
      expect(await store.deleteEntry('default', 'nonce', 'n2', T)).toBe(false);
    });

    it('replaces an entry on put, and deletes one', async () => {
      const { store } = await setup();
      await store.putEntry('default', 'keys', entry('k', 'old'), T);
      await store.putEntry('default', 'keys', entry('k', 'new', T + 2 * MIN), T);
      expect(await store.listEntries('default', 'keys', T + MIN)).toEqual([entry('k', 'new', T + 2 * MIN)]);
      expect(await store.deleteEntry('default', 'keys', 'k', T)).toBe(true);
      expect(await store.listEntries('default', 'keys', T)).toEqual([]);
    });

    it('reads one live entry by key: absent, expired at now, and other apps and namespaces answer null', async () => {
      const { store } = await setup();
      await store.putEntry('default', 'keys', entry('k1', 'v1'), T);
      await store.putEntry('default', 'keys', entry('k2', 'v2', T + 2 * MIN), T);
      expect(await store.getEntry('default', 'keys', 'k1', T)).toBe('v1');
      expect(await store.getEntry('default', 'keys', 'k1', T + MIN - 1)).toBe('v1');
      expect(await store.getEntry('default', 'keys', 'k2', T + MIN)).toBe('v2');
      expect(await store.getEntry('default', 'keys', 'absent', T)).toBeNull();
      // Expired at exactly its expiresAt, whether or not the backend still holds it.
      expect(await store.getEntry('default', 'keys', 'k1', T + MIN)).toBeNull();
      expect(await store.getEntry('default', 'keys', 'k1', T + 5 * MIN)).toBeNull();
      expect(await store.getEntry('shop', 'keys', 'k1', T)).toBeNull();
      expect(await store.getEntry('default', 'other', 'k1', T)).toBeNull();
      // A read, not a take: the entry is still there, for every reader, as it was.
      expect(await store.getEntry('default', 'keys', 'k1', T)).toBe('v1');
      expect(await store.listEntries('default', 'keys', T)).toEqual([entry('k1', 'v1'), entry('k2', 'v2', T + 2 * MIN)]);
      await store.putEntry('default', 'keys', entry('k1', 'v1b', T + 3 * MIN), T);
      expect(await store.getEntry('default', 'keys', 'k1', T + 2 * MIN)).toBe('v1b');
      expect(await store.deleteEntry('default', 'keys', 'k1', T)).toBe(true);
      expect(await store.getEntry('default', 'keys', 'k1', T)).toBeNull();
    });

    it('hands a taken value to exactly one of 50 concurrent takers', async () => {
      const { store } = await setup();
      await store.putEntry('default', 'nonce', entry('once', 'secretless'), T);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.takeEntry('default', 'nonce', 'once', T)));
      expect(results.filter((r) => r === 'secretless')).toHaveLength(1);
      expect(results.filter((r) => r === null)).toHaveLength(49);
    });

    it('lets exactly one of 50 concurrent adds win, and a new add after expiry', async () => {
      const { store } = await setup();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.addEntry('default', 'replay', entry('sig', String(i)), T)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.addEntry('default', 'replay', entry('sig', 'again', T + 2 * MIN), T + MIN - 1)).toBe(false);
      expect(await store.addEntry('default', 'replay', entry('sig', 'again', T + 2 * MIN), T + MIN)).toBe(true);
      expect(await store.listEntries('default', 'replay', T + MIN)).toEqual([entry('sig', 'again', T + 2 * MIN)]);
    });

    it('counts hits in a window: 1..N under concurrency, starting over once the window ends', async () => {
      const { store } = await setup();
      const counts = await Promise.all(
        Array.from({ length: 30 }, () => store.incrementEntry('default', 'rate', 'ip:1', T + MIN, T)),
      );
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(await store.incrementEntry('default', 'rate', 'ip:1', T + 5 * MIN, T + MIN - 1)).toBe(31);
      expect(await store.listEntries('default', 'rate', T)).toEqual([entry('ip:1', '31', T + MIN)]);
      expect(await store.incrementEntry('default', 'rate', 'ip:1', T + 2 * MIN, T + MIN)).toBe(1);
      expect(await store.listEntries('default', 'rate', T + MIN)).toEqual([entry('ip:1', '1', T + 2 * MIN)]);
      expect(await store.incrementEntry('shop', 'rate', 'ip:1', T + MIN, T)).toBe(1);
    });

    it('scans a growing namespace page by page, in expiry order, live entries only', async () => {
      const { store } = await setup();
      for (let i = 0; i < 25; i++)
        await store.putEntry('default', 'revoked', entry(`s${String(i).padStart(2, '0')}`, 'r', T + 1000 + (i % 5)), T);
      await store.putEntry('default', 'revoked', entry('gone', 'r', T + 500), T);
      const seen: string[] = [];
      let cursor: { expiringAfter: number; afterKey?: string } = { expiringAfter: 0 };
      for (;;) {
        const page = await store.scanEntries('default', 'revoked', { ...cursor, limit: 7, now: T + 600 });
        expect(page.length).toBeLessThanOrEqual(7);
        seen.push(...page.map((e) => e.key));
        const last = page[page.length - 1];
        if (!last) break;
        cursor = { expiringAfter: last.expiresAt, afterKey: last.key };
      }
      const all = await store.scanEntries('default', 'revoked', { expiringAfter: 0, limit: 1000, now: T + 600 });
      // The (expiresAt, key) cursor cuts ties exactly: every live entry once, in order.
      expect(seen).toEqual(all.map((e) => e.key));
      expect(all.map((e) => e.expiresAt)).toEqual([...all.map((e) => e.expiresAt)].sort((a, b) => a - b));
      expect(all.map((e) => e.key)).not.toContain('gone');
      expect(all).toHaveLength(25);
      expect(all.slice(0, 5).map((e) => e.key)).toEqual(['s00', 's05', 's10', 's15', 's20']);
      expect(await store.scanEntries('default', 'revoked', { expiringAfter: T + 1003, limit: 1000, now: T })).toHaveLength(5);
    });

    it('keeps apps and namespaces apart', async () => {
      const { store } = await setup();
      await store.putEntry('default', 'nonce', entry('n', 'a'), T);
      expect(await store.takeEntry('shop', 'nonce', 'n', T)).toBeNull();
      expect(await store.takeEntry('default', 'other', 'n', T)).toBeNull();
      expect(await store.listEntries('shop', 'nonce', T)).toEqual([]);
      expect(await store.takeEntry('default', 'nonce', 'n', T)).toBe('a');
    });

    it('survives a reopen', async () => {
      const { store } = await setup();
      await store.putEntry('default', 'keys', entry('k1', '{"kid":"k1"}'), T);
      const reopened = await harness.reopen(store as S);
      opened.push(reopened);
      expect(await reopened.listEntries('default', 'keys', T)).toEqual([entry('k1', '{"kid":"k1"}')]);
    });
  });
}
