import { type Clock, cryptoRandom, Latchkey, ManualClock, MemoryStore, SessionDataCipher, type Store } from '@latchkey/core';
import { describe, expect, it } from 'vitest';
import { DATA_KEYS, signIn, startFixture, T0, WALLETS } from '../../test-support/http/index.js';
import { createApiKey, createServer } from '../index.js';
import { API_KEY_NAMESPACE } from './api-keys.js';
import { APPS_NAMESPACE, SYSTEM_APP_ID } from './apps.js';
import { sealAppSettings } from './stored-apps.js';

const CHALLENGE = 'Bearer realm="latchkey"';
const INVALID_TOKEN = 'Bearer realm="latchkey", error="invalid_token"';
const INVALID_REQUEST = 'Bearer realm="latchkey", error="invalid_request"';

describe('session routes answer per RFC 6750', async () => {
  const f = await startFixture();
  const { issued } = await signIn(f, WALLETS[0]!);
  const secret = issued.token.slice(issued.token.indexOf('.') + 1);

  it.each([
    ['no credential', undefined, 401, 'AUTHENTICATION_REQUIRED', CHALLENGE],
    ['the token', `Bearer ${issued.token}`, 200, undefined, undefined],
    ['the scheme in lower case, two spaces', `bearer  ${issued.token}`, 200, undefined, undefined],
    [
      'another scheme',
      `Basic ${Buffer.from('a:b').toString('base64')}`,
      400,
      'VALIDATION_AUTHORIZATION_MALFORMED',
      INVALID_REQUEST,
    ],
    ['a scheme without token', 'Bearer', 400, 'VALIDATION_AUTHORIZATION_MALFORMED', INVALID_REQUEST],
    ['a token with a space', `Bearer ${issued.token} x`, 400, 'VALIDATION_AUTHORIZATION_MALFORMED', INVALID_REQUEST],
    ['a token outside b64token', 'Bearer lks_{abc}', 400, 'VALIDATION_AUTHORIZATION_MALFORMED', INVALID_REQUEST],
    ['not a session token', 'Bearer abc.def', 401, 'TOKEN_MALFORMED', INVALID_TOKEN],
    ['the refresh token', `Bearer ${issued.refreshToken}`, 401, 'TOKEN_MALFORMED', INVALID_TOKEN],
    ['a session that does not exist', `Bearer lks_${'0'.repeat(32)}.${secret}`, 401, 'SESSION_NOT_FOUND', INVALID_TOKEN],
    ['a wrong secret', `Bearer lks_${issued.session.id}.${'1'.repeat(44)}`, 401, 'TOKEN_INVALID', INVALID_TOKEN],
  ])('%s', async (_, authorization, status, code, challenge) => {
    const response = await f.app.inject({ method: 'GET', url: '/v1/session', headers: authorization ? { authorization } : {} });
    expect(response.statusCode).toBe(status);
    if (code) expect(response.json().error.code).toBe(code);
    expect(response.headers['www-authenticate']).toBe(challenge);
  });

  it('refuses a session past its idle expiry with invalid_token', async () => {
    const g = await startFixture();
    const { issued: old } = await signIn(g, WALLETS[1]!);
    g.clock.advance(2 * 60 * 60 * 1000);
    const response = await g.app.inject({ method: 'GET', url: '/v1/session', headers: { authorization: `Bearer ${old.token}` } });
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('SESSION_EXPIRED');
    expect(response.headers['www-authenticate']).toBe(INVALID_TOKEN);
  });

  it('answers 503 and never a pass when the store cannot answer', async () => {
    const store = new MemoryStore();
    const g = await startFixture({ store });
    const { issued: live } = await signIn(g, WALLETS[1]!);
    await store.close();
    for (const [method, url] of [
      ['GET', '/v1/session'],
      ['GET', '/v1/sessions'],
      ['DELETE', '/v1/session'],
      ['GET', '/readyz'],
    ] as const) {
      const response = await g.app.inject({ method, url, headers: { authorization: `Bearer ${live.token}` } });
      expect(response.statusCode, `${method} ${url}`).toBe(503);
      expect(response.json().error.code).toBe('STORE_UNAVAILABLE');
      expect(response.headers['www-authenticate']).toBeUndefined();
    }
    expect((await g.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

/** A store whose listEntries calls are counted, to see what the caches save. */
function countingStore(): { store: Store; reads: () => number } {
  const inner = new MemoryStore();
  let reads = 0;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === 'listEntries') {
        return (...args: Parameters<Store['listEntries']>) => {
          reads += 1;
          return target.listEntries(...args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, reads: () => reads };
}

describe('app API keys', () => {
  const introspect = (f: Awaited<ReturnType<typeof startFixture>>, key: string | undefined, token: string, app?: string) =>
    f.app.inject({
      method: 'POST',
      url: '/v1/sessions/introspect',
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(app ? { 'latchkey-app': app } : {}) },
      payload: { token },
    });

  it('are lka_<16 hex>.<base58>, shown once, stored as a SHA-256 hash only', async () => {
    const store = new MemoryStore();
    const { id, key } = await createApiKey(store, 'default', 'billing');
    expect(key).toMatch(/^lka_[0-9a-f]{16}\.[1-9A-HJ-NP-Za-km-z]{40,46}$/);
    expect(key.startsWith(`lka_${id}.`)).toBe(true);
    const [entry] = await store.listEntries('default', API_KEY_NAMESPACE, Date.now());
    expect(entry!.key).toBe(id);
    const value = JSON.parse(entry!.value);
    expect(Object.keys(value).sort()).toEqual(['createdAt', 'hash', 'name']);
    expect(value.name).toBe('billing');
    expect(entry!.value).not.toContain(key.slice(key.indexOf('.') + 1));
    expect(entry!.expiresAt).toBeGreaterThan(Date.now() + 99 * 365 * 24 * 3600 * 1000);
    await expect(createApiKey(store, 'Not An App', 'x')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(createApiKey(store, 'default', '')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it("authenticate operator routes: 401 without or with a wrong key, 403 for another app, the key's app otherwise", async () => {
    const f = await startFixture({ apps: { shop: {} } });
    const { issued } = await signIn(f, WALLETS[0]!);
    const { key } = await createApiKey(f.store, 'default', 'ops');
    const { key: shopKey } = await createApiKey(f.store, 'shop', 'ops');
    const wrong = `${key.slice(0, key.indexOf('.') + 1)}${'2'.repeat(44)}`;

    const none = await introspect(f, undefined, issued.token);
    expect([none.statusCode, none.json().error.code, none.headers['www-authenticate']]).toEqual([
      401,
      'AUTHENTICATION_REQUIRED',
      CHALLENGE,
    ]);
    for (const bad of [wrong, 'lka_0123456789abcdef.zz', issued.token]) {
      const response = await introspect(f, bad, issued.token);
      expect([response.statusCode, response.json().error.code, response.headers['www-authenticate']]).toEqual([
        401,
        'API_KEY_INVALID',
        INVALID_TOKEN,
      ]);
    }
    expect((await introspect(f, key, issued.token)).json()).toMatchObject({ active: true, session: { id: issued.session.id } });
    expect((await introspect(f, key, issued.token, 'default')).statusCode).toBe(200);
    const mismatch = await introspect(f, shopKey, issued.token, 'default');
    expect([mismatch.statusCode, mismatch.json().error.code]).toEqual([403, 'API_KEY_APP_MISMATCH']);
    // Without a header the key's own app: the default app's token is not one of shop's sessions.
    expect((await introspect(f, shopKey, issued.token)).json()).toEqual({ active: false });
    const stats = await f.app.inject({ method: 'GET', url: '/v1/admin/stats', headers: { authorization: `Bearer ${shopKey}` } });
    expect(stats.json()).toMatchObject({ appId: 'shop', active: 0 });
  });

  it('are read from the store at most every few seconds; a new key works at once, a deleted one stops within 5 s', async () => {
    const { store, reads } = countingStore();
    const clock = new ManualClock(T0);
    const f = await startFixture({ store, clock });
    const { key, id } = await createApiKey(store, 'default', 'ops');
    const ask = () => f.app.inject({ method: 'GET', url: '/v1/admin/stats', headers: { authorization: `Bearer ${key}` } });
    const start = reads();
    expect((await ask()).statusCode).toBe(200);
    for (let i = 0; i < 20; i += 1) expect((await ask()).statusCode).toBe(200);
    expect(reads() - start).toBe(1);
    const { key: fresh } = await createApiKey(store, 'default', 'new');
    clock.advance(1000);
    expect(
      (await f.app.inject({ method: 'GET', url: '/v1/admin/stats', headers: { authorization: `Bearer ${fresh}` } })).statusCode,
    ).toBe(200);
    await store.deleteEntry('default', API_KEY_NAMESPACE, id, clock.now());
    clock.advance(3000);
    expect((await ask()).statusCode).toBe(200); // still the list read 3 s ago
    clock.advance(2000);
    expect((await ask()).statusCode).toBe(401);
    // Junk key ids re-read the store at most once a second.
    const before = reads();
    for (let i = 0; i < 50; i += 1) {
      await f.app.inject({
        method: 'GET',
        url: '/v1/admin/stats',
        headers: { authorization: `Bearer lka_${i.toString(16).padStart(16, '0')}.${'3'.repeat(44)}` },
      });
    }
    expect(reads() - before).toBeLessThanOrEqual(1);
  });

  it('of an app stored after start work at once, with or without Latchkey-App', async () => {
    const { store, reads } = countingStore();
    const clock = new ManualClock(T0);
    const f = await startFixture({ store, clock });
    clock.advance(5_000); // the server has been up a while when the CLI adds the app
    await store.putEntry(SYSTEM_APP_ID, APPS_NAMESPACE, { key: 'fresh', value: '{}', expiresAt: T0 + 1e12 }, clock.now());
    const { key } = await createApiKey(store, 'fresh', 'ops');
    const stats = (headers: Record<string, string> = {}) =>
      f.app.inject({ method: 'GET', url: '/v1/admin/stats', headers: { authorization: `Bearer ${key}`, ...headers } });
    const first = await stats();
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ appId: 'fresh', active: 0 });
    expect((await stats({ 'latchkey-app': 'fresh' })).statusCode).toBe(200);

    const other = await startFixture({ clock, store });
    clock.advance(5_000);
    await store.putEntry(SYSTEM_APP_ID, APPS_NAMESPACE, { key: 'later', value: '{}', expiresAt: T0 + 1e12 }, clock.now());
    const { key: laterKey } = await createApiKey(store, 'later', 'ops');
    const named = await other.app.inject({
      method: 'GET',
      url: '/v1/admin/stats',
      headers: { authorization: `Bearer ${laterKey}`, 'latchkey-app': 'later' },
    });
    expect(named.statusCode, named.body).toBe(200);
    expect(named.json()).toMatchObject({ appId: 'later' });
    // Junk keys still cost at most one reload a second.
    const before = reads();
    for (let i = 0; i < 20; i += 1) {
      await other.app.inject({
        method: 'GET',
        url: '/v1/admin/stats',
        headers: { authorization: `Bearer lka_${i.toString(16).padStart(16, '0')}.${'3'.repeat(44)}` },
      });
    }
    expect(reads() - before).toBeLessThanOrEqual(other.latchkey.appIds().length + 1);
  });

  it('answer an unknown Latchkey-App with 404 APP_UNKNOWN and a malformed one with 400, not 403', async () => {
    const f = await startFixture();
    const { key } = await createApiKey(f.store, 'default', 'ops');
    const ask = (app: string) =>
      f.app.inject({ method: 'GET', url: '/v1/admin/stats', headers: { authorization: `Bearer ${key}`, 'latchkey-app': app } });
    const unknown = await ask('nosuchapp');
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'APP_UNKNOWN']);
    const malformed = await ask('Not An App');
    expect([malformed.statusCode, malformed.json().error.code, malformed.json().error.field]).toEqual([
      400,
      'VALIDATION_FAILED',
      'Latchkey-App',
    ]);
  });
});

describe('apps created at run time', () => {
  it('are loaded at start, picked up on first request naming them, and re-read at most once a second', async () => {
    const { store, reads } = countingStore();
    const clock: Clock & ManualClock = new ManualClock(T0);
    await store.putEntry(
      SYSTEM_APP_ID,
      APPS_NAMESPACE,
      { key: 'early', value: JSON.stringify({ maxSessionsPerWallet: 2 }), expiresAt: T0 + 1e12 },
      T0,
    );
    const f = await startFixture({ store, clock });
    expect(f.latchkey.settings('early').maxSessionsPerWallet).toBe(2);
    const nonce = (app: string) => f.app.inject({ method: 'POST', url: '/v1/auth/nonce', headers: { 'latchkey-app': app } });
    expect((await nonce('early')).statusCode).toBe(200);
    expect((await nonce('late')).json().error.code).toBe('APP_UNKNOWN');
    await store.putEntry(SYSTEM_APP_ID, APPS_NAMESPACE, { key: 'late', value: JSON.stringify({}), expiresAt: T0 + 1e12 }, T0);
    const before = reads();
    for (let i = 0; i < 20; i += 1) expect((await nonce('late')).statusCode).toBe(404);
    expect(reads() - before).toBe(0);
    clock.advance(1000);
    expect((await nonce('late')).statusCode).toBe(200);
    expect((await nonce('Bad App')).json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', field: 'Latchkey-App' } });
  });

  it('refuse to start on a stored app with bad settings, naming it and not its values', async () => {
    const store = new MemoryStore();
    await store.putEntry(
      SYSTEM_APP_ID,
      APPS_NAMESPACE,
      {
        key: 'broken',
        value: JSON.stringify({ accessTokens: { algorithm: 'HS256', secret: 'short-secret-value' } }),
        expiresAt: T0 + 1e12,
      },
      T0,
    );
    const failure = (await startFixture({ store }).then(
      () => new Error('started'),
      (e: unknown) => e as Error,
    )) as Error & { code?: string };
    expect(failure).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(failure.message).toContain('broken');
    expect(failure.message).not.toContain('short-secret-value');
  });
});

describe('apps created at run time: the default app', () => {
  it('is never replaced by a stored `default` entry, at start or on reload', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    await store.putEntry(
      SYSTEM_APP_ID,
      APPS_NAMESPACE,
      { key: 'default', value: JSON.stringify({ maxSessionsPerWallet: 1 }), expiresAt: T0 + 1e12 },
      T0,
    );
    const f = await startFixture({ store, clock });
    expect(f.latchkey.settings('default').maxSessionsPerWallet).not.toBe(1);
    clock.advance(1000);
    await store.putEntry(SYSTEM_APP_ID, APPS_NAMESPACE, { key: 'other', value: '{}', expiresAt: T0 + 1e12 }, T0);
    expect((await f.app.inject({ method: 'POST', url: '/v1/auth/nonce', headers: { 'latchkey-app': 'other' } })).statusCode).toBe(
      200,
    );
    expect(f.latchkey.settings('default').maxSessionsPerWallet).not.toBe(1);
  });
});

describe('refresh answers per RFC 6750', () => {
  it('carries WWW-Authenticate on every 401', async () => {
    const f = await startFixture();
    const { issued } = await signIn(f, WALLETS[0]!);
    const refresh = (payload?: object, headers: Record<string, string> = {}) =>
      f.app.inject({ method: 'POST', url: '/v1/session/refresh', headers, ...(payload ? { payload } : {}) });
    const none = await refresh();
    expect([none.statusCode, none.json().error.code, none.headers['www-authenticate']]).toEqual([
      401,
      'AUTHENTICATION_REQUIRED',
      CHALLENGE,
    ]);
    for (const refreshToken of ['not-a-token', `lkr_${'0'.repeat(32)}.${'1'.repeat(44)}`]) {
      const bad = await refresh({ refreshToken });
      expect([bad.statusCode, bad.json().error.code, bad.headers['www-authenticate']]).toEqual([
        401,
        'REFRESH_TOKEN_INVALID',
        INVALID_TOKEN,
      ]);
    }
    expect((await refresh({ refreshToken: issued.refreshToken })).statusCode).toBe(200);
    f.clock.advance(60_000);
    const reused = await refresh({ refreshToken: issued.refreshToken });
    expect([reused.statusCode, reused.json().error.code, reused.headers['www-authenticate']]).toEqual([
      401,
      'REFRESH_TOKEN_REUSED',
      INVALID_TOKEN,
    ]);
  });
});

describe('stored app settings', () => {
  const secret = 'an-hs256-secret-of-well-over-32-characters';
  const settings = { accessTokens: { algorithm: 'HS256' as const, secret, audience: 'orders' } };
  const cipher = new SessionDataCipher({ current: DATA_KEYS.current, keys: { ...DATA_KEYS.keys } }, cryptoRandom);
  const put = (store: Store, id: string, value: string) =>
    store.putEntry(SYSTEM_APP_ID, APPS_NAMESPACE, { key: id, value, expiresAt: T0 + 1e12 }, T0);

  it('hold secrets sealed with the data keys; the server opens them, at start and on reload', async () => {
    const value = sealAppSettings(cipher, 'orders', settings);
    expect(value).not.toContain(secret);
    expect(JSON.parse(value).accessTokens).toMatchObject({ algorithm: 'HS256', audience: 'orders' });
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    await put(store, 'orders', value);
    const f = await startFixture({ store, clock });
    expect(f.latchkey.settings('orders').accessTokens?.secret).toBe(secret);
    await put(store, 'billing', sealAppSettings(cipher, 'billing', settings));
    clock.advance(1000);
    expect(
      (await f.app.inject({ method: 'POST', url: '/v1/auth/nonce', headers: { 'latchkey-app': 'billing' } })).statusCode,
    ).toBe(200);
    expect(f.latchkey.settings('billing').accessTokens?.secret).toBe(secret);
    // Sealing needs the keys: never a secret in plain text by accident.
    expect(() => sealAppSettings(null, 'orders', settings)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('refuse a sealed secret moved to another app, or without the data keys, naming the app and not the secret', async () => {
    const moved = new MemoryStore();
    await put(moved, 'thief', sealAppSettings(cipher, 'orders', settings));
    const failure = await startFixture({ store: moved }).then(
      () => new Error('started'),
      (e: unknown) => e as Error & { code?: string },
    );
    expect(failure).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(failure.message).toContain('thief');
    expect(failure.message).not.toContain(secret);

    const sealed = new MemoryStore();
    await put(sealed, 'orders', sealAppSettings(cipher, 'orders', settings));
    const latchkey = new Latchkey({ store: sealed, cleanupIntervalSeconds: 0 });
    await expect(createServer({ latchkey, store: sealed, logger: false })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/orders.*dataKeys/),
    });
  });
});
