import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Latchkey } from '../session/engine.js';
import { MemoryStore } from '../store/memory.js';
import { assertPermission, permissionAnswer, WalletAuthenticator } from './authenticator.js';
import { ANONYMOUS } from './context.js';

const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const store = new MemoryStore();
const engine = new Latchkey({
  store,
  cleanupIntervalSeconds: 0,
  defaults: { roles: { member: ['read:profile', 'write:profile'] }, defaultRoles: ['member'] },
  apps: { shop: {} },
});
afterAll(() => engine.close());

const required = { isRequired: true, method: 'GET' };
const optional = { isRequired: false, method: 'GET' };
const ORIGIN = 'https://app.example.com';

describe('WalletAuthenticator with the engine', () => {
  const authenticator = new WalletAuthenticator({ engine });
  const withCookie = new WalletAuthenticator({ engine, cookieName: '__Host-latchkey-session-default', allowedOrigins: [ORIGIN] });

  it('authenticates a session token from the header, or from the cookie when one is configured', async () => {
    const { token, session } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    for (const [a, headers] of [
      [authenticator, { authorization: `Bearer ${token}` }],
      [withCookie, { cookie: `theme=dark; __Host-latchkey-session-default=${token}` }],
    ] as const) {
      const outcome = await a.authenticate(headers, required);
      expect(outcome).toMatchObject({
        kind: 'authenticated',
        remembered: null,
        context: { via: 'engine', session: { id: session.id } },
      });
      expect(outcome.kind === 'authenticated' && outcome.context.wallet).toEqual({
        account: session.account,
        chainType: 'eip155',
        reference: '1',
        address: session.address,
      });
    }
  });

  it('reads no cookie unless one is configured', async () => {
    const { token } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    const cookie = `__Host-latchkey-session-default=${token}`;
    expect(await authenticator.authenticate({ cookie }, optional)).toEqual({ kind: 'anonymous', context: ANONYMOUS });
    expect(await authenticator.authenticate({ cookie }, required)).toMatchObject({
      kind: 'refused',
      answer: { status: 401, body: { error: { code: 'AUTHENTICATION_REQUIRED' } } },
    });
  });

  it('says which token a request carries, header first, for forwarding it', async () => {
    expect(withCookie.tokenOf({ authorization: 'Bearer abc', cookie: '__Host-latchkey-session-default=def' })).toBe('abc');
    expect(withCookie.tokenOf({ cookie: 'a=1; __Host-latchkey-session-default=def' })).toBe('def');
    expect(authenticator.tokenOf({ cookie: '__Host-latchkey-session-default=def' })).toBeNull();
    expect(withCookie.tokenOf({ authorization: 'Basic x' })).toBeNull();
    expect(withCookie.tokenOf({})).toBeNull();
  });

  it.each([
    [
      'no credential, required',
      {},
      required,
      { kind: 'refused', answer: { status: 401, body: { error: { code: 'AUTHENTICATION_REQUIRED' } } } },
    ],
    ['no credential, optional', {}, optional, { kind: 'anonymous', context: ANONYMOUS }],
    ['malformed header, optional', { authorization: 'Token x' }, optional, { kind: 'refused', answer: { status: 400 } }],
    [
      'unknown token, optional',
      { authorization: `Bearer lks_${'0'.repeat(32)}.${'1'.repeat(44)}` },
      optional,
      { kind: 'refused', answer: { status: 401, body: { error: { code: 'SESSION_NOT_FOUND' } } } },
    ],
    [
      'garbage token',
      { authorization: 'Bearer abc' },
      required,
      { kind: 'refused', answer: { status: 401, body: { error: { code: 'TOKEN_MALFORMED' } } } },
    ],
  ])('%s', async (_name, headers, options, expected) => {
    expect(await authenticator.authenticate(headers, options)).toMatchObject(expected);
  });

  it('refuses at once a revoked session, and a session of another app', async () => {
    const { token } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    const shop = new WalletAuthenticator({ engine, appId: 'shop' });
    expect(await shop.authenticate({ authorization: `Bearer ${token}` }, required)).toMatchObject({ answer: { status: 401 } });
    await engine.revokeSession(token);
    expect(await authenticator.authenticate({ authorization: `Bearer ${token}` }, required)).toMatchObject({
      answer: { status: 401 },
    });
  });

  it('answers 503 when the store cannot answer, even for an optional route', async () => {
    const downStore = new MemoryStore();
    const down = new Latchkey({ store: downStore, cleanupIntervalSeconds: 0 });
    const { token } = await down.createSession({ account: ALICE, authMethod: 'siwe' });
    await downStore.close();
    const a = new WalletAuthenticator({ engine: down });
    for (const options of [required, optional]) {
      expect(await a.authenticate({ authorization: `Bearer ${token}` }, options)).toMatchObject({
        kind: 'refused',
        answer: { status: 503, body: { error: { code: 'STORE_UNAVAILABLE' } } },
      });
    }
    down.close();
  });
});

describe('CSRF defence for a cookie credential', () => {
  const a = new WalletAuthenticator({ engine, cookieName: 'sid', allowedOrigins: [ORIGIN, 'http://localhost:5173'] });
  let cookie = '';
  beforeAll(async () => {
    cookie = `sid=${(await engine.createSession({ account: ALICE, authMethod: 'siwe' })).token}`;
  });
  const CSRF = {
    kind: 'refused',
    answer: { status: 403, headers: { 'cache-control': 'no-store' }, body: { error: { code: 'CSRF_REJECTED' } } },
  };

  it.each(['GET', 'HEAD', 'OPTIONS', 'get'])('lets a cookie through on %s without Origin', async (method) => {
    expect(await a.authenticate({ cookie }, { isRequired: true, method })).toMatchObject({ kind: 'authenticated' });
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE', 'post', 'PROPFIND'])('refuses a cookie on %s without Origin', async (method) => {
    const outcome = await a.authenticate({ cookie }, { isRequired: true, method });
    expect(outcome).toMatchObject(CSRF);
    expect(outcome.kind === 'refused' && outcome.answer.headers['www-authenticate']).toBeUndefined();
  });

  it.each([
    [
      'a sibling subdomain (SameSite=Lax still sends the cookie)',
      { origin: 'https://evil.example.com', 'sec-fetch-site': 'same-site' },
    ],
    ['another site', { origin: 'https://attacker.test', 'sec-fetch-site': 'cross-site' }],
    ['the opaque origin', { origin: 'null' }],
    ['an allowed host on another port', { origin: 'https://app.example.com:8443' }],
    ['an allowed host over http', { origin: 'http://app.example.com' }],
    ['Sec-Fetch-Site: same-site alone', { 'sec-fetch-site': 'same-site' }],
    ['Sec-Fetch-Site: none', { 'sec-fetch-site': 'none' }],
  ])('refuses a state-changing cookie request from %s', async (_name, headers) => {
    expect(await a.authenticate({ cookie, ...headers }, { isRequired: true, method: 'POST' })).toMatchObject(CSRF);
  });

  it.each([
    ['an allowed origin', { origin: ORIGIN }],
    ['another allowed origin', { origin: 'http://localhost:5173' }],
    ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }],
  ])('accepts a state-changing cookie request from %s', async (_name, headers) => {
    expect(await a.authenticate({ cookie, ...headers }, { isRequired: true, method: 'DELETE' })).toMatchObject({
      kind: 'authenticated',
    });
  });

  it('refuses before the token is checked, and on optional routes too', async () => {
    for (const isRequired of [true, false]) {
      expect(await a.authenticate({ cookie: 'sid=garbage' }, { isRequired, method: 'POST' })).toMatchObject(CSRF);
    }
  });

  it('treats a request whose method is not given as state-changing (fails closed)', async () => {
    expect(await a.authenticate({ cookie }, { isRequired: true })).toMatchObject(CSRF);
    expect(await a.authenticate({ cookie, origin: ORIGIN }, { isRequired: true })).toMatchObject({ kind: 'authenticated' });
  });

  it('does not apply to a bearer token, which a browser never attaches by itself', async () => {
    const token = cookie.slice('sid='.length);
    const headers = { authorization: `Bearer ${token}`, origin: 'https://attacker.test', 'sec-fetch-site': 'cross-site' };
    expect(await a.authenticate(headers, { isRequired: true, method: 'POST' })).toMatchObject({ kind: 'authenticated' });
  });
});

describe('permissions', () => {
  it('passes a granted permission, 403s a missing one, 401s an anonymous request', async () => {
    const rw = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    const ro = await engine.createSession({ account: ALICE, authMethod: 'siwe', scope: 'read-only' });
    const a = new WalletAuthenticator({ engine });
    const contextOf = async (token: string) => {
      const outcome = await a.authenticate({ authorization: `Bearer ${token}` }, required);
      if (outcome.kind !== 'authenticated') throw new Error('expected a session');
      return outcome.context;
    };
    expect(permissionAnswer(await contextOf(rw.token), 'write:profile')).toBeNull();
    expect(permissionAnswer(await contextOf(ro.token), 'read:profile')).toBeNull();
    expect(permissionAnswer(await contextOf(ro.token), 'write:profile')).toMatchObject({
      status: 403,
      headers: { 'www-authenticate': 'Bearer realm="latchkey", error="insufficient_scope", scope="write:profile"' },
      body: { error: { code: 'PERMISSION_DENIED' } },
    });
    expect(permissionAnswer(ANONYMOUS, 'read:profile')).toMatchObject({ status: 401 });
    expect(() => permissionAnswer(undefined, 'read:profile')).toThrowError(/needs requireWalletAuthentication/);
  });

  it.each(['write:profile', 'read:*', '*', 'admin:sessions.all'])('accepts the permission %s', (p) => {
    expect(() => assertPermission(p)).not.toThrow();
  });

  it.each(['', 'write', 'Write:x', 'write:pro file', 'write:"x"', 42])('refuses the permission %s', (p) => {
    expect(() => assertPermission(p)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
