import { ManualClock, MemoryStore } from '@latchkey/core';
import { generateP256KeyPair, signRegistration, toBase64Url, toHex } from '@latchkey/protocol';
import { createSessionToken, encodeSessionToken, generateConnectKeyPair, randomChannelId } from '@latchkey/protocol/connect';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import {
  APP_ORIGIN,
  CHAIN_ID,
  type Fixture,
  type IssuedBody,
  OpenApiConformance,
  signIn,
  siweMessage,
  siwsMessage,
  solanaWallet,
  startFixture,
  T0,
  WALLETS,
} from '../../test-support/http/index.js';
import { bearer as bearerOf, createHeldKey, sendStamped, stampFor } from '../../test-support/http/session-keys.js';
import { createApiKey } from '../index.js';
import { ROUTES } from './server.js';

const APPS = {
  shop: {},
  plain: { signIn: undefined, accessTokens: undefined, connect: undefined },
  strict: { maxSessionsPerWallet: 1, limitPolicy: 'reject' as const, sessionKeys: { maxLiveKeys: 1, requireStamps: true } },
};
const ACCESS_TOKENS = { accessTokens: { audience: 'api.example.com' } };
const RELAY = 'https://auth.example.com';
const CONNECT = { connect: { relayUrls: [RELAY] } };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const cookieHeader = (r: LightMyRequestResponse) => ({
  cookie: (r.cookies as { name: string; value: string }[]).map((c) => `${c.name}=${c.value}`).join('; '),
});
const BIG = { pad: 'x'.repeat(70 * 1024) };
const SOLANA_ADDRESS = solanaWallet().address;

/** A value for each path parameter, so a template becomes a URL that reaches the handler. */
function fill(path: string, values: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? 'x'));
}

/** A session key id that parses (and names no key). */
const SAMPLE_KEY_ID = `lksk_${'1'.repeat(44)}`;

/** A URL for a route that gets past parsing: path parameters filled, required query parameters given. */
function sampleUrl(path: string, values: { id: string; account: string }): string {
  const url = fill(path, path.startsWith('/v1/session-keys/') ? { ...values, id: SAMPLE_KEY_ID } : values);
  return path === '/v1/admin/sessions' ? `${url}?wallet=${encodeURIComponent(values.account)}` : url;
}

/** A body that gets past parsing to the app, the credential and the store. */
function samplePayload(path: string, issued: IssuedBody): Record<string, unknown> | undefined {
  const clock = new ManualClock(T0);
  switch (path) {
    case '/v1/auth/siwe':
      return { message: siweMessage(WALLETS[0]!.address, 'neverIssued0001', clock), signature: '0x00' };
    case '/v1/auth/siws':
      return { message: siwsMessage(SOLANA_ADDRESS, 'neverIssued0001', clock), signature: '11' };
    case '/v1/session/refresh':
      return { refreshToken: issued.refreshToken };
    case '/v1/sessions/introspect':
      return { token: issued.token };
    case '/v1/session-keys':
      return { scope: 'read-only', targetPublicKey: toHex(generateP256KeyPair().publicKey) };
    case '/v1/auth/connect': {
      // Well formed, so it reaches the store; its all-zero signature never verifies.
      const claims = connectClaims(WALLETS[0]!.address, T0);
      return { sessionToken: encodeSessionToken({ v: 1, ...claims }, new Uint8Array(65)), uuid: claims.uuid };
    }
    default:
      return undefined;
  }
}

/** Connect session token claims for `address` on the test relay, issued at `now`. */
function connectClaims(address: `0x${string}`, now: number) {
  return {
    uuid: randomChannelId(),
    relay: RELAY,
    chainType: 'eip155' as const,
    chainId: String(CHAIN_ID),
    address,
    dappPublicKey: toBase64Url(generateConnectKeyPair().publicKey),
    walletPublicKey: toBase64Url(generateConnectKeyPair().publicKey),
    issuedAt: now,
    expiresAt: now + 86_400_000,
  };
}

describe('the OpenAPI document', () => {
  it('lists every route once, with unique operation ids, generated from the route definitions', async () => {
    const f = await startFixture();
    const doc = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap(
      ([path, methods]) => Object.entries(methods).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`),
    );
    expect(operations.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path} ${r.operationId}`).sort());
    expect(new Set(ROUTES.map((r) => r.operationId)).size).toBe(ROUTES.length);
    expect(doc.paths['/v1/sessions/{id}'].delete.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true });
    expect(doc.paths['/v1/admin/audit'].get.parameters.map((p: { name: string }) => p.name)).toEqual([
      'wallet',
      'since',
      'until',
      'limit',
      'afterSeq',
      'Latchkey-App',
    ]);
    expect(doc.paths['/v1/session'].get.security).toEqual([{ sessionToken: [] }, { sessionCookie: [] }]);
    expect(doc.paths['/v1/auth/siwe'].post.requestBody.required).toBe(true);
    expect(doc.paths['/v1/session/refresh'].post.requestBody.required).toBe(false);
    await f.app.close();
  });

  it('answers as documented on every route, and every documented answer happens', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const f = await startFixture({
      store,
      clock,
      defaults: { ...ACCESS_TOKENS, ...CONNECT },
      apps: APPS,
      server: { rateLimits: { nonce: 1000, signIn: 1000, refresh: 1000 } },
    });
    const doc = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const conformance = new OpenApiConformance(doc);
    const call = async (fixture: Fixture, options: InjectOptions & { url: string; method: string }) => {
      const response = await fixture.app.inject(options);
      conformance.check(options.method, options.url, response);
      return response;
    };
    const key = (await createApiKey(store, 'default', 'conformance')).key;
    const shopKey = (await createApiKey(store, 'shop', 'conformance')).key;
    const solana = solanaWallet();
    const [w0, w1] = [WALLETS[0]!, WALLETS[1]!];

    // Sign-in, both chains, both modes.
    const a = (await signIn(f, w0)).issued;
    const b = (await signIn(f, w0)).issued;
    const d = (await signIn(f, w1)).issued;
    const nonce = async (app = 'default') =>
      (await call(f, { method: 'POST', url: '/v1/auth/nonce', headers: { 'latchkey-app': app } })).json().nonce as string;
    const siwe = async (headers: Record<string, string>, mode: string, app = 'default') => {
      const message = siweMessage(w0.address, await nonce(app), clock);
      return call(f, {
        method: 'POST',
        url: '/v1/auth/siwe',
        headers: { 'latchkey-app': app, ...headers },
        payload: { message, signature: await w0.signMessage({ message }), mode },
      });
    };
    const siws = async (headers: Record<string, string>, mode: string, app = 'default') => {
      const message = siwsMessage(solana.address, await nonce(app), clock);
      return call(f, {
        method: 'POST',
        url: '/v1/auth/siws',
        headers: { 'latchkey-app': app, ...headers },
        payload: { message, signature: solana.sign(message), mode },
      });
    };
    const c = await siwe({ origin: APP_ORIGIN }, 'cookie');
    expect(c.statusCode).toBe(200);
    expect(c.json().token).toBeUndefined();
    const cookies = cookieHeader(c);
    expect((await siws({}, 'bearer')).statusCode).toBe(200);
    expect((await siws({ origin: APP_ORIGIN }, 'cookie')).statusCode).toBe(200);
    expect((await siwe({ origin: 'https://evil.example' }, 'cookie')).statusCode).toBe(403);
    expect((await siws({}, 'cookie')).statusCode).toBe(403);
    expect((await siwe({}, 'bearer', 'strict')).statusCode).toBe(200);
    expect((await siwe({}, 'bearer', 'strict')).json().error.code).toBe('SESSION_LIMIT_REACHED');
    expect((await siws({}, 'bearer', 'strict')).statusCode).toBe(200);
    expect((await siws({}, 'bearer', 'strict')).statusCode).toBe(409);
    for (const family of ['siwe', 'siws']) {
      const url = `/v1/auth/${family}`;
      const message =
        family === 'siwe'
          ? siweMessage(w0.address, 'neverIssued0001', clock)
          : siwsMessage(solana.address, 'neverIssued0001', clock);
      expect((await call(f, { method: 'POST', url, payload: { message, signature: '0x00' } })).statusCode).toBe(401);
      expect((await call(f, { method: 'POST', url, payload: { message: 'hello', signature: '0x00' } })).statusCode).toBe(400);
      expect(
        (await call(f, { method: 'POST', url, headers: { 'latchkey-app': 'plain' }, payload: { message, signature: 'x' } }))
          .statusCode,
      ).toBe(501);
    }
    expect((await call(f, { method: 'POST', url: '/v1/auth/nonce', headers: { 'latchkey-app': 'plain' } })).statusCode).toBe(501);

    // QR connect's session bridge: both modes, once per channel, a bad token, the limit, an app without it.
    const connectBody = async (wallet: PrivateKeyAccount, body: Record<string, unknown> = {}) => {
      const claims = connectClaims(wallet.address, clock.now());
      const sessionToken = await createSessionToken(claims, (message) => wallet.signMessage({ message }));
      return { sessionToken, uuid: claims.uuid, ...body };
    };
    const exchange = (payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
      call(f, { method: 'POST', url: '/v1/auth/connect', headers, payload });
    const connected = await connectBody(privateKeyToAccount(generatePrivateKey()));
    expect((await exchange(connected)).statusCode).toBe(200);
    expect((await exchange(connected)).json().error.code).toBe('CONNECT_CHANNEL_USED');
    const byCookie = await connectBody(privateKeyToAccount(generatePrivateKey()), { mode: 'cookie' });
    expect((await exchange(byCookie, { origin: 'https://evil.example' })).statusCode).toBe(403);
    expect((await exchange(byCookie, { origin: APP_ORIGIN })).json().token).toBeUndefined();
    expect((await exchange(samplePayload('/v1/auth/connect', a)!)).json().error.code).toBe('CONNECT_SESSION_TOKEN_INVALID');
    expect((await exchange(await connectBody(w0), { 'latchkey-app': 'strict' })).statusCode).toBe(409);
    expect((await exchange(await connectBody(w0), { 'latchkey-app': 'plain' })).statusCode).toBe(501);

    // Refresh: bearer, cookie, reuse.
    const b2 = (
      await call(f, { method: 'POST', url: '/v1/session/refresh', payload: { refreshToken: b.refreshToken } })
    ).json() as IssuedBody;
    expect(b2.session.id).toBe(b.session.id);
    const refreshedByCookie = await call(f, {
      method: 'POST',
      url: '/v1/session/refresh',
      headers: { ...cookies, origin: APP_ORIGIN },
    });
    expect(refreshedByCookie.statusCode).toBe(200);
    const cookies2 = cookieHeader(refreshedByCookie);
    expect((await call(f, { method: 'POST', url: '/v1/session/refresh', headers: cookies2 })).statusCode).toBe(403);
    expect((await call(f, { method: 'POST', url: '/v1/session/refresh' })).json().error.code).toBe('AUTHENTICATION_REQUIRED');
    const throwaway = (await signIn(f, w1)).issued;
    await call(f, { method: 'POST', url: '/v1/session/refresh', payload: { refreshToken: throwaway.refreshToken } });
    clock.advance(60_000);
    const reused = await call(f, {
      method: 'POST',
      url: '/v1/session/refresh',
      payload: { refreshToken: throwaway.refreshToken },
    });
    expect(reused.json().error.code).toBe('REFRESH_TOKEN_REUSED');

    // The caller's sessions.
    expect((await call(f, { method: 'GET', url: '/v1/session', headers: bearer(a.token) })).statusCode).toBe(200);
    expect((await call(f, { method: 'GET', url: '/v1/session', headers: cookies2 })).statusCode).toBe(200);
    const listed = (await call(f, { method: 'GET', url: '/v1/sessions', headers: bearer(a.token) })).json();
    expect(listed.sessions.filter((s: { current: boolean }) => s.current).map((s: { id: string }) => s.id)).toEqual([
      a.session.id,
    ]);
    const notMine = await call(f, { method: 'DELETE', url: `/v1/sessions/${d.session.id}`, headers: bearer(a.token) });
    expect(notMine.json().error.code).toBe('SESSION_TARGET_NOT_FOUND');
    expect((await call(f, { method: 'DELETE', url: `/v1/sessions/${b.session.id}`, headers: bearer(a.token) })).statusCode).toBe(
      204,
    );
    expect(
      (await call(f, { method: 'DELETE', url: '/v1/sessions?keep=current', headers: bearer(a.token) })).json().revoked,
    ).toBeGreaterThan(0);
    expect((await call(f, { method: 'DELETE', url: '/v1/session', headers: bearer(a.token) })).statusCode).toBe(204);
    const e = (await signIn(f, w0)).issued;
    expect((await call(f, { method: 'DELETE', url: '/v1/sessions', headers: bearer(e.token) })).json().revoked).toBeGreaterThan(
      0,
    );

    // Session keys: bundle and registration, list, revoke, the limit, and every stamp refusal.
    const w2 = WALLETS[2]!;
    const keyed = (await signIn(f, w2)).issued;
    const held = await createHeldKey(f, keyed.token);
    const created = await call(f, {
      method: 'POST',
      url: '/v1/session-keys',
      headers: bearer(keyed.token),
      payload: samplePayload('/v1/session-keys', keyed)!,
    });
    expect(created.statusCode).toBe(201);
    const challenge = (await call(f, { method: 'POST', url: '/v1/session-keys/challenge', headers: bearer(keyed.token) })).json();
    const device = generateP256KeyPair();
    const registration = {
      publicKey: toHex(device.publicKey),
      challenge: challenge.challenge,
      signature: await signRegistration(device.privateKey, {
        challenge: challenge.challenge,
        publicKey: toHex(device.publicKey),
        scope: 'read-write',
      }),
    };
    const register = (token: string) =>
      call(f, {
        method: 'POST',
        url: '/v1/session-keys',
        headers: bearer(token),
        payload: { scope: 'read-write', registration },
      });
    expect((await register(keyed.token)).statusCode).toBe(201);
    expect((await register(keyed.token)).json().error.code).toBe('SESSION_KEY_CHALLENGE_INVALID');
    const readOnly = (await signIn(f, w2, { body: { scope: 'read-only' } })).issued;
    expect(
      (
        await call(f, {
          method: 'POST',
          url: '/v1/session-keys',
          headers: bearer(readOnly.token),
          payload: { scope: 'read-write', targetPublicKey: toHex(device.publicKey) },
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (
        await call(f, {
          method: 'POST',
          url: '/v1/session-keys',
          headers: bearer(readOnly.token),
          payload: { scope: 'read-only', targetPublicKey: '04aa' },
        })
      ).json().error.code,
    ).toBe('VALIDATION_FAILED');
    expect(
      (await call(f, { method: 'GET', url: '/v1/session-keys', headers: bearer(keyed.token) })).json().sessionKeys,
    ).toHaveLength(3);
    expect(
      (await call(f, { method: 'DELETE', url: `/v1/session-keys/${created.json().sessionKey.id}`, headers: bearer(keyed.token) }))
        .statusCode,
    ).toBe(204);
    expect(
      (await call(f, { method: 'DELETE', url: `/v1/session-keys/${SAMPLE_KEY_ID}`, headers: bearer(keyed.token) })).statusCode,
    ).toBe(404);
    const stamped = async (request: { method: 'GET' | 'POST' | 'DELETE'; url: string; body?: string }, token = keyed.token) => {
      const response = await sendStamped(f, held, { ...request, headers: bearerOf(token) });
      conformance.check(request.method, request.url, response);
      return response;
    };
    expect((await stamped({ method: 'GET', url: '/v1/session' })).statusCode).toBe(200);
    // Under requireStamps (the strict app): no stamp, then the first key, then a limit of one.
    const strictSession = (await signIn(f, w2, { appId: 'strict' })).issued;
    const strictHeaders = { ...bearer(strictSession.token), 'latchkey-app': 'strict' };
    expect((await call(f, { method: 'GET', url: '/v1/session-keys', headers: strictHeaders })).json().error.code).toBe(
      'SIGNATURE_REQUIRED',
    );
    const strictKey = await createHeldKey(f, strictSession.token, { headers: { 'latchkey-app': 'strict' } });
    const overLimit = await sendStamped(f, strictKey, {
      method: 'POST',
      url: '/v1/session-keys',
      body: JSON.stringify(samplePayload('/v1/session-keys', strictSession)),
      headers: strictHeaders,
    });
    conformance.check('POST', '/v1/session-keys', overLimit);
    expect(overLimit.json().error.code).toBe('SESSION_KEY_LIMIT_REACHED');

    // Operator routes.
    const introspect = (token: string, headers = bearer(key)) =>
      call(f, { method: 'POST', url: '/v1/sessions/introspect', headers, payload: { token } });
    expect((await introspect(d.token)).json()).toMatchObject({ active: true, session: { id: d.session.id } });
    expect((await introspect(a.token)).json()).toEqual({ active: false });
    expect((await introspect(d.token, bearer(shopKey))).json()).toEqual({ active: false });
    const wallet = encodeURIComponent(d.session.account);
    expect((await call(f, { method: 'GET', url: `/v1/admin/sessions?wallet=${wallet}`, headers: bearer(key) })).statusCode).toBe(
      200,
    );
    expect(
      (await call(f, { method: 'GET', url: '/v1/admin/sessions?wallet=eip155:1:0xnope', headers: bearer(key) })).json().error
        .code,
    ).toBe('VALIDATION_ACCOUNT_INVALID');
    expect((await call(f, { method: 'GET', url: '/v1/admin/stats', headers: bearer(key) })).statusCode).toBe(200);
    const audit = await call(f, {
      method: 'GET',
      url: `/v1/admin/audit?wallet=${wallet}&since=0&until=${T0 * 2}&limit=5&afterSeq=0`,
      headers: bearer(key),
    });
    expect(audit.json().entries.length).toBeGreaterThan(0);
    expect((await call(f, { method: 'GET', url: '/v1/admin/audit?limit=5000', headers: bearer(key) })).statusCode).toBe(400);
    expect((await call(f, { method: 'POST', url: '/v1/admin/audit/verify', headers: bearer(key) })).json()).toMatchObject({
      valid: true,
    });
    expect(
      (await call(f, { method: 'DELETE', url: `/v1/admin/wallets/${wallet}/sessions`, headers: bearer(key) })).json(),
    ).toEqual({
      revoked: 1,
    });

    // Service routes.
    for (const url of [
      '/healthz',
      '/readyz',
      '/openapi.json',
      '/metrics',
      '/.well-known/jwks.json',
      '/.well-known/jwks.json?app=shop',
    ]) {
      expect((await call(f, { method: 'GET', url })).statusCode).toBe(200);
    }
    expect((await call(f, { method: 'GET', url: '/.well-known/jwks.json' })).json().keys.length).toBeGreaterThan(0);
    expect(
      (await call(f, { method: 'GET', url: '/.well-known/jwks.json', headers: { 'latchkey-app': 'plain' } })).statusCode,
    ).toBe(501);
    expect((await call(f, { method: 'GET', url: '/.well-known/jwks.json?app=nope' })).statusCode).toBe(404);

    // The answers every route shares: strict parsing, authentication, app selection, CSRF.
    const live = (await signIn(f, w0)).issued;
    const samples = { id: '0'.repeat(32), account: live.session.account };
    for (const route of ROUTES) {
      const url = sampleUrl(route.path, samples);
      const auth = route.access === 'session' ? bearer(live.token) : route.access === 'api-key' ? bearer(key) : {};
      const payload = samplePayload(route.path, live);
      const where = `${route.method} ${route.path}`;
      const probe = (options: { url?: string; headers?: Record<string, string>; payload?: InjectOptions['payload'] }) =>
        call(f, { method: route.method, url, ...(payload && options.payload === undefined ? { payload } : {}), ...options });
      expect((await probe({ url: `${url}${url.includes('?') ? '&' : '?'}unexpected=1`, headers: auth })).statusCode, where).toBe(
        400,
      );
      if (route.method !== 'GET') {
        expect(
          (await probe({ headers: { ...auth, 'content-type': 'application/json' }, payload: '{"a":' })).statusCode,
          where,
        ).toBe(400);
        expect((await probe({ headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' })).statusCode, where).toBe(
          415,
        );
        expect((await probe({ headers: auth, payload: BIG })).statusCode, where).toBe(413);
      }
      if (route.app === 'header' || route.access === 'api-key')
        expect((await probe({ headers: { ...auth, 'latchkey-app': 'nope' } })).statusCode, where).toBe(404);
      if (route.access !== 'public') {
        expect((await probe({})).statusCode, where).toBe(401);
        expect((await probe({ headers: { authorization: 'Basic abc' } })).statusCode, where).toBe(400);
        expect((await probe({ headers: bearer('lka_0123456789abcdef.zzz') })).statusCode, where).toBe(401);
      }
      if (route.access === 'session' && route.method !== 'GET') {
        expect((await probe({ headers: cookies2 })).statusCode, where).toBe(403);
      }
      if (route.access === 'session') {
        // A stamp by a key of another session: 403 before anything else is looked at.
        const stamp = await stampFor(f, held, { method: route.method, url, headers: auth });
        expect((await probe({ headers: { ...auth, 'latchkey-signature': stamp } })).json().error.code, where).toBe(
          'SESSION_KEY_MISMATCH',
        );
      }
      if (route.access === 'api-key') {
        expect((await probe({ headers: { ...bearer(shopKey), 'latchkey-app': 'default' } })).statusCode, where).toBe(403);
      }
    }

    // Rate limits: a second server with a limit of one per window.
    const limited = await startFixture({
      store: new MemoryStore(),
      clock,
      defaults: CONNECT,
      server: { rateLimits: { nonce: 1, signIn: 1, refresh: 1 } },
    });
    for (const [url, payload] of [
      ['/v1/auth/nonce', undefined],
      ['/v1/auth/siwe', { message: siweMessage(w0.address, 'neverIssued0001', clock), signature: '0x00' }],
      ['/v1/auth/siws', { message: siwsMessage(solana.address, 'neverIssued0001', clock), signature: '11' }],
      ['/v1/session/refresh', { refreshToken: b.refreshToken }],
      ['/v1/auth/connect', samplePayload('/v1/auth/connect', b)],
    ] as const) {
      await call(limited, { method: 'POST', url, ...(payload ? { payload } : {}) });
      const refused = await call(limited, { method: 'POST', url, ...(payload ? { payload } : {}) });
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    }

    // A store that cannot answer: 503 on every route that needs it, never a pass.
    const downStore = new MemoryStore();
    const down = await startFixture({ store: downStore, clock, defaults: { ...ACCESS_TOKENS, ...CONNECT } });
    const downKey = (await createApiKey(downStore, 'default', 'down')).key;
    const downSession = (await signIn(down, w0)).issued;
    await downStore.close();
    for (const route of ROUTES) {
      const url = sampleUrl(route.path, { id: downSession.session.id, account: downSession.session.account });
      const headers = route.access === 'session' ? bearer(downSession.token) : route.access === 'api-key' ? bearer(downKey) : {};
      const payload = samplePayload(route.path, downSession);
      const response = await call(down, { method: route.method, url, headers, ...(payload ? { payload } : {}) });
      const documents503 = Boolean(conformance.operation(route.method, url)?.operation.responses['503']);
      expect(response.statusCode, `${route.method} ${route.path}`).toBe(documents503 ? 503 : 200);
    }

    const documented = ROUTES.flatMap((route) =>
      Object.keys(conformance.operation(route.method, fill(route.path, samples))!.operation.responses).map(
        (status) => `${route.method} ${route.path} ${status}`,
      ),
    );
    expect(documented.filter((d) => !conformance.seen.has(d))).toEqual([]);
    await Promise.all([f.app.close(), limited.app.close(), down.app.close()]);
  });
});
