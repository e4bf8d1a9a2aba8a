import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Latchkey, ManualClock, MemoryStore } from '@latchkey/core';
import { createStamp, generateP256KeyPair, openCredentialBundle, toHex } from '@latchkey/protocol';
import express, { type ErrorRequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  keepRawBody,
  optionalWalletAuthentication,
  requirePermission,
  requireWalletAuthentication,
  WalletAuthenticator,
} from './index.js';

const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const ORIGIN = 'https://app.example.com';
const COOKIE = '__Host-latchkey-session-default';
const store = new MemoryStore();
const engine = new Latchkey({
  store,
  cleanupIntervalSeconds: 0,
  defaults: { roles: { member: ['read:profile', 'write:profile'] }, defaultRoles: ['member'] },
});

async function listen(app: express.Express): Promise<{ url: string; server: Server }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

const servers: Server[] = [];
let base = '';
let readWrite = '';
let readOnly = '';

beforeAll(async () => {
  readWrite = (await engine.createSession({ account: ALICE, authMethod: 'siwe' })).token;
  readOnly = (await engine.createSession({ account: ALICE, authMethod: 'siwe', scope: 'read-only' })).token;
  const latchkey = new WalletAuthenticator({ engine });
  const app = express();
  app.get('/me', requireWalletAuthentication(latchkey), (req, res) => {
    res.json({ address: req.latchkey.wallet?.address, scope: req.latchkey.session?.scope, via: req.latchkey.via });
  });
  app.get('/hello', optionalWalletAuthentication(latchkey), (req, res) => {
    res.json({ hello: req.latchkey.wallet?.address ?? 'stranger' });
  });
  app.put('/profile', requireWalletAuthentication(latchkey), requirePermission('write:profile'), (_req, res) => {
    res.json({ saved: true });
  });
  app.get('/unguarded', requirePermission('read:profile'), (_req, res) => {
    res.json({ reached: true });
  });
  // Cookie reading is opt-in, with the origins a state-changing cookie request may come from.
  const withCookie = new WalletAuthenticator({ engine, cookieName: COOKIE, allowedOrigins: [ORIGIN] });
  app.get('/cookie/me', requireWalletAuthentication(withCookie), (req, res) => {
    res.json({ address: req.latchkey.wallet?.address, scope: req.latchkey.session?.scope, via: req.latchkey.via });
  });
  app.put('/cookie/profile', requireWalletAuthentication(withCookie), requirePermission('write:profile'), (_req, res) => {
    res.json({ saved: true });
  });
  app.post('/cookie/hello', optionalWalletAuthentication(withCookie), (req, res) => {
    res.json({ hello: req.latchkey.wallet?.address ?? 'stranger' });
  });
  const onError: ErrorRequestHandler = (error: { code?: string }, _req, res, _next) => {
    res.status(500).json({ error: { code: error.code ?? 'INTERNAL_ERROR' } });
  };
  app.use(onError);
  const listening = await listen(app);
  servers.push(listening.server);
  base = listening.url;
});

afterAll(async () => {
  for (const server of servers) await close(server);
  engine.close();
});

interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: () => Record<string, string>;
  status: number;
  challenge?: string | null;
  code?: string;
  body?: unknown;
}

const bearer = (token: () => string) => () => ({ authorization: `Bearer ${token()}` });

const cases: Case[] = [
  { name: 'no credential', path: '/me', status: 401, challenge: 'Bearer realm="latchkey"', code: 'AUTHENTICATION_REQUIRED' },
  {
    name: 'a bearer token',
    path: '/me',
    headers: bearer(() => readWrite),
    status: 200,
    body: { address: '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045', scope: 'read-write', via: 'engine' },
  },
  {
    name: 'the session cookie, not read by default',
    path: '/me',
    headers: () => ({ cookie: `${COOKIE}=${readOnly}` }),
    status: 401,
    challenge: 'Bearer realm="latchkey"',
    code: 'AUTHENTICATION_REQUIRED',
  },
  {
    name: 'the session cookie, when configured',
    path: '/cookie/me',
    headers: () => ({ cookie: `${COOKIE}=${readOnly}` }),
    status: 200,
    body: { address: '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045', scope: 'read-only', via: 'engine' },
  },
  {
    name: 'a cookie write without Origin',
    method: 'PUT',
    path: '/cookie/profile',
    headers: () => ({ cookie: `${COOKIE}=${readWrite}` }),
    status: 403,
    challenge: null,
    code: 'CSRF_REJECTED',
  },
  {
    name: 'a cookie write from a sibling subdomain',
    method: 'PUT',
    path: '/cookie/profile',
    headers: () => ({ cookie: `${COOKIE}=${readWrite}`, origin: 'https://evil.example.com', 'sec-fetch-site': 'same-site' }),
    status: 403,
    challenge: null,
    code: 'CSRF_REJECTED',
  },
  {
    name: 'a cookie POST on an optional route from another site',
    method: 'POST',
    path: '/cookie/hello',
    headers: () => ({ cookie: `${COOKIE}=${readWrite}`, origin: 'https://attacker.test' }),
    status: 403,
    code: 'CSRF_REJECTED',
  },
  {
    name: "a cookie write from the app's origin",
    method: 'PUT',
    path: '/cookie/profile',
    headers: () => ({ cookie: `${COOKIE}=${readWrite}`, origin: ORIGIN }),
    status: 200,
    body: { saved: true },
  },
  {
    name: 'a cookie write with Sec-Fetch-Site: same-origin',
    method: 'PUT',
    path: '/cookie/profile',
    headers: () => ({ cookie: `${COOKIE}=${readWrite}`, 'sec-fetch-site': 'same-origin' }),
    status: 200,
    body: { saved: true },
  },
  {
    name: 'a bearer write from another origin (no CSRF rule for bearer tokens)',
    method: 'PUT',
    path: '/cookie/profile',
    headers: () => ({ authorization: `Bearer ${readWrite}`, origin: 'https://attacker.test' }),
    status: 200,
    body: { saved: true },
  },
  {
    name: 'an unknown token',
    path: '/me',
    headers: () => ({ authorization: `Bearer lks_${'0'.repeat(32)}.${'1'.repeat(44)}` }),
    status: 401,
    challenge: 'Bearer realm="latchkey", error="invalid_token"',
    code: 'SESSION_NOT_FOUND',
  },
  {
    name: 'a malformed header',
    path: '/me',
    headers: () => ({ authorization: 'Basic dXNlcjpwYXNz' }),
    status: 400,
    challenge: 'Bearer realm="latchkey", error="invalid_request"',
    code: 'VALIDATION_AUTHORIZATION_MALFORMED',
  },
  { name: 'optional, anonymous', path: '/hello', status: 200, body: { hello: 'stranger' } },
  {
    name: 'optional, with a session',
    path: '/hello',
    headers: bearer(() => readOnly),
    status: 200,
    body: { hello: '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045' },
  },
  {
    name: 'optional, an invalid token',
    path: '/hello',
    headers: () => ({ authorization: 'Bearer nope' }),
    status: 401,
    challenge: 'Bearer realm="latchkey", error="invalid_token"',
    code: 'TOKEN_MALFORMED',
  },
  {
    name: 'write with read-write',
    method: 'PUT',
    path: '/profile',
    headers: bearer(() => readWrite),
    status: 200,
    body: { saved: true },
  },
  {
    name: 'write with read-only',
    method: 'PUT',
    path: '/profile',
    headers: bearer(() => readOnly),
    status: 403,
    challenge: 'Bearer realm="latchkey", error="insufficient_scope", scope="write:profile"',
    code: 'PERMISSION_DENIED',
  },
  { name: 'write, anonymous', method: 'PUT', path: '/profile', status: 401, challenge: 'Bearer realm="latchkey"' },
  { name: 'a permission without authentication before it', path: '/unguarded', status: 500, code: 'CONFIG_INVALID' },
];

describe('@latchkey/express', () => {
  it.each(cases)('$name → $status', async (c) => {
    const response = await fetch(`${base}${c.path}`, { method: c.method ?? 'GET', headers: c.headers?.() });
    expect(response.status).toBe(c.status);
    if (c.challenge !== undefined) expect(response.headers.get('www-authenticate')).toBe(c.challenge);
    const body = (await response.json()) as { error?: { code: string; message: string } };
    if (c.body !== undefined) expect(body).toEqual(c.body);
    if (c.code !== undefined) expect(body.error?.code).toBe(c.code);
    if (c.status >= 400 && c.status < 500) {
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(typeof body.error?.message).toBe('string');
    }
  });

  it('refuses a revoked session on the next request', async () => {
    const { token } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    expect((await fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await engine.revokeSession(token);
    expect((await fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('names its handlers and exposes the authenticator', () => {
    const handler = requireWalletAuthentication({ engine });
    expect(handler.name).toBe('requireWalletAuthentication');
    expect(optionalWalletAuthentication({ engine }).name).toBe('optionalWalletAuthentication');
    expect(requirePermission('read:x').name).toBe('requirePermission');
    expect(handler.authenticator.mode).toBe('engine');
    expect(() => handler.forget('lks_x')).not.toThrow();
  });

  it('validates options and permissions once, at creation', () => {
    expect(() => requireWalletAuthentication({} as never)).toThrowError(/exactly one of engine, remote, jwt/);
    expect(() => optionalWalletAuthentication({ engine, appId: 'nope' })).toThrowError(/no app "nope"/);
    expect(() => requirePermission('write profile')).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => requireWalletAuthentication({ engine, cookieName: COOKIE } as never)).toThrowError(
      /^allowedOrigins: required with cookieName/,
    );
    expect(() =>
      requireWalletAuthentication({ remote: { url: 'http://auth.example.com', apiKey: 'lka_0123456789abcdef.secret' } }),
    ).toThrowError(/^remote.url: .*in clear/);
  });

  it('lets a HEAD through with the cookie, as a GET', async () => {
    const response = await fetch(`${base}/cookie/me`, { method: 'HEAD', headers: { cookie: `${COOKIE}=${readOnly}` } });
    expect(response.status).toBe(200);
  });

  it('answers 503 when the store is down, on required and optional routes', async () => {
    const downStore = new MemoryStore();
    const down = new Latchkey({ store: downStore, cleanupIntervalSeconds: 0 });
    const { token } = await down.createSession({ account: ALICE, authMethod: 'siwe' });
    const app = express();
    app.get('/r', requireWalletAuthentication({ engine: down }), (_req, res) => res.json({ passed: true }));
    app.get('/o', optionalWalletAuthentication({ engine: down }), (_req, res) => res.json({ passed: true }));
    const { url, server } = await listen(app);
    servers.push(server);
    await downStore.close();
    for (const path of ['/r', '/o']) {
      const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        error: { code: 'STORE_UNAVAILABLE', message: 'The session store could not answer.' },
      });
    }
    down.close();
  });
});

describe('@latchkey/express in remote mode watches responses', () => {
  it('forgets a token after a 401 for it and a wallet after a DELETE on a session', async () => {
    // A stand-in authority that counts introspections; the real server is exercised in examples/.
    const { session } = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    let introspections = 0;
    const authority = express();
    authority.post('/v1/sessions/introspect', (_req, res) => {
      introspections++;
      res.json({ active: true, session });
    });
    const remoteListener = await listen(authority);
    servers.push(remoteListener.server);

    const guard = requireWalletAuthentication({
      remote: { url: remoteListener.url, apiKey: 'lka_0123456789abcdef.secret', cacheSeconds: 30 },
    });
    const app = express();
    app.get('/ok', guard, (_req, res) => res.json({ ok: true }));
    app.get('/downstream-refused', guard, (_req, res) => res.status(401).json({ error: { code: 'TOKEN_INVALID' } }));
    app.delete('/session', guard, (_req, res) => res.status(204).end());
    const { url, server } = await listen(app);
    servers.push(server);

    const token = `lks_${session.id}.${'2'.repeat(44)}`;
    const get = (path: string, method = 'GET') =>
      fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    await get('/ok');
    await get('/ok');
    expect(introspections).toBe(1);
    await get('/downstream-refused');
    await get('/ok');
    expect(introspections).toBe(2);
    await get('/session', 'DELETE');
    await get('/ok');
    expect(introspections).toBe(3);
    guard.forget(token);
    await get('/ok');
    expect(introspections).toBe(4);
  });
});

describe('@latchkey/express with signed requests (stamps)', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const keyed = new Latchkey({ store: new MemoryStore(), clock, cleanupIntervalSeconds: 0 });
  const errors: string[] = [];
  const logger = { error: (m: string) => void errors.push(m), warn() {}, info() {}, debug() {} };
  let url = '';
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

    const latchkey = new WalletAuthenticator({ engine: keyed, logger });
    const echo: express.RequestHandler = (req, res) => {
      res.json({ body: req.body ?? null, keyId: req.latchkey.stamp?.keyId ?? null, scope: req.latchkey.stamp?.scope ?? null });
    };
    const app = express();
    // Raw bytes kept by the parsers that carry keepRawBody, under nested routers.
    const wallet = express.Router();
    wallet.use(express.json({ verify: keepRawBody }), express.text({ verify: keepRawBody }));
    wallet.post('/transfer', requireWalletAuthentication(latchkey, { stamps: 'required' }), echo);
    wallet.get('/balance', requireWalletAuthentication(latchkey), echo);
    const v2 = express.Router();
    v2.use('/wallet', wallet);
    app.use('/v2', v2);
    // A parser without keepRawBody, and a guard that runs before any parser.
    app.post('/forgetful', express.json(), requireWalletAuthentication(latchkey), echo);
    app.post('/too-early', requireWalletAuthentication(latchkey), express.json({ verify: keepRawBody }), echo);
    app.get('/no-parser', requireWalletAuthentication(latchkey), echo);
    // Behind a proxy that strips /prefix: clients sign /prefix/behind-proxy.
    app.get('/behind-proxy', requireWalletAuthentication({ engine: keyed, logger, basePath: '/prefix' }), echo);
    app.post('/hello', optionalWalletAuthentication(latchkey, { stamps: 'required' }), (req, res) => {
      res.json({ via: req.latchkey.via });
    });
    const listening = await listen(app);
    servers.push(listening.server);
    url = listening.url;
  });
  afterAll(() => keyed.close());

  async function send(
    method: 'GET' | 'POST',
    path: string,
    options: { body?: string; contentType?: string; signedPath?: string; credential?: boolean } = {},
  ) {
    const stamp = await createStamp(
      key.privateKey,
      key.id,
      { method, path: options.signedPath ?? path, body: options.body ?? null },
      { now: clock.now() },
    );
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(options.credential === false ? {} : { authorization: `Bearer ${token}` }),
        'latchkey-signature': stamp,
        ...(options.body === undefined ? {} : { 'content-type': options.contentType ?? 'application/json' }),
      },
      body: options.body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string } } };
  }

  it('verifies against the full path under nested routers; handlers still get the parsed body', async () => {
    expect(await send('POST', '/v2/wallet/transfer?to=bob', { body: '{ "amount": 1 }' })).toEqual({
      status: 200,
      body: { body: { amount: 1 }, keyId: key.id, scope: 'read-write' },
    });
    expect((await send('POST', '/v2/wallet/transfer', { body: 'gm', contentType: 'text/plain' })).body).toMatchObject({
      body: 'gm',
      keyId: key.id,
    });
    expect((await send('GET', '/v2/wallet/balance?currency=eth')).body).toMatchObject({ keyId: key.id });
    const prefixless = await send('POST', '/v2/wallet/transfer', { body: '{}', signedPath: '/transfer' });
    expect([prefixless.status, prefixless.body.error?.code]).toEqual([401, 'SIGNATURE_INVALID']);
  });

  it('answers 500 (logged) when the raw body was not kept, never a pass; unstamped requests are unaffected', async () => {
    errors.length = 0;
    for (const path of ['/forgetful', '/too-early']) {
      const response = await send('POST', path, { body: '{"amount":1}' });
      expect([response.status, response.body.error?.code]).toEqual([500, 'CONFIG_INVALID']);
    }
    expect(errors).toEqual([
      expect.stringMatching(/raw body was not kept \(Express: express.json\(\{ verify: keepRawBody \}\) before the guard/),
      expect.stringMatching(/raw body was not kept/),
    ]);
    const plain = await fetch(`${url}/forgetful`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"amount":1}',
    });
    expect(plain.status).toBe(200);
    // Without a body there is nothing to keep.
    expect((await send('GET', '/no-parser')).body).toMatchObject({ keyId: key.id });
  });

  it('verifies over basePath + req.originalUrl behind a proxy that strips a prefix', async () => {
    expect((await send('GET', '/behind-proxy?x=1', { signedPath: '/prefix/behind-proxy?x=1' })).body).toMatchObject({
      keyId: key.id,
    });
    const stripped = await send('GET', '/behind-proxy?x=1');
    expect([stripped.status, stripped.body.error?.code]).toEqual([401, 'SIGNATURE_INVALID']);
    // Without basePath, the stamp over the public path does not match the path received.
    const unprefixed = await send('GET', '/v2/wallet/balance', { signedPath: '/prefix/v2/wallet/balance' });
    expect([unprefixed.status, unprefixed.body.error?.code]).toEqual([401, 'SIGNATURE_INVALID']);
    expect(() => requireWalletAuthentication({ engine: keyed, basePath: '/prefix/' })).toThrowError(/^basePath: /);
  });

  it('lets an anonymous request through an optional guard whatever it carries', async () => {
    expect((await send('POST', '/hello', { body: '{}', credential: false })).body).toEqual({ via: null });
  });

  it('validates guard options when the handler is made', () => {
    expect(() => requireWalletAuthentication({ engine: keyed }, { stamps: 'always' as never })).toThrowError(
      /^stamps: expected 'optional' or 'required'/,
    );
    expect(() => optionalWalletAuthentication({ engine: keyed }, { isWrite: 1 } as never)).toThrowError(
      /^isWrite: expected true or false/,
    );
    expect(() =>
      requireWalletAuthentication(
        { jwt: { jwksUrl: 'https://auth.example/jwks', issuer: 'i', audience: 'a' } },
        { stamps: 'required' },
      ),
    ).toThrowError(/not available in JWT mode/);
    expect(() =>
      requireWalletAuthentication({
        jwt: { jwksUrl: 'https://auth.example/jwks', issuer: 'i', audience: 'a' },
        stamps: 'required',
      }),
    ).toThrowError(/^stamps: 'required' is not available in JWT mode/);
  });
});
