import { afterAll, describe, expect, it } from 'vitest';
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

const required = { isRequired: true };
const optional = { isRequired: false };

describe('WalletAuthenticator with the engine', () => {
  const authenticator = new WalletAuthenticator({ engine });

  it('authenticates a session token from the header or the cookie', async () => {
    const { token, session } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    for (const headers of [
      { authorization: `Bearer ${token}` },
      { cookie: `theme=dark; __Host-latchkey-session-default=${token}` },
    ]) {
      const outcome = await authenticator.authenticate(headers, required);
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
