import { describe, expect, it } from 'vitest';
import type { Store } from '../store/contract.js';
import { parseToken } from '../tokens/secret.js';
import { ALICE, BOB, MIN, rejection, type SuiteContext } from './fixtures.js';

export function refreshCases<S extends Store>({ setup }: SuiteContext<S>): void {
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
}
