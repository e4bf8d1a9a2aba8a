import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LatchkeyError } from '../errors/index.js';
import { ManualClock } from '../runtime.js';
import type { AppSettingsInput, LatchkeyOptions } from '../session/config.js';
import { Latchkey } from '../session/engine.js';
import { MemoryStore } from '../store/memory.js';

const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const T0 = Date.UTC(2026, 0, 1, 12);
const DATA_KEYS = { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } };
const ACCESS = { audience: 'api.example.com', issuer: 'https://auth.example.com' };

const engines: Latchkey[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
  vi.useRealTimers();
});

function engine(accessTokens: AppSettingsInput['accessTokens'] = ACCESS, options: Partial<LatchkeyOptions> = {}) {
  const clock = new ManualClock(T0);
  const store = options.store ?? new MemoryStore();
  const latchkey = new Latchkey({
    store,
    clock,
    dataKeys: DATA_KEYS,
    cleanupIntervalSeconds: 0,
    defaults: { accessTokens, roles: { member: ['read:x'] } },
    ...options,
  });
  engines.push(latchkey);
  return { latchkey, clock, store };
}

function tamper(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  change(claims);
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
}

describe('access tokens', () => {
  it('issues an EdDSA token at sign-in that jose verifies against the published JWKS', async () => {
    const { latchkey } = engine();
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'siwe', roles: ['member'] });
    expect(issued.accessToken).toBeDefined();
    const jwks = await latchkey.getJwks();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519', use: 'sig' });
    expect(JSON.stringify(jwks)).not.toMatch(/"d"/);
    const { payload, protectedHeader } = await jwtVerify(issued.accessToken!, createLocalJWKSet(jwks), {
      issuer: ACCESS.issuer,
      audience: ACCESS.audience,
      typ: 'at+jwt',
      currentDate: new Date(T0),
    });
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: jwks.keys[0]!.kid, typ: 'at+jwt' });
    expect(payload).toMatchObject({
      sub: issued.session.account,
      sid: issued.session.id,
      scope: 'read-write',
      roles: ['member'],
      iat: T0 / 1000,
    });
    expect(payload.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(payload.exp! - payload.iat!).toBeGreaterThanOrEqual(855);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(900);
    const ours = await latchkey.verifyAccessToken(issued.accessToken!);
    expect(ours).toMatchObject({ valid: true, claims: { sid: issued.session.id } });
  });

  it('spreads lifetimes over the last 5% so clients do not refresh in lock-step', async () => {
    const { latchkey } = engine();
    const lifetimes = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const t = (await latchkey.createSession({ account: ALICE, authMethod: 'siwe' })).accessToken!;
      const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
      lifetimes.add(claims.exp - claims.iat);
    }
    expect(lifetimes.size).toBeGreaterThan(5);
    expect(Math.min(...lifetimes)).toBeGreaterThanOrEqual(855);
  });

  it('signs ES256 on request, also verifiable by jose', async () => {
    const { latchkey } = engine({ ...ACCESS, algorithm: 'ES256' });
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'siwe' });
    const jwks = await latchkey.getJwks();
    expect(jwks.keys[0]).toMatchObject({ alg: 'ES256', kty: 'EC', crv: 'P-256' });
    await expect(
      jwtVerify(issued.accessToken!, createLocalJWKSet(jwks), { audience: ACCESS.audience, currentDate: new Date(T0) }),
    ).resolves.toBeTruthy();
    expect((await latchkey.verifyAccessToken(issued.accessToken!)).valid).toBe(true);
  });

  it('never outlives its session', async () => {
    const { latchkey } = engine();
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'siwe', notAfter: T0 + 120_000 });
    const claims = JSON.parse(Buffer.from(issued.accessToken!.split('.')[1]!, 'base64url').toString()) as { exp: number };
    expect(claims.exp).toBe((T0 + 120_000) / 1000);
  });

  it('rejects tampered, expired, wrong-audience, wrong-issuer, unknown-kid and confused tokens with distinct codes', async () => {
    const { latchkey, clock, store } = engine({ ...ACCESS, algorithm: 'HS256', secret: 's'.repeat(40) });
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'siwe' });
    const token = issued.accessToken!;
    expect(await latchkey.verifyAccessToken(tamper(token, (c) => (c.sid = 'other')))).toEqual({
      valid: false,
      code: 'ACCESS_TOKEN_SIGNATURE_INVALID',
    });
    expect(await latchkey.verifyAccessToken('a.b')).toEqual({ valid: false, code: 'ACCESS_TOKEN_MALFORMED' });
    expect(await latchkey.verifyAccessToken(`${token}x.y`)).toEqual({ valid: false, code: 'ACCESS_TOKEN_MALFORMED' });
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'x', typ: 'at+jwt' })).toString('base64url')}.${token.split('.')[1]}.AA`;
    expect(await latchkey.verifyAccessToken(none)).toEqual({ valid: false, code: 'ACCESS_TOKEN_KEY_UNKNOWN' });

    const otherAudience = new Latchkey({
      store,
      clock,
      cleanupIntervalSeconds: 0,
      defaults: { accessTokens: { ...ACCESS, audience: 'other.example.com', algorithm: 'HS256', secret: 's'.repeat(40) } },
    });
    engines.push(otherAudience);
    expect(await otherAudience.verifyAccessToken(token)).toEqual({ valid: false, code: 'ACCESS_TOKEN_AUDIENCE_INVALID' });
    const otherIssuer = new Latchkey({
      store,
      clock,
      cleanupIntervalSeconds: 0,
      defaults: { accessTokens: { ...ACCESS, issuer: 'evil', algorithm: 'HS256', secret: 's'.repeat(40) } },
    });
    engines.push(otherIssuer);
    expect(await otherIssuer.verifyAccessToken(token)).toEqual({ valid: false, code: 'ACCESS_TOKEN_ISSUER_INVALID' });
    const otherSecret = new Latchkey({
      store,
      clock,
      cleanupIntervalSeconds: 0,
      defaults: { accessTokens: { ...ACCESS, algorithm: 'HS256', secret: 't'.repeat(40) } },
    });
    engines.push(otherSecret);
    expect(await otherSecret.verifyAccessToken(token)).toEqual({ valid: false, code: 'ACCESS_TOKEN_KEY_UNKNOWN' });

    clock.advance(900_000 + 30_000);
    expect(await latchkey.verifyAccessToken(token)).toEqual({ valid: false, code: 'ACCESS_TOKEN_EXPIRED' });
  });

  it('re-checks expiry on every call even when the signature check is remembered', async () => {
    const { latchkey, clock } = engine();
    const token = (await latchkey.createSession({ account: ALICE, authMethod: 'siwe' })).accessToken!;
    expect((await latchkey.verifyAccessToken(token)).valid).toBe(true);
    expect((await latchkey.verifyAccessToken(token)).valid).toBe(true);
    clock.advance(900_000 + 30_000);
    expect(await latchkey.verifyAccessToken(token)).toEqual({ valid: false, code: 'ACCESS_TOKEN_EXPIRED' });
    // Change a character in the middle of the signature (the last one carries only padding bits).
    const at = token.length - 20;
    const tampered = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
    const result = await latchkey.verifyAccessToken(tampered);
    expect(result).toEqual({ valid: false, code: 'ACCESS_TOKEN_SIGNATURE_INVALID' });
  });

  it('refuses a token whose header names another algorithm than its key (no algorithm confusion)', async () => {
    const { latchkey } = engine();
    const token = (await latchkey.createSession({ account: ALICE, authMethod: 'siwe' })).accessToken!;
    const [h, p, s] = token.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${Buffer.from(JSON.stringify({ ...header, alg: 'HS256' })).toString('base64url')}.${p}.${s}`;
    expect(await latchkey.verifyAccessToken(forged)).toEqual({ valid: false, code: 'ACCESS_TOKEN_SIGNATURE_INVALID' });
    const withCrit = `${Buffer.from(JSON.stringify({ ...header, crit: ['exp'] })).toString('base64url')}.${p}.${s}`;
    expect(await latchkey.verifyAccessToken(withCrit)).toEqual({ valid: false, code: 'ACCESS_TOKEN_MALFORMED' });
  });

  it('rotates: the new key is published before it signs, and the old one stays until its last token expires', async () => {
    const { latchkey, clock } = engine();
    const before = (await latchkey.createSession({ account: ALICE, authMethod: 'siwe' })).accessToken!;
    const oldKid = (await latchkey.getJwks()).keys[0]!.kid;
    const { kid, activatesAt } = await latchkey.rotateSigningKey();
    expect(activatesAt).toBe(T0 + 60_000);
    expect((await latchkey.getJwks()).keys.map((k) => k.kid).sort()).toEqual([oldKid, kid].sort());
    const during = (await latchkey.createSession({ account: ALICE, authMethod: 'siwe' })).accessToken!;
    expect(JSON.parse(Buffer.from(during.split('.')[0]!, 'base64url').toString()).kid).toBe(oldKid);
    clock.advance(60_000);
    const after = (await latchkey.createSession({ account: ALICE, authMethod: 'siwe' })).accessToken!;
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
    expect((await latchkey.verifyAccessToken(before)).valid).toBe(true);
    clock.advance(900_000 + 30_000);
    expect((await latchkey.getJwks()).keys.map((k) => k.kid)).toEqual([kid]);
  });

  it('keeps signing keys encrypted at rest and shares them between nodes', async () => {
    const { latchkey, store, clock } = engine();
    const token = (await latchkey.createSession({ account: ALICE, authMethod: 'siwe' })).accessToken!;
    const stored = await store.listEntries('default', 'signing-keys', T0);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.value).toMatch(/"sealedPrivateKey":"v1\.k1\./);
    expect(stored[0]!.value).not.toMatch(/PRIVATE KEY|"d":/);
    const node2 = new Latchkey({
      store,
      clock,
      dataKeys: DATA_KEYS,
      cleanupIntervalSeconds: 0,
      defaults: { accessTokens: ACCESS },
    });
    engines.push(node2);
    expect((await node2.verifyAccessToken(token)).valid).toBe(true);
  });

  it('returns a new access token with every refresh', async () => {
    const { latchkey } = engine();
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'siwe' });
    const next = await latchkey.refreshSession(issued.refreshToken);
    expect(next.accessToken).toBeDefined();
    expect(next.accessToken).not.toBe(issued.accessToken);
    expect(await latchkey.verifyAccessToken(next.accessToken!)).toMatchObject({
      valid: true,
      claims: { sid: issued.session.id },
    });
  });

  it('with revocationCheck, refuses a revoked session token on another node within one poll', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const config = { ...ACCESS, revocationCheck: true };
    const { latchkey, store, clock } = engine(config);
    const node2 = new Latchkey({
      store,
      clock,
      dataKeys: DATA_KEYS,
      cleanupIntervalSeconds: 0,
      defaults: { accessTokens: config },
    });
    engines.push(node2);
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'siwe' });
    expect((await node2.verifyAccessToken(issued.accessToken!)).valid).toBe(true);
    await latchkey.revokeSession(issued.token);
    expect(await latchkey.verifyAccessToken(issued.accessToken!)).toEqual({ valid: false, code: 'ACCESS_TOKEN_REVOKED' });
    await vi.advanceTimersByTimeAsync(500);
    expect(await node2.verifyAccessToken(issued.accessToken!)).toEqual({ valid: false, code: 'ACCESS_TOKEN_REVOKED' });
  });

  it('with revocationCheck, reads thousands of revocations page by page and then only the new ones', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const store = new MemoryStore();
    const { latchkey, clock } = engine({ ...ACCESS, revocationCheck: true }, { store });
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'siwe' });
    for (let i = 0; i < 2500; i++)
      await store.putEntry('default', 'revoked-sessions', { key: `other${i}`, value: '0', expiresAt: T0 + 900_000 }, T0);
    const scans: number[] = [];
    const scan = store.scanEntries.bind(store);
    store.scanEntries = async (appId, namespace, page) => {
      const result = await scan(appId, namespace, page);
      scans.push(result.length);
      return result;
    };
    expect((await latchkey.verifyAccessToken(issued.accessToken!)).valid).toBe(true);
    expect(scans.reduce((a, b) => a + b, 0)).toBe(2500);
    scans.length = 0;
    await store.putEntry('default', 'revoked-sessions', { key: issued.session.id, value: '0', expiresAt: T0 + 931_000 }, T0);
    clock.advance(1000);
    await vi.advanceTimersByTimeAsync(500);
    expect(await latchkey.verifyAccessToken(issued.accessToken!)).toEqual({ valid: false, code: 'ACCESS_TOKEN_REVOKED' });
    // Between look-back sweeps (every 10 s), a poll reads only what came after its cursor.
    expect(scans.reduce((a, b) => a + b, 0)).toBe(1);
    scans.length = 0;
    await vi.advanceTimersByTimeAsync(500);
    expect(scans.reduce((a, b) => a + b, 0)).toBe(0);
    // A node whose clock runs behind writes an entry that sorts before the cursor: the next sweep finds it.
    const late = await latchkey.createSession({ account: ALICE, authMethod: 'siwe' });
    await store.putEntry('default', 'revoked-sessions', { key: late.session.id, value: '0', expiresAt: T0 + 925_000 }, T0);
    await vi.advanceTimersByTimeAsync(500);
    expect((await latchkey.verifyAccessToken(late.accessToken!)).valid).toBe(true);
    clock.advance(10_000);
    await vi.advanceTimersByTimeAsync(500);
    expect(await latchkey.verifyAccessToken(late.accessToken!)).toEqual({ valid: false, code: 'ACCESS_TOKEN_REVOKED' });
  });

  it('with revocationCheck, fails closed when the revocation list cannot be refreshed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const store = new MemoryStore();
    const { latchkey, clock } = engine({ ...ACCESS, revocationCheck: true }, { store });
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'siwe' });
    expect((await latchkey.verifyAccessToken(issued.accessToken!)).valid).toBe(true);
    await store.close();
    clock.advance(3_001);
    await vi.advanceTimersByTimeAsync(500);
    expect(await latchkey.verifyAccessToken(issued.accessToken!)).toEqual({ valid: false, code: 'STORE_UNAVAILABLE' });
  });

  it.each([
    [{ ...ACCESS, algorithm: 'HS256' as const, secret: 'short' }, 'defaults.accessTokens.secret'],
    [{ ...ACCESS, algorithm: 'HS256' as const }, 'defaults.accessTokens.secret'],
    [{ ...ACCESS, secret: 'x'.repeat(40) }, 'defaults.accessTokens.secret'],
  ])('refuses %j at start-up', (accessTokens, field) => {
    expect(() => new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0, defaults: { accessTokens } })).toThrow(
      LatchkeyError,
    );
    try {
      new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0, defaults: { accessTokens } });
    } catch (e) {
      expect(e).toMatchObject({ code: 'CONFIG_INVALID', field });
      expect((e as Error).message).not.toContain('x'.repeat(40));
    }
  });

  it('refuses EdDSA keys without dataKeys to seal them', () => {
    expect(
      () => new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0, defaults: { accessTokens: ACCESS } }),
    ).toThrow(/needs dataKeys/);
  });
});
