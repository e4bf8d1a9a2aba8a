import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../audit/entry.js';
import { LatchkeyError } from '../errors/index.js';
import { ManualClock } from '../runtime.js';
import type { AppSettingsInput, LatchkeyOptions } from '../session/config.js';
import { Latchkey } from '../session/engine.js';
import type { Store } from '../store/contract.js';
import { parseAccount } from '../subject/index.js';
import { hashSecret, parseToken } from '../tokens/secret.js';
import type { StoreHarness } from './harness.js';

export type { StoreHarness } from './harness.js';

const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const ALICE_CHECKSUMMED = 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';
const BOB = 'eip155:1:0x71c7656ec7ab88b098defb751b7401b5f6d8976f';
const SOL = 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy';

const MIN = 60_000;
const SETTINGS: AppSettingsInput = {
  idleTimeoutSeconds: 600,
  absoluteLifetimeSeconds: 3600,
  refreshWindowSeconds: 120,
  activityThrottleSeconds: 60,
  refreshGraceSeconds: 30,
  maxSessionsPerWallet: 5,
  roles: { admin: ['*'], member: ['read:sessions', 'write:profile'] },
};
const DATA_KEYS = { current: 'k1', keys: { k1: Buffer.alloc(32, 1).toString('base64url') } };

async function rejection(p: Promise<unknown>): Promise<LatchkeyError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof LatchkeyError) return error;
    throw error;
  }
  throw new Error('expected a LatchkeyError, got a result');
}

/**
 * The behaviour every Store must show, exercised through the engine and directly. Run it from a
 * store package's test file: `describeStoreConformance(harness)`.
 */
export function describeStoreConformance<S extends Store>(harness: StoreHarness<S>): void {
  const opened: Store[] = [];
  async function setup(options: Partial<LatchkeyOptions> = {}) {
    const store = await harness.open();
    opened.push(store);
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const engine = new Latchkey({ store, clock, defaults: SETTINGS, dataKeys: DATA_KEYS, cleanupIntervalSeconds: 0, ...options });
    return { store, clock, engine };
  }
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
    await harness.teardown?.();
  });

  describe(`store conformance: ${harness.name}`, () => {
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
        const otherSecret = parseToken(
          'session',
          (await engine.createSession({ account: BOB, authMethod: 'siwe' })).token,
        )!.secret;
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

    describe('refresh rotation', () => {
      it('rotates both secrets, keeps the id, extends idle expiry but never past absolute', async () => {
        const { engine, clock } = await setup();
        const t0 = clock.now();
        const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
        clock.set(t0 + 9 * MIN);
        const b = await engine.refreshSession(a.refreshToken);
        expect(b.session.id).toBe(a.session.id);
        expect(b.token).not.toBe(a.token);
        expect(b.refreshToken).not.toBe(a.refreshToken);
        expect(b.session.idleExpiresAt).toBe(t0 + 19 * MIN);
        expect(b.session.refreshGeneration).toBe(1);
        expect(await engine.validateSession(a.token)).toEqual({ valid: false, code: 'TOKEN_INVALID' });
        expect((await engine.validateSession(b.token)).valid).toBe(true);
        for (let t = t0 + 15 * MIN; t <= t0 + 55 * MIN; t += 5 * MIN) {
          clock.set(t);
          expect((await engine.validateSession(b.token)).valid).toBe(true);
        }
        const c = await engine.refreshSession(b.refreshToken);
        expect(c.session.idleExpiresAt).toBe(t0 + 60 * MIN);
      });

      it('answers 100 concurrent refreshes of one token with one successor', async () => {
        const { engine, store } = await setup();
        const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
        const results = await Promise.allSettled(Array.from({ length: 100 }, () => engine.refreshSession(a.refreshToken)));
        const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
        expect(ok).toHaveLength(100);
        expect(new Set(ok.map((r) => r.token)).size).toBe(1);
        expect(new Set(ok.map((r) => r.refreshToken)).size).toBe(1);
        const record = (await store.getSession('default', a.session.id))!;
        expect(record.refresh.generation).toBe(1);
        expect((await engine.validateSession(ok[0]!.token)).valid).toBe(true);
        const next = await engine.refreshSession(ok[0]!.refreshToken);
        expect(next.session.refreshGeneration).toBe(2);
      });

      it('gives the same successor inside the grace window, anchored at the first rotation', async () => {
        const { engine, clock } = await setup();
        const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
        const t1 = clock.now();
        const b = await engine.refreshSession(a.refreshToken);
        clock.set(t1 + 29_999);
        const again = await engine.refreshSession(a.refreshToken);
        expect(again.token).toBe(b.token);
        expect(again.refreshToken).toBe(b.refreshToken);
        clock.set(t1 + 30_000);
        expect((await rejection(engine.refreshSession(a.refreshToken))).code).toBe('REFRESH_TOKEN_REUSED');
      });

      it('revokes the session and audits when a token is reused after the window', async () => {
        const { engine, clock } = await setup();
        const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
        const b = await engine.refreshSession(a.refreshToken);
        clock.advance(31_000);
        const error = await rejection(engine.refreshSession(a.refreshToken));
        expect(error.code).toBe('REFRESH_TOKEN_REUSED');
        expect(await engine.validateSession(b.token)).toEqual({ valid: false, code: 'SESSION_NOT_FOUND' });
        expect((await rejection(engine.refreshSession(b.refreshToken))).code).toBe('REFRESH_TOKEN_INVALID');
        const audit = await engine.queryAudit({ account: ALICE });
        expect(audit.map((e) => e.type)).toContain('refresh_token_reused');
        expect((await engine.getSessionStats()).counters.reuseDetected).toBe(1);
      });

      it('treats an older generation as reuse even inside a later grace window', async () => {
        const { engine } = await setup();
        const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
        const b = await engine.refreshSession(a.refreshToken);
        const c = await engine.refreshSession(b.refreshToken);
        expect((await rejection(engine.refreshSession(a.refreshToken))).code).toBe('REFRESH_TOKEN_REUSED');
        expect(await engine.validateSession(c.token)).toEqual({ valid: false, code: 'SESSION_NOT_FOUND' });
      });

      it('does not revoke on a refresh secret the session never had (a guess is not reuse)', async () => {
        const { engine } = await setup();
        const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
        const guess = parseToken(
          'refresh',
          (await engine.createSession({ account: BOB, authMethod: 'siwe' })).refreshToken,
        )!.secret;
        expect((await rejection(engine.refreshSession(`lkr_${a.session.id}.${guess}`))).code).toBe('REFRESH_TOKEN_INVALID');
        expect((await engine.validateSession(a.token)).valid).toBe(true);
      });

      it('refuses to refresh an expired session', async () => {
        const { engine, clock } = await setup();
        const a = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
        clock.advance(10 * MIN);
        expect((await rejection(engine.refreshSession(a.refreshToken))).code).toBe('SESSION_EXPIRED');
        expect((await rejection(engine.refreshSession('lkr_nope'))).code).toBe('REFRESH_TOKEN_INVALID');
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
  });
}
