import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isLatchkeyError } from '../errors/index.js';
import { ManualClock } from '../runtime.js';
import { Latchkey } from '../session/engine.js';
import { MemoryStore } from '../store/memory.js';
import { WalletAuthenticator } from './authenticator.js';
import { ANONYMOUS } from './context.js';
import type { JwtModeOptions } from './options.js';

const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const T0 = Date.UTC(2026, 0, 1, 12);
const ACCESS = { audience: 'api.example.com', issuer: 'https://auth.example.com' };
const ROLES = { member: ['read:profile', 'write:profile'] };

const clock = new ManualClock(T0);
const engine = new Latchkey({
  store: new MemoryStore(),
  clock,
  cleanupIntervalSeconds: 0,
  dataKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } },
  defaults: { accessTokens: ACCESS, roles: ROLES, defaultRoles: ['member'] },
});

/** Serves the engine's JWKS, or fails on command. */
const jwks = { server: null as Server | null, url: '', fetches: 0, isDown: false };

beforeAll(async () => {
  jwks.server = createServer((_req, res) => {
    jwks.fetches++;
    if (jwks.isDown) return void res.writeHead(503).end();
    void engine.getJwks().then((doc) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc)));
  });
  await new Promise<void>((resolve) => jwks.server!.listen(0, '127.0.0.1', resolve));
  jwks.url = `http://127.0.0.1:${(jwks.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  // Signing keys are made on first use: issue one token so the JWKS has a key.
  await engine.createSession({ account: ALICE, authMethod: 'siwe' });
});

afterAll(async () => {
  engine.close();
  jwks.server?.closeAllConnections();
  await new Promise((resolve) => jwks.server?.close(resolve));
});

beforeEach(() => {
  // The clock only moves forward: signing keys rotate across tests.
  jwks.fetches = 0;
  jwks.isDown = false;
});

async function accessToken(scope: 'read-only' | 'read-write' = 'read-write'): Promise<string> {
  const issued = await engine.createSession({ account: ALICE, authMethod: 'siwe', scope });
  return issued.accessToken!;
}

function authenticator(jwt: Partial<JwtModeOptions['jwt']>): (token: string) => ReturnType<WalletAuthenticator['authenticate']> {
  const a = new WalletAuthenticator({ jwt: { ...ACCESS, roles: ROLES, ...jwt }, clock });
  return (token) => a.authenticate({ authorization: `Bearer ${token}` }, { isRequired: true });
}

describe('JWT mode with a JWKS in memory', () => {
  it('verifies an access token and derives permissions from the role map', async () => {
    const check = authenticator({ jwks: await engine.getJwks() });
    const outcome = await check(await accessToken());
    expect(outcome).toMatchObject({
      kind: 'authenticated',
      context: {
        via: 'jwt',
        session: {
          account: 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045',
          address: '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045',
          chainType: 'eip155',
          scope: 'read-write',
          roles: ['member'],
          permissions: ['read:profile', 'write:profile'],
        },
        wallet: { reference: '1', chainType: 'eip155' },
        claims: { iss: ACCESS.issuer, aud: ACCESS.audience },
      },
    });
  });

  it('gives a read-only session only read permissions', async () => {
    const check = authenticator({ jwks: await engine.getJwks() });
    const outcome = await check(await accessToken('read-only'));
    expect(outcome.kind === 'authenticated' && outcome.context.session.permissions).toEqual(['read:profile']);
  });

  it('knows no permissions without a role map', async () => {
    const check = authenticator({ jwks: await engine.getJwks(), roles: undefined });
    const outcome = await check(await accessToken());
    expect(outcome.kind === 'authenticated' && outcome.context.session.permissions).toEqual([]);
  });

  it.each([
    ['another audience', { audience: 'other' }, 'ACCESS_TOKEN_AUDIENCE_INVALID'],
    ['another issuer', { issuer: 'other' }, 'ACCESS_TOKEN_ISSUER_INVALID'],
  ])('refuses %s', async (_name, change, code) => {
    const check = authenticator({ jwks: await engine.getJwks(), ...change });
    expect(await check(await accessToken())).toMatchObject({
      kind: 'refused',
      answer: {
        status: 401,
        body: { error: { code } },
        headers: { 'www-authenticate': 'Bearer realm="latchkey", error="invalid_token"' },
      },
    });
  });

  it('refuses an expired token, a session token and a forged signature', async () => {
    const check = authenticator({ jwks: await engine.getJwks() });
    const token = await accessToken();
    const [h, p, s] = token.split('.') as [string, string, string];
    const forged = `${h}.${p}.${s.slice(0, -4)}AAAA`;
    expect(await check(forged)).toMatchObject({ answer: { body: { error: { code: 'ACCESS_TOKEN_SIGNATURE_INVALID' } } } });
    const issued = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    expect(await check(issued.token)).toMatchObject({ answer: { body: { error: { code: 'ACCESS_TOKEN_MALFORMED' } } } });
    clock.advance(3_600_000);
    expect(await check(token)).toMatchObject({ answer: { status: 401, body: { error: { code: 'ACCESS_TOKEN_EXPIRED' } } } });
  });

  it('reads no cookie by default: a browser carrying the Latchkey session cookie is anonymous on optional routes', async () => {
    const a = new WalletAuthenticator({ jwt: { ...ACCESS, roles: ROLES, jwks: await engine.getJwks() }, clock });
    const { token } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    const cookie = `theme=dark; __Host-latchkey-session-default=${token}; latchkey-session-default=${token}`;
    expect(await a.authenticate({ cookie }, { isRequired: false, method: 'GET' })).toEqual({
      kind: 'anonymous',
      context: ANONYMOUS,
    });
    expect(await a.authenticate({ cookie }, { isRequired: true, method: 'GET' })).toMatchObject({
      kind: 'refused',
      answer: { status: 401, body: { error: { code: 'AUTHENTICATION_REQUIRED' } } },
    });
  });

  it('refuses a JWKS with no usable key at construction', () => {
    expect(() => authenticator({ jwks: { keys: [{ kty: 'RSA', kid: 'r', alg: 'RS256' }] } })).toThrowError(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    try {
      authenticator({ jwks: { keys: [] } });
    } catch (error) {
      expect(isLatchkeyError(error, 'CONFIG_INVALID') && error.message).toMatch(/^jwt.jwks: no usable key/);
    }
  });
});

describe('JWT mode with a JWKS URL', () => {
  it('fetches the JWKS once, over HTTP, and reuses it', async () => {
    const check = authenticator({ jwksUrl: jwks.url });
    const token = await accessToken();
    expect((await check(token)).kind).toBe('authenticated');
    expect((await check(token)).kind).toBe('authenticated');
    expect(jwks.fetches).toBe(1);
    clock.advance(300_000);
    expect((await check(token)).kind).toBe('authenticated');
    expect(jwks.fetches).toBe(2);
  });

  it('fetches again for an unknown key id, at most once per cooldown', async () => {
    const check = authenticator({ jwksUrl: jwks.url, jwksCooldownSeconds: 30 });
    expect((await check(await accessToken())).kind).toBe('authenticated');
    expect(jwks.fetches).toBe(1);
    await engine.rotateSigningKey();
    clock.advance(60_000); // keyPublishSeconds: the new key signs from now
    const fresh = await accessToken();
    expect((await check(fresh)).kind).toBe('authenticated');
    expect(jwks.fetches).toBe(2);

    // A key id nobody published: one fetch, then refused without fetching for the cooldown.
    const [, p, s] = fresh.split('.') as [string, string, string];
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'unknown-kid', typ: 'at+jwt' })).toString('base64url');
    clock.advance(30_000);
    expect(await check(`${header}.${p}.${s}`)).toMatchObject({
      answer: { status: 401, body: { error: { code: 'ACCESS_TOKEN_KEY_UNKNOWN' } } },
    });
    expect(jwks.fetches).toBe(3);
    for (let i = 0; i < 5; i++) await check(`${header}.${p}.${s}`);
    expect(jwks.fetches).toBe(3);
  });

  it('answers 503 when the JWKS was never fetched, then recovers', async () => {
    jwks.isDown = true;
    const check = authenticator({ jwksUrl: jwks.url });
    const token = await accessToken();
    expect(await check(token)).toMatchObject({
      kind: 'refused',
      answer: { status: 503, body: { error: { code: 'STORE_UNAVAILABLE' } } },
    });
    jwks.isDown = false;
    expect((await check(token)).kind).toBe('authenticated');
  });

  it('answers 503 for an unknown key id when the JWKS cannot be fetched, but keeps using known keys', async () => {
    const check = authenticator({ jwksUrl: jwks.url, jwksCacheSeconds: 60, jwksCooldownSeconds: 1 });
    const token = await accessToken();
    expect((await check(token)).kind).toBe('authenticated');
    jwks.isDown = true;
    clock.advance(61_000);
    expect((await check(token)).kind).toBe('authenticated');
    expect(jwks.fetches).toBe(2);
    await engine.rotateSigningKey();
    clock.advance(60_000);
    expect(await check(await accessToken())).toMatchObject({ kind: 'refused', answer: { status: 503 } });
  });

  it('trusts a stale JWKS for known keys for at most jwksMaxStaleSeconds, then answers 503 until it is fetched', async () => {
    const check = authenticator({ jwksUrl: jwks.url, jwksCacheSeconds: 60, jwksCooldownSeconds: 1, jwksMaxStaleSeconds: 120 });
    const token = await accessToken();
    expect((await check(token)).kind).toBe('authenticated');
    jwks.isDown = true;
    clock.advance(60_000 + 119_999);
    expect((await check(token)).kind).toBe('authenticated');
    clock.advance(1);
    const unavailable = { kind: 'refused', answer: { status: 503, body: { error: { code: 'STORE_UNAVAILABLE' } } } };
    expect(await check(token)).toMatchObject(unavailable);
    // Within the cooldown nothing is fetched, and the too-stale set still decides nothing.
    const fetches = jwks.fetches;
    expect(await check(token)).toMatchObject(unavailable);
    expect(jwks.fetches).toBe(fetches);
    jwks.isDown = false;
    clock.advance(1_000);
    expect((await check(token)).kind).toBe('authenticated');
    expect(jwks.fetches).toBe(fetches + 1);
  });

  it('bounds staleness at 600 seconds by default', async () => {
    const check = authenticator({ jwksUrl: jwks.url, jwksCacheSeconds: 60, jwksCooldownSeconds: 1 });
    const token = await accessToken();
    expect((await check(token)).kind).toBe('authenticated');
    jwks.isDown = true;
    clock.advance(60_000 + 599_000);
    expect((await check(token)).kind).toBe('authenticated');
    clock.advance(1_000);
    expect(await check(token)).toMatchObject({ kind: 'refused', answer: { status: 503 } });
  });

  it('answers 503 when the JWKS server does not answer in time', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const check = authenticator({ jwksUrl: `http://127.0.0.1:${port}/jwks.json`, timeoutSeconds: 0.2 });
      expect(await check(await accessToken())).toMatchObject({ kind: 'refused', answer: { status: 503 } });
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
