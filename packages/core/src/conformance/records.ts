import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../audit/entry.js';
import { Latchkey } from '../session/engine.js';
import type { Store } from '../store/contract.js';
import { parseAccount } from '../subject/index.js';
import { parseToken } from '../tokens/secret.js';
import { ALICE, ALICE_CHECKSUMMED, BOB, DATA_KEYS, MIN, rejection, SETTINGS, SOL, type SuiteContext } from './fixtures.js';

export function recordCases<S extends Store>({ harness, setup }: SuiteContext<S>): void {
  describe('cleanup, stats, audit', () => {
    it('cleans up expired sessions and audits each', async () => {
      const { engine, clock, store } = await setup();
      const old = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      await engine.createSession({ account: BOB, authMethod: 'siwe' });
      clock.advance(5 * MIN);
      const fresh = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      clock.advance(5 * MIN);
      expect(await engine.cleanupExpiredSessions()).toEqual({ removed: 2 });
      expect(await store.getSession('default', old.session.id)).toBeNull();
      expect((await engine.validateSession(fresh.token)).valid).toBe(true);
      expect(await engine.cleanupExpiredSessions()).toEqual({ removed: 0 });
      const expired = (await engine.queryAudit({ limit: 1000 })).filter((e) => e.type === 'session_expired');
      expect(expired.map((e) => e.sessionId)).toContain(old.session.id);
      expect(expired).toHaveLength(2);
    });

    it('counts live sessions by chain and auth method, and lifecycle counters', async () => {
      const { engine } = await setup();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      await engine.createSession({ account: BOB, authMethod: 'connect' });
      await engine.createSession({ account: SOL, authMethod: 'siws' });
      await engine.refreshSession(a.refreshToken);
      await engine.validateSession('garbage');
      await engine.destroySession((await engine.createSession({ account: BOB, authMethod: 'api' })).token);
      const stats = await engine.getSessionStats();
      expect(stats.active).toBe(3);
      expect(stats.byChain).toEqual({ eip155: 2, solana: 1 });
      expect(stats.byAuthMethod).toEqual({ siwe: 1, connect: 1, siws: 1 });
      expect(stats.counters).toMatchObject({ created: 4, refreshed: 1, revoked: 1, validationFailed: 1, reuseDetected: 0 });
    });

    it('keeps a hash chain that verifies, also under concurrent appends', async () => {
      const { engine, store } = await setup();
      await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.appendAudit('default', [{ at: i, type: 'session_revoked', sessionId: null, subject: BOB, details: { n: i } }]),
        ),
      );
      const all: AuditEntry[] = await store.queryAudit('default', { limit: 1000 });
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
      expect(await engine.verifyAudit()).toMatchObject({ valid: true, entries: 51 });
    });

    it('notices an edited or deleted audit entry', async () => {
      const { engine, store } = await setup();
      for (let i = 0; i < 4; i++) await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      await harness.tamperAudit(store, 'default', 2, (e) => {
        e.details = { ...e.details, scope: 'read-only' };
      });
      expect(await engine.verifyAudit()).toMatchObject({ valid: false, brokenAtSeq: 2, reason: 'hash_mismatch' });

      const second = await setup();
      for (let i = 0; i < 4; i++) await second.engine.createSession({ account: ALICE, authMethod: 'siwe' });
      await harness.deleteAudit(second.store, 'default', 3);
      expect(await second.engine.verifyAudit()).toMatchObject({ valid: false, brokenAtSeq: 3 });
    });

    it('queries the audit log by wallet and time, and never holds a secret', async () => {
      const { engine, clock } = await setup();
      const t0 = clock.now();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      clock.advance(MIN);
      await engine.createSession({ account: BOB, authMethod: 'siwe' });
      clock.advance(MIN);
      const r = await engine.refreshSession(a.refreshToken);
      const alice = await engine.queryAudit({ account: ALICE });
      expect(alice.map((e) => e.type)).toEqual(['session_created', 'session_refreshed']);
      const window = await engine.queryAudit({ since: t0 + MIN, until: t0 + 2 * MIN });
      expect(window.map((e) => e.subject)).toEqual([parseAccount(BOB).account]);
      const text = JSON.stringify(await engine.queryAudit({ limit: 1000 }));
      for (const t of [a.token, a.refreshToken, r.token, r.refreshToken])
        expect(text).not.toContain(parseToken(t.startsWith('lks') ? 'session' : 'refresh', t)!.secret);
    });
  });

  describe('session data', () => {
    it('encrypts data at rest, decrypts only when asked, and survives a key rotation', async () => {
      const { engine, store, clock } = await setup();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe', data: { plan: 'gold-plan-marker' } });
      const record = (await store.getSession('default', a.session.id))!;
      expect(record.data).toMatch(/^v1\.k1\./);
      expect(record.data).not.toContain('gold-plan-marker');
      const plain = await engine.validateSession(a.token);
      expect(plain.valid && 'data' in plain).toBe(false);
      const withData = await engine.validateSession(a.token, { withData: true });
      expect(withData.valid && withData.data).toEqual({ plan: 'gold-plan-marker' });

      const rotated = new Latchkey({
        store,
        clock,
        defaults: SETTINGS,
        cleanupIntervalSeconds: 0,
        dataKeys: { current: 'k2', keys: { ...DATA_KEYS.keys, k2: Buffer.alloc(32, 2).toString('base64url') } },
      });
      expect(await rotated.getSessionData(a.token)).toEqual({ plan: 'gold-plan-marker' });
      await rotated.setSessionData(a.token, { plan: 'silver' });
      expect((await store.getSession('default', a.session.id))!.data).toMatch(/^v1\.k2\./);
      expect(await rotated.getSessionData(a.token)).toEqual({ plan: 'silver' });
    });

    it('binds data to its session: a ciphertext moved to another session does not open', async () => {
      const { engine, store, clock } = await setup();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe', data: { secretish: 1 } });
      const b = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const sealed = (await store.getSession('default', a.session.id))!.data;
      expect(await store.setSessionData('default', b.session.id, sealed, clock.now())).toBe(true);
      const error = await rejection(engine.getSessionData(b.token));
      expect(error.code).toBe('SESSION_DATA_UNREADABLE');
      expect(error.message).toBe('Session data could not be decrypted.');
    });
  });

  describe('permissions', () => {
    it('maps roles to permissions and never gives a read-only session a write', async () => {
      const { engine } = await setup();
      const rw = await engine.createSession({ account: ALICE, authMethod: 'siwe', roles: ['admin'] });
      const ro = await engine.createSession({ account: ALICE, authMethod: 'siwe', roles: ['admin'], scope: 'read-only' });
      expect(await engine.hasPermission(rw.token, 'write:profile')).toBe(true);
      expect(await engine.hasPermission(ro.token, 'read:sessions')).toBe(true);
      expect(await engine.hasPermission(ro.token, 'write:profile')).toBe(false);
      expect(await engine.hasPermission('lks_bad', 'read:sessions')).toBe(false);
      const user = await engine.getUserFromToken(ro.token);
      expect(user).toMatchObject({ account: ALICE_CHECKSUMMED, scope: 'read-only', permissions: ['read:*'] });
    });
  });
}
