import { describe, expect, it } from 'vitest';
import type { LatchkeyError } from '../errors/index.js';
import type { Store } from '../store/contract.js';
import { hashSecret, parseToken } from '../tokens/secret.js';
import { ALICE, ALICE_CHECKSUMMED, BOB, MIN, rejection, SETTINGS, type SuiteContext } from './fixtures.js';

export function sessionCases<S extends Store>({ setup }: SuiteContext<S>): void {
  describe('create and validate', () => {
    it('creates a session whose token validates and whose account is normalised', async () => {
      const { engine } = await setup();
      const issued = await engine.createSession({
        account: ALICE,
        authMethod: 'siwe',
        roles: ['member'],
        device: { deviceId: 'd1', ip: '127.0.0.1' },
      });
      expect(issued.token).toMatch(/^lks_[0-9a-f]{32}\.[1-9A-HJ-NP-Za-km-z]+$/);
      expect(issued.refreshToken).toMatch(/^lkr_[0-9a-f]{32}\.[1-9A-HJ-NP-Za-km-z]+$/);
      const result = await engine.validateSession(issued.token);
      expect(result.valid).toBe(true);
      if (!result.valid) return;
      expect(result.session.id).toBe(issued.session.id);
      expect(result.session.account).toBe(ALICE_CHECKSUMMED);
      expect(result.session.permissions).toEqual(['read:sessions', 'write:profile']);
      expect(result.session.device).toEqual({ deviceId: 'd1', ip: '127.0.0.1' });
      expect(result.refreshRecommended).toBe(false);
    });

    it('stores only hashes of the secrets', async () => {
      const { engine, store } = await setup();
      const issued = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const secret = parseToken('session', issued.token)!.secret;
      const refreshSecret = parseToken('refresh', issued.refreshToken)!.secret;
      const record = await store.getSession('default', issued.session.id);
      expect(record?.tokenHash).toBe(hashSecret(secret));
      expect(record?.refresh.hash).toBe(hashSecret(refreshSecret));
      const stored = JSON.stringify(record);
      expect(stored).not.toContain(secret);
      expect(stored).not.toContain(refreshSecret);
    });

    it('gives every sign-in a new session id', async () => {
      const { engine } = await setup();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const b = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      expect(a.session.id).not.toBe(b.session.id);
    });

    it('answers each kind of bad token with its own code, never a session', async () => {
      const { engine } = await setup();
      const issued = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const id = issued.session.id;
      expect(await engine.validateSession('nonsense')).toEqual({ valid: false, code: 'TOKEN_MALFORMED' });
      expect(await engine.validateSession(issued.refreshToken)).toEqual({ valid: false, code: 'TOKEN_MALFORMED' });
      const otherSecret = parseToken('session', (await engine.createSession({ account: BOB, authMethod: 'siwe' })).token)!.secret;
      expect(await engine.validateSession(`lks_${id}.${otherSecret}`)).toEqual({ valid: false, code: 'TOKEN_INVALID' });
      expect(await engine.validateSession(`lks_${'0'.repeat(32)}.${otherSecret}`)).toEqual({
        valid: false,
        code: 'SESSION_NOT_FOUND',
      });
    });

    it('returns records as copies', async () => {
      const { engine, store } = await setup();
      const issued = await engine.createSession({ account: ALICE, authMethod: 'siwe', roles: ['member'] });
      const record = (await store.getSession('default', issued.session.id))!;
      record.roles.push('admin');
      record.tokenHash = 'x';
      const again = (await store.getSession('default', issued.session.id))!;
      expect(again.roles).toEqual(['member']);
      expect(again.tokenHash).not.toBe('x');
    });
  });

  describe('expiry', () => {
    it('is live one millisecond before idle expiry and expired exactly at it', async () => {
      const { engine, clock } = await setup();
      const t0 = clock.now();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const b = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      clock.set(t0 + 10 * MIN - 1);
      expect((await engine.validateSession(a.token)).valid).toBe(true);
      clock.set(t0 + 10 * MIN);
      expect(await engine.validateSession(b.token)).toEqual({ valid: false, code: 'SESSION_EXPIRED' });
    });

    it('expires at the absolute lifetime however active the session is', async () => {
      const { engine, clock } = await setup();
      const t0 = clock.now();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      for (let t = t0 + 5 * MIN; t < t0 + 60 * MIN; t += 5 * MIN) {
        clock.set(t);
        expect((await engine.validateSession(a.token)).valid).toBe(true);
      }
      clock.set(t0 + 60 * MIN - 1);
      const last = await engine.validateSession(a.token);
      expect(last.valid && last.session.expiresAt).toBe(t0 + 60 * MIN);
      clock.set(t0 + 60 * MIN);
      expect(await engine.validateSession(a.token)).toEqual({ valid: false, code: 'SESSION_EXPIRED' });
    });

    it('writes activity at most once per throttle interval', async () => {
      const { engine, store, clock } = await setup();
      const t0 = clock.now();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      clock.set(t0 + MIN - 1);
      await engine.validateSession(a.token);
      expect((await store.getSession('default', a.session.id))!.lastActiveAt).toBe(t0);
      clock.set(t0 + MIN);
      await engine.validateSession(a.token);
      const touched = (await store.getSession('default', a.session.id))!;
      expect(touched.lastActiveAt).toBe(t0 + MIN);
      expect(touched.idleExpiresAt).toBe(t0 + MIN + 10 * MIN);
    });

    it('does not touch for a wrong secret, nor revive an expired session', async () => {
      const { engine, store, clock } = await setup();
      const t0 = clock.now();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const other = parseToken('session', (await engine.createSession({ account: BOB, authMethod: 'siwe' })).token)!.secret;
      clock.set(t0 + 5 * MIN);
      await engine.validateSession(`lks_${a.session.id}.${other}`);
      expect((await store.getSession('default', a.session.id))!.lastActiveAt).toBe(t0);
      clock.set(t0 + 10 * MIN);
      await engine.validateSession(a.token);
      expect((await store.getSession('default', a.session.id))?.idleExpiresAt ?? t0 + 10 * MIN).toBe(t0 + 10 * MIN);
    });

    it('recommends a refresh inside the window before idle expiry', async () => {
      const { engine, clock } = await setup({ defaults: { ...SETTINGS, activityThrottleSeconds: 3600 } });
      const t0 = clock.now();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      clock.set(t0 + 8 * MIN - 1);
      const before = await engine.validateSession(a.token);
      expect(before.valid && before.refreshRecommended).toBe(false);
      clock.set(t0 + 8 * MIN);
      const inside = await engine.validateSession(a.token);
      expect(inside.valid && inside.refreshRecommended).toBe(true);
    });

    it('caps the absolute expiry at notAfter', async () => {
      const { engine, clock } = await setup();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe', notAfter: clock.now() + 5 * MIN });
      expect(a.session.expiresAt).toBe(clock.now() + 5 * MIN);
      clock.advance(5 * MIN);
      expect(await engine.validateSession(a.token)).toEqual({ valid: false, code: 'SESSION_EXPIRED' });
    });
  });

  describe('limits', () => {
    it('rejects past the limit under concurrency, atomically', async () => {
      const { engine } = await setup({ defaults: { ...SETTINGS, limitPolicy: 'reject' } });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => engine.createSession({ account: ALICE, authMethod: 'siwe' })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as LatchkeyError).code);
      expect(ok).toHaveLength(5);
      expect(refused).toEqual(Array(15).fill('SESSION_LIMIT_REACHED'));
      expect(await engine.getWalletSessions(ALICE)).toHaveLength(5);
    });

    it('evicts the oldest past the limit under concurrency, never holding more than the limit', async () => {
      const { engine } = await setup();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => engine.createSession({ account: ALICE, authMethod: 'siwe' })),
      );
      expect(results).toHaveLength(20);
      const live = await engine.getWalletSessions(ALICE);
      expect(live).toHaveLength(5);
      const audit = await engine.queryAudit({ account: ALICE, limit: 1000 });
      expect(audit.filter((e) => e.type === 'session_evicted')).toHaveLength(15);
    });

    it('evicts the oldest session first, and ignores expired ones when counting', async () => {
      const { engine, clock } = await setup();
      const first = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      clock.advance(1);
      const rest = [];
      for (let i = 0; i < 4; i++) rest.push(await engine.createSession({ account: ALICE, authMethod: 'siwe' }));
      clock.advance(1);
      await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      expect(await engine.validateSession(first.token)).toEqual({ valid: false, code: 'SESSION_NOT_FOUND' });
      expect((await engine.validateSession(rest[0]!.token)).valid).toBe(true);

      const { engine: e2, clock: c2 } = await setup({ defaults: { ...SETTINGS, limitPolicy: 'reject' } });
      for (let i = 0; i < 5; i++) await e2.createSession({ account: ALICE, authMethod: 'siwe' });
      expect((await rejection(e2.createSession({ account: ALICE, authMethod: 'siwe' }))).code).toBe('SESSION_LIMIT_REACHED');
      c2.advance(10 * MIN);
      expect((await e2.createSession({ account: ALICE, authMethod: 'siwe' })).session.account).toBe(ALICE_CHECKSUMMED);
    });
  });

  describe('revocation and listing', () => {
    it('revokes one session by its token', async () => {
      const { engine } = await setup();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const b = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      expect(await engine.destroySession(a.token)).toBe(true);
      expect(await engine.validateSession(a.token)).toEqual({ valid: false, code: 'SESSION_NOT_FOUND' });
      expect((await engine.validateSession(b.token)).valid).toBe(true);
      expect(await engine.destroySession(a.token)).toBe(false);
      expect((await engine.queryAudit({ account: ALICE })).map((e) => e.type)).toContain('session_revoked');
    });

    it('lists a wallet oldest first, the same wallet whatever the address case', async () => {
      const { engine, clock } = await setup();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      clock.advance(1);
      const b = await engine.createSession({ account: ALICE_CHECKSUMMED, authMethod: 'siwe' });
      await engine.createSession({ account: BOB, authMethod: 'siwe' });
      const list = await engine.getActiveSessions(ALICE.toUpperCase().replace('EIP155:1:0X', 'eip155:1:0x'));
      expect(list.map((s) => s.id)).toEqual([a.session.id, b.session.id]);
      expect(JSON.stringify(list)).not.toMatch(/lks_|lkr_|tokenHash/);
    });

    it('revokes all of a wallet, or all but the current one', async () => {
      const { engine } = await setup();
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const bob = await engine.createSession({ account: BOB, authMethod: 'siwe' });
      expect(await engine.invalidateAllWalletSessions(ALICE, { keepSessionId: a.session.id })).toEqual({ revoked: 2 });
      expect((await engine.getWalletSessions(ALICE)).map((s) => s.id)).toEqual([a.session.id]);
      expect(await engine.invalidateAllWalletSessions(ALICE)).toEqual({ revoked: 1 });
      expect(await engine.getWalletSessions(ALICE)).toEqual([]);
      expect((await engine.validateSession(bob.token)).valid).toBe(true);
    });

    it('keeps apps apart', async () => {
      const { engine } = await setup({ apps: { shop: {} } });
      const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
      const s = await engine.createSession({ account: ALICE, authMethod: 'siwe', appId: 'shop' });
      expect(await engine.validateSession(a.token, { appId: 'shop' })).toEqual({ valid: false, code: 'SESSION_NOT_FOUND' });
      expect(await engine.validateSession(s.token)).toEqual({ valid: false, code: 'SESSION_NOT_FOUND' });
      expect((await engine.getWalletSessions(ALICE, { appId: 'shop' })).map((x) => x.id)).toEqual([s.session.id]);
      await engine.invalidateAllWalletSessions(ALICE);
      expect((await engine.validateSession(s.token, { appId: 'shop' })).valid).toBe(true);
      expect((await rejection(engine.refreshSession(s.refreshToken))).code).toBe('REFRESH_TOKEN_INVALID');
      expect((await engine.getSessionStats({ appId: 'shop' })).active).toBe(1);
    });
  });
}
