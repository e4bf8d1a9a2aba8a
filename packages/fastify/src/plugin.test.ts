import { Latchkey, ManualClock, MemoryStore } from '@latchkey/core';
import { createStamp, generateP256KeyPair, openCredentialBundle, toHex } from '@latchkey/protocol';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latchkey, WalletAuthenticator } from './index.js';

const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const ADDRESS = '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';
const ORIGIN = 'https://app.example.com';
const COOKIE = '__Host-latchkey-session-default';
const engine = new Latchkey({
  store: new MemoryStore(),
  cleanupIntervalSeconds: 0,
  defaults: { roles: { member: ['read:profile', 'write:profile'] }, defaultRoles: ['member'] },
});

let app: FastifyInstance;
let readWrite = '';
let readOnly = '';

beforeAll(async () => {
  readWrite = (await engine.createSession({ account: ALICE, authMethod: 'siwe' })).token;
  readOnly = (await engine.createSession({ account: ALICE, authMethod: 'siwe', scope: 'read-only' })).token;
  app = Fastify();
  await app.register(latchkey, { engine });
  app.get('/me', { preHandler: app.latchkey.require() }, async (request) => ({
    address: request.latchkey.wallet?.address,
    scope: request.latchkey.session?.scope,
    via: request.latchkey.via,
  }));
  app.get('/early', { onRequest: app.latchkey.require() }, async (request) => ({ id: request.latchkey.session?.id }));
  app.get('/hello', { preHandler: app.latchkey.optional() }, async (request) => ({
    hello: request.latchkey.wallet?.address ?? 'stranger',
  }));
  app.put('/profile', { preHandler: [app.latchkey.require(), app.latchkey.requirePermission('write:profile')] }, async () => ({
    saved: true,
  }));
  app.get('/unguarded', { preHandler: app.latchkey.requirePermission('read:profile') }, async () => ({ reached: true }));
  await app.ready();
});

afterAll(async () => {
  await app.close();
  engine.close();
});

interface Case {
  name: string;
  method?: 'GET' | 'PUT';
  url: string;
  headers?: () => Record<string, string>;
  status: number;
  challenge?: string;
  code?: string;
  body?: unknown;
}

const bearer = (token: () => string) => () => ({ authorization: `Bearer ${token()}` });

const cases: Case[] = [
  { name: 'no credential', url: '/me', status: 401, challenge: 'Bearer realm="latchkey"', code: 'AUTHENTICATION_REQUIRED' },
  {
    name: 'a bearer token',
    url: '/me',
    headers: bearer(() => readWrite),
    status: 200,
    body: { address: ADDRESS, scope: 'read-write', via: 'engine' },
  },
  {
    name: 'the session cookie, not read by default',
    url: '/me',
    headers: () => ({ cookie: `${COOKIE}=${readOnly}` }),
    status: 401,
    challenge: 'Bearer realm="latchkey"',
    code: 'AUTHENTICATION_REQUIRED',
  },
  { name: 'as onRequest, no credential', url: '/early', status: 401, code: 'AUTHENTICATION_REQUIRED' },
  {
    name: 'an unknown token',
    url: '/me',
    headers: () => ({ authorization: `Bearer lks_${'0'.repeat(32)}.${'1'.repeat(44)}` }),
    status: 401,
    challenge: 'Bearer realm="latchkey", error="invalid_token"',
    code: 'SESSION_NOT_FOUND',
  },
  {
    name: 'a malformed header',
    url: '/me',
    headers: () => ({ authorization: 'Bearer a b' }),
    status: 400,
    challenge: 'Bearer realm="latchkey", error="invalid_request"',
    code: 'VALIDATION_AUTHORIZATION_MALFORMED',
  },
  { name: 'optional, anonymous', url: '/hello', status: 200, body: { hello: 'stranger' } },
  { name: 'optional, with a session', url: '/hello', headers: bearer(() => readOnly), status: 200, body: { hello: ADDRESS } },
  {
    name: 'optional, an invalid token',
    url: '/hello',
    headers: () => ({ authorization: 'Bearer nope' }),
    status: 401,
    challenge: 'Bearer realm="latchkey", error="invalid_token"',
    code: 'TOKEN_MALFORMED',
  },
  {
    name: 'write with read-write',
    method: 'PUT',
    url: '/profile',
    headers: bearer(() => readWrite),
    status: 200,
    body: { saved: true },
  },
  {
    name: 'write with read-only',
    method: 'PUT',
    url: '/profile',
    headers: bearer(() => readOnly),
    status: 403,
    challenge: 'Bearer realm="latchkey", error="insufficient_scope", scope="write:profile"',
    code: 'PERMISSION_DENIED',
  },
  { name: 'write, anonymous', method: 'PUT', url: '/profile', status: 401, challenge: 'Bearer realm="latchkey"' },
  { name: 'a permission without authentication before it', url: '/unguarded', status: 500 },
];

describe('@latchkey/fastify', () => {
  it.each(cases)('$name → $status', async (c) => {
    const response = await app.inject({ method: c.method ?? 'GET', url: c.url, headers: c.headers?.() });
    expect(response.statusCode).toBe(c.status);
    if (c.challenge !== undefined) expect(response.headers['www-authenticate']).toBe(c.challenge);
    const body = response.json() as { error?: { code: string; message: string } };
    if (c.body !== undefined) expect(body).toEqual(c.body);
    if (c.code !== undefined) expect(body.error?.code).toBe(c.code);
    if (c.status >= 400 && c.status < 500) {
      expect(response.headers['cache-control']).toBe('no-store');
      expect(typeof body.error?.message).toBe('string');
    }
  });

  it('refuses a revoked session on the next request', async () => {
    const { token } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    const me = () => app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } });
    expect((await me()).statusCode).toBe(200);
    await engine.revokeSession(token);
    expect((await me()).statusCode).toBe(401);
  });

  it('refuses bad options and permissions when registered and when asked', async () => {
    const bad = Fastify();
    await expect(bad.register(latchkey, {} as never).ready()).rejects.toThrowError(/exactly one of engine, remote, jwt/);
    expect(() => app.latchkey.requirePermission('write profile')).toThrowError(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });

  it('accepts a shared authenticator and names its hooks', async () => {
    const authenticator = new WalletAuthenticator({ engine });
    const other = Fastify();
    await other.register(latchkey, { authenticator });
    expect(other.latchkey.authenticator).toBe(authenticator);
    expect(other.latchkey.require().name).toBe('requireWalletAuthentication');
    expect(other.latchkey.optional().name).toBe('optionalWalletAuthentication');
    await other.close();
  });

  it('answers 503 when the store is down, on required and optional routes', async () => {
    const downStore = new MemoryStore();
    const down = new Latchkey({ store: downStore, cleanupIntervalSeconds: 0 });
    const { token } = await down.createSession({ account: ALICE, authMethod: 'siwe' });
    const other = Fastify();
    await other.register(latchkey, { engine: down });
    other.get('/r', { preHandler: other.latchkey.require() }, async () => ({ passed: true }));
    other.get('/o', { preHandler: other.latchkey.optional() }, async () => ({ passed: true }));
    await downStore.close();
    for (const url of ['/r', '/o']) {
      const response = await other.inject({ url, headers: { authorization: `Bearer ${token}` } });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: 'The session store could not answer.' } });
    }
    await other.close();
    down.close();
  });
});

describe('@latchkey/fastify with the session cookie (opt-in, CSRF rule)', () => {
  let cookieApp: FastifyInstance;
  beforeAll(async () => {
    cookieApp = Fastify();
    await cookieApp.register(latchkey, { engine, cookieName: COOKIE, allowedOrigins: [ORIGIN] });
    cookieApp.get('/me', { preHandler: cookieApp.latchkey.require() }, async (request) => ({
      scope: request.latchkey.session?.scope,
    }));
    cookieApp.put(
      '/profile',
      { onRequest: [cookieApp.latchkey.require(), cookieApp.latchkey.requirePermission('write:profile')] },
      async () => ({ saved: true }),
    );
    cookieApp.post('/hello', { preHandler: cookieApp.latchkey.optional() }, async (request) => ({
      hello: request.latchkey.wallet?.address ?? 'stranger',
    }));
    await cookieApp.ready();
  });
  afterAll(() => cookieApp.close());

  const cookie = () => `${COOKIE}=${readWrite}`;
  it.each([
    ['a read with the cookie', 'GET', '/me', () => ({ cookie: cookie() }), 200, undefined],
    ['a HEAD with the cookie', 'HEAD', '/me', () => ({ cookie: cookie() }), 200, undefined],
    ['a write without Origin', 'PUT', '/profile', () => ({ cookie: cookie() }), 403, 'CSRF_REJECTED'],
    [
      'a write from a sibling subdomain',
      'PUT',
      '/profile',
      () => ({ cookie: cookie(), origin: 'https://evil.example.com', 'sec-fetch-site': 'same-site' }),
      403,
      'CSRF_REJECTED',
    ],
    [
      'a POST on an optional route from another site',
      'POST',
      '/hello',
      () => ({ cookie: cookie(), origin: 'https://attacker.test' }),
      403,
      'CSRF_REJECTED',
    ],
    ["a write from the app's origin", 'PUT', '/profile', () => ({ cookie: cookie(), origin: ORIGIN }), 200, undefined],
    [
      'a write with Sec-Fetch-Site: same-origin',
      'PUT',
      '/profile',
      () => ({ cookie: cookie(), 'sec-fetch-site': 'same-origin' }),
      200,
      undefined,
    ],
    [
      'a bearer write from another origin',
      'PUT',
      '/profile',
      () => ({ authorization: `Bearer ${readWrite}`, origin: 'https://attacker.test' }),
      200,
      undefined,
    ],
  ] as const)('%s', async (_name, method, url, headers, status, code) => {
    const response = await cookieApp.inject({ method, url, headers: headers() });
    expect(response.statusCode).toBe(status);
    if (code) {
      expect(response.json()).toMatchObject({ error: { code } });
      expect(response.headers['www-authenticate']).toBeUndefined();
      expect(response.headers['cache-control']).toBe('no-store');
    }
  });

  it('refuses a cookie without allowedOrigins, and remote http:// off this machine, when registered', async () => {
    const noOrigins = Fastify();
    await expect(noOrigins.register(latchkey, { engine, cookieName: COOKIE } as never).ready()).rejects.toThrowError(
      /^allowedOrigins: required with cookieName/,
    );
    const clear = Fastify();
    await expect(
      clear.register(latchkey, { remote: { url: 'http://auth.example.com', apiKey: 'lka_0123456789abcdef.secret' } }).ready(),
    ).rejects.toThrowError(/^remote.url: .*in clear/);
  });
});

describe('@latchkey/fastify in remote mode watches responses', () => {
  it('forgets a token after a 401 for it and a wallet after a DELETE on a session', async () => {
    const { session } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    let introspections = 0;
    // A stand-in authority; the real server is exercised in examples/.
    const authority = Fastify();
    authority.post('/v1/sessions/introspect', async () => {
      introspections++;
      return { active: true, session };
    });
    const authorityUrl = await authority.listen({ host: '127.0.0.1', port: 0 });
    const other = Fastify();
    await other.register(latchkey, { remote: { url: authorityUrl, apiKey: 'lka_0123456789abcdef.secret', cacheSeconds: 30 } });
    other.get('/ok', { preHandler: other.latchkey.require() }, async () => ({ ok: true }));
    other.get('/downstream-refused', { preHandler: other.latchkey.require() }, async (_request, reply) =>
      reply.code(401).send({ error: { code: 'TOKEN_INVALID' } }),
    );
    other.delete('/v1/session', { preHandler: other.latchkey.require() }, async (_request, reply) => reply.code(204).send());
    const token = `lks_${session.id}.${'2'.repeat(44)}`;
    const call = (url: string, method: 'GET' | 'DELETE' = 'GET') =>
      other.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
    await call('/ok');
    await call('/ok');
    expect(introspections).toBe(1);
    await call('/downstream-refused');
    await call('/ok');
    expect(introspections).toBe(2);
    await call('/v1/session', 'DELETE');
    await call('/ok');
    expect(introspections).toBe(3);
    other.latchkey.forget(token);
    await call('/ok');
    expect(introspections).toBe(4);
    await other.close();
    await authority.close();
  });
});

describe('@latchkey/fastify with signed requests (stamps)', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const keyed = new Latchkey({ store: new MemoryStore(), clock, cleanupIntervalSeconds: 0 });
  const errors: string[] = [];
  const logger = { error: (m: string) => void errors.push(m), warn() {}, info() {}, debug() {} };
  let signed: FastifyInstance;
  let token = '';
  let key: { id: string; privateKey: Uint8Array };

  beforeAll(async () => {
    const issued = await keyed.createSession({ account: ALICE, authMethod: 'siwe' });
    token = issued.token;
    const target = generateP256KeyPair();
    const made = await keyed.sessionKeys.create({
      session: issued.session,
      scope: 'read-write',
      targetPublicKey: toHex(target.publicKey),
    });
    key = { id: made.sessionKey.id, privateKey: await openCredentialBundle(made.credentialBundle!, target.privateKey) };

    // rewriteUrl changes request.url; a stamp signs the request line as sent.
    signed = Fastify({ bodyLimit: 1024, rewriteUrl: (req) => (req.url ?? '/').replace(/^\/legacy\//, '/') });
    await signed.register(latchkey, { engine: keyed, logger });
    // The host's own parsers are untouched: Fastify's JSON parser, and one the host adds.
    signed.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => done(null, `parsed:${body}`));
    const echo = async (request: FastifyRequest) => ({
      body: request.body ?? null,
      keyId: request.latchkey.stamp?.keyId ?? null,
    });
    await signed.register(
      async (v2) => {
        await v2.register(
          async (wallet) => {
            wallet.post('/transfer', { preHandler: signed.latchkey.require({ stamps: 'required' }) }, echo);
            wallet.get('/balance', { preHandler: signed.latchkey.require() }, echo);
            wallet.post('/early', { onRequest: signed.latchkey.require() }, echo);
            wallet.get('/early', { onRequest: signed.latchkey.require() }, echo);
          },
          { prefix: '/wallet' },
        );
      },
      { prefix: '/v2' },
    );
    signed.post('/hello', { preHandler: signed.latchkey.optional({ stamps: 'required' }) }, async (request) => ({
      via: request.latchkey.via,
    }));
    await signed.ready();
  });
  afterAll(async () => {
    await signed.close();
    keyed.close();
  });

  async function send(
    method: 'GET' | 'POST',
    url: string,
    options: { body?: string; contentType?: string; signedUrl?: string; credential?: boolean } = {},
  ) {
    const stamp = await createStamp(
      key.privateKey,
      key.id,
      { method, path: options.signedUrl ?? url, body: options.body ?? null },
      { now: clock.now() },
    );
    return signed.inject({
      method,
      url,
      headers: {
        ...(options.credential === false ? {} : { authorization: `Bearer ${token}` }),
        'latchkey-signature': stamp,
        ...(options.body === undefined ? {} : { 'content-type': options.contentType ?? 'application/json' }),
      },
      ...(options.body === undefined ? {} : { payload: options.body }),
    });
  }

  it('verifies against the full path under nested prefixes, and the host still parses the body its own way', async () => {
    const json = await send('POST', '/v2/wallet/transfer?to=bob', { body: '{ "amount": 1 }' });
    expect([json.statusCode, json.json()]).toEqual([200, { body: { amount: 1 }, keyId: key.id }]);
    const text = await send('POST', '/v2/wallet/transfer', { body: 'gm', contentType: 'text/plain' });
    expect(text.json()).toEqual({ body: 'parsed:gm', keyId: key.id });
    const prefixless = await send('POST', '/v2/wallet/transfer', { body: '{}', signedUrl: '/transfer' });
    expect([prefixless.statusCode, prefixless.json().error.code]).toEqual([401, 'SIGNATURE_INVALID']);
    const unsigned = await signed.inject({
      method: 'POST',
      url: '/v2/wallet/transfer',
      headers: { authorization: `Bearer ${token}` },
      payload: {},
    });
    expect([unsigned.statusCode, unsigned.json().error.code]).toEqual([401, 'SIGNATURE_REQUIRED']);
  });

  it('signs the URL as sent, not as rewritten', async () => {
    const response = await send('GET', '/legacy/v2/wallet/balance?x=1');
    expect([response.statusCode, response.json().keyId]).toEqual([200, key.id]);
  });

  it('verifies over basePath + the URL as sent behind a proxy that strips a prefix; a bad basePath fails registration', async () => {
    const proxied = Fastify();
    await proxied.register(latchkey, { engine: keyed, basePath: '/prefix' });
    proxied.get('/api/x', { preHandler: proxied.latchkey.require() }, async (request) => ({
      keyId: request.latchkey.stamp?.keyId ?? null,
    }));
    await proxied.ready();
    const stampFor = (path: string) =>
      createStamp(key.privateKey, key.id, { method: 'GET', path, body: null }, { now: clock.now() });
    const get = async (app: FastifyInstance, url: string, signedPath: string) =>
      app.inject({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${token}`, 'latchkey-signature': await stampFor(signedPath) },
      });
    const passed = await get(proxied, '/api/x?y=1', '/prefix/api/x?y=1');
    expect([passed.statusCode, passed.json()]).toEqual([200, { keyId: key.id }]);
    const stripped = await get(proxied, '/api/x?y=1', '/api/x?y=1');
    expect([stripped.statusCode, stripped.json().error.code]).toEqual([401, 'SIGNATURE_INVALID']);
    // Without basePath, a stamp over the public path does not match the URL received.
    const unprefixed = await get(signed, '/v2/wallet/balance', '/prefix/v2/wallet/balance');
    expect([unprefixed.statusCode, unprefixed.json().error.code]).toEqual([401, 'SIGNATURE_INVALID']);
    await proxied.close();
    const refused = Fastify();
    await expect(refused.register(latchkey, { engine: keyed, basePath: 'prefix/' })).rejects.toThrowError(/^basePath: /);
    await refused.close();
  });

  it('keeps the body limit on stamped requests', async () => {
    const response = await send('POST', '/v2/wallet/transfer', { body: JSON.stringify({ pad: 'x'.repeat(2000) }) });
    expect(response.statusCode).toBe(413);
  });

  it('answers 500 (logged) for a stamped body an onRequest guard cannot see; a stamped GET there is fine', async () => {
    errors.length = 0;
    const response = await send('POST', '/v2/wallet/early', { body: '{}' });
    expect([response.statusCode, response.json().error.code]).toEqual([500, 'CONFIG_INVALID']);
    expect(errors).toEqual([expect.stringMatching(/raw body was not kept .*preHandler/)]);
    expect((await send('GET', '/v2/wallet/early')).statusCode).toBe(200);
  });

  it('lets an anonymous request through an optional guard whatever it carries', async () => {
    const response = await send('POST', '/hello', { body: '{}', credential: false });
    expect(response.json()).toEqual({ via: null });
  });

  it('validates guard options when a hook is made; the default hooks are shared', async () => {
    expect(signed.latchkey.require()).toBe(signed.latchkey.require());
    expect(() => signed.latchkey.require({ stamps: 'always' as never })).toThrowError(
      /^stamps: expected 'optional' or 'required'/,
    );
    const jwtApp = Fastify();
    await jwtApp.register(latchkey, { jwt: { jwks: await keyedJwks(), issuer: 'i', audience: 'a' } });
    expect(() => jwtApp.latchkey.require({ stamps: 'required' })).toThrowError(/not available in JWT mode/);
    await jwtApp.close();
  });
});

/** A JWKS with one usable key, for JWT-mode option checks. */
async function keyedJwks() {
  const issuer = new Latchkey({
    store: new MemoryStore(),
    cleanupIntervalSeconds: 0,
    dataKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } },
    defaults: { accessTokens: { issuer: 'i', audience: 'a' } },
  });
  await issuer.createSession({ account: ALICE, authMethod: 'siwe' });
  const jwks = await issuer.getJwks();
  issuer.close();
  return jwks;
}
