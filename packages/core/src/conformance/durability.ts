import { describe, expect, it } from 'vitest';
import { Latchkey } from '../session/engine.js';
import type { Store } from '../store/contract.js';
import { ALICE, MIN, rejection, SETTINGS, SOL, type SuiteContext } from './fixtures.js';

export function durabilityCases<S extends Store>({ harness, opened, setup }: SuiteContext<S>): void {
  describe('durability and failure', () => {
    it('survives a reopen: a second instance over the same data sees the session', async () => {
      const { engine, store, clock } = await setup();
      const a = await engine.createSession({ account: SOL, authMethod: 'siws' });
      const reopened = await harness.reopen(store as S);
      opened.push(reopened);
      const engine2 = new Latchkey({ store: reopened, clock, defaults: SETTINGS, cleanupIntervalSeconds: 0 });
      const result = await engine2.validateSession(a.token);
      expect(result.valid && result.session.account).toBe(SOL);
      const b = await engine2.refreshSession(a.refreshToken);
      expect((await engine.validateSession(b.token)).valid).toBe(true);
    });

    it('fails closed when the store cannot answer', async () => {
      const store = await harness.openUnavailable();
      opened.push(store);
      const engine = new Latchkey({ store, defaults: SETTINGS, cleanupIntervalSeconds: 0 });
      const { engine: live } = await setup();
      const a = await live.createSession({ account: ALICE, authMethod: 'siwe' });
      expect(await engine.validateSession(a.token)).toEqual({ valid: false, code: 'STORE_UNAVAILABLE' });
      expect(await engine.getUserFromToken(a.token)).toBeNull();
      expect(await engine.hasPermission(a.token, 'read:sessions')).toBe(false);
      expect((await rejection(engine.createSession({ account: ALICE, authMethod: 'siwe' }))).code).toBe('STORE_UNAVAILABLE');
      expect((await rejection(engine.refreshSession(a.refreshToken))).code).toBe('STORE_UNAVAILABLE');
      expect((await rejection(engine.destroySession(a.token))).code).toBe('STORE_UNAVAILABLE');
      await expect(store.ping()).rejects.toThrow();
      await expect(store.takeEntry('default', 'nonce', 'n', Date.now())).rejects.toThrow();
      await expect(
        store.addEntry('default', 'replay', { key: 'k', value: 'v', expiresAt: Date.now() + MIN }, Date.now()),
      ).rejects.toThrow();
    });
  });
}
