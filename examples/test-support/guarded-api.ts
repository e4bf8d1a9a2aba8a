import { ManualClock } from '@latchkey/core';
import type { WalletAuthenticationOptions } from '@latchkey/core/middleware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, ALICE_ADDRESS, deadUrl, ROLES, serveJwks, startLatchkeyServer, World } from './world.js';

/** One HTTP answer, whatever framework gave it. Header names are lowercase. */
export interface Reply {
  status: number;
  headers: Record<string, string | undefined>;
  body: unknown;
}

export interface RequestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent as the `Authorization` header, as is. */
  authorization?: string;
  /** Sent as the `Cookie` header, as a browser would. */
  cookie?: string;
  /** Sent as the `Origin` header, as a browser does on a state-changing request. */
  origin?: string;
  /** Sent as JSON (`content-type: application/json`). */
  body?: unknown;
  /** Sent byte for byte as the body, with `content-type: application/json` (what a stamp signs). */
  rawBody?: string;
  /** More headers, e.g. `latchkey-signature`. */
  headers?: Record<string, string>;
}

/** An example app, started with some Latchkey options. */
export interface GuardedApi {
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options?: RequestOptions): Promise<Reply>;
  /** The app's `forget(token)` (remote mode cache). */
  forget(token: string): void;
  close(): Promise<void>;
}

export interface StartOptions {
  latchkey: WalletAuthenticationOptions;
  latchkeyUrl?: string;
}

export type StartGuardedApi = (options: StartOptions) => Promise<GuardedApi>;

const BARE = 'Bearer realm="latchkey"';
const INVALID_TOKEN = 'Bearer realm="latchkey", error="invalid_token"';
const INVALID_REQUEST = 'Bearer realm="latchkey", error="invalid_request"';
const INSUFFICIENT = 'Bearer realm="latchkey", error="insufficient_scope", scope="write:profile"';
/** The session cookie the Latchkey server sets over http://localhost, and the app's origin. */
const COOKIE = 'latchkey-session-default';
const APP_ORIGIN = 'https://app.example.test';

function errorCode(reply: Reply): string | undefined {
  return (reply.body as { error?: { code?: string } } | null)?.error?.code;
}

/** The answers every mode gives, for a read-write and a read-only credential of the same wallet. */
function describeGuardedRoutes(context: () => { api: GuardedApi; readWrite: string; readOnly: string }): void {
  it('serves the public route to anyone', async () => {
    const reply = await context().api.request('GET', '/public');
    expect(reply).toMatchObject({ status: 200, body: { hello: 'world' } });
  });

  it('asks for a session on a guarded route (401, bare challenge)', async () => {
    const reply = await context().api.request('GET', '/me');
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(BARE);
    expect(errorCode(reply)).toBe('AUTHENTICATION_REQUIRED');
  });

  it('lets a session through with its wallet', async () => {
    const { api, readWrite } = context();
    const reply = await api.request('GET', '/me', { token: readWrite });
    expect(reply).toMatchObject({
      status: 200,
      body: { address: ALICE_ADDRESS, chainType: 'eip155', scope: 'read-write', permissions: ['read:profile', 'write:profile'] },
    });
  });

  it('refuses a token that is not valid (401 invalid_token)', async () => {
    const reply = await context().api.request('GET', '/me', { token: 'not-a-real-token' });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(INVALID_TOKEN);
  });

  it('refuses a malformed Authorization header (400 invalid_request)', async () => {
    const reply = await context().api.request('GET', '/me', { authorization: 'Bearer' });
    expect(reply.status).toBe(400);
    expect(reply.headers['www-authenticate']).toBe(INVALID_REQUEST);
    expect(errorCode(reply)).toBe('VALIDATION_AUTHORIZATION_MALFORMED');
  });

  it('lets a read-write session write its profile', async () => {
    const { api, readWrite } = context();
    const reply = await api.request('PUT', '/profile', { token: readWrite, body: { name: 'alice' } });
    expect(reply).toMatchObject({ status: 200, body: { saved: true, by: ALICE_ADDRESS, name: 'alice' } });
  });

  it('refuses a read-only session on a write permission (403 insufficient_scope)', async () => {
    const { api, readOnly } = context();
    expect((await api.request('GET', '/me', { token: readOnly })).body).toMatchObject({
      scope: 'read-only',
      permissions: ['read:profile'],
    });
    const reply = await api.request('PUT', '/profile', { token: readOnly, body: { name: 'mallory' } });
    expect(reply.status).toBe(403);
    expect(reply.headers['www-authenticate']).toBe(INSUFFICIENT);
    expect(reply.body).toEqual({ error: { code: 'PERMISSION_DENIED', message: 'Permission denied.' } });
  });

  it('greets anyone on the optional route, but refuses a bad token there', async () => {
    const { api, readOnly } = context();
    expect((await api.request('GET', '/greeting')).body).toEqual({ greeting: 'gm, stranger' });
    expect((await api.request('GET', '/greeting', { token: readOnly })).body).toEqual({ greeting: `gm ${ALICE_ADDRESS}` });
    expect((await api.request('GET', '/greeting', { token: 'forged' })).status).toBe(401);
  });
}

/**
 * The whole contract of the example apps, run against one framework in the three validation modes:
 * the engine in-process, JWT access tokens via JWKS (in memory and fetched over HTTP), and the real
 * Latchkey server by introspection.
 */
export function describeGuardedApi(framework: string, start: StartGuardedApi): void {
  describe(`${framework} example, local engine`, () => {
    const world = new World();
    let api: GuardedApi;
    let readWrite = '';
    let readOnly = '';
    beforeAll(async () => {
      readWrite = (await world.signIn()).token;
      readOnly = (await world.signIn('read-only')).token;
      api = await start({ latchkey: { engine: world.engine } });
    });
    afterAll(async () => {
      await api.close();
      world.close();
    });

    describeGuardedRoutes(() => ({ api, readWrite, readOnly }));

    it('refuses a revoked session on the very next request', async () => {
      const { token } = await world.signIn();
      expect((await api.request('GET', '/me', { token })).status).toBe(200);
      await world.engine.revokeSession(token);
      const reply = await api.request('GET', '/me', { token });
      expect(reply.status).toBe(401);
      expect(errorCode(reply)).toBe('SESSION_NOT_FOUND');
    });

    it('answers 503 when the store is down, on required and optional routes alike', async () => {
      const down = new World();
      const { token } = await down.signIn();
      const downApi = await start({ latchkey: { engine: down.engine } });
      try {
        await down.storeDown();
        for (const path of ['/me', '/greeting']) {
          const reply = await downApi.request('GET', path, { token });
          expect(reply.status).toBe(503);
          expect(errorCode(reply)).toBe('STORE_UNAVAILABLE');
        }
        expect((await downApi.request('GET', '/public')).status).toBe(200);
      } finally {
        await downApi.close();
        down.close();
      }
    });
  });

  describe(`${framework} example, JWT access tokens`, () => {
    const world = new World();
    let jwks: Awaited<ReturnType<typeof serveJwks>>;
    let readWrite = '';
    let readOnly = '';
    beforeAll(async () => {
      readWrite = (await world.signIn()).accessToken!;
      readOnly = (await world.signIn('read-only')).accessToken!;
      jwks = await serveJwks(world);
    });
    afterAll(async () => {
      await jwks.close();
      world.close();
    });

    describe('with the JWKS in memory (getJwks)', () => {
      let api: GuardedApi;
      beforeAll(async () => {
        api = await start({ latchkey: { jwt: { jwks: await world.engine.getJwks(), ...ACCESS, roles: ROLES } } });
      });
      afterAll(() => api.close());
      describeGuardedRoutes(() => ({ api, readWrite, readOnly }));

      it('refuses a session token where an access token is expected', async () => {
        const { token } = await world.signIn();
        const reply = await api.request('GET', '/me', { token });
        expect(reply.status).toBe(401);
        expect(errorCode(reply)).toBe('ACCESS_TOKEN_MALFORMED');
      });

      it('reads no cookie by default: a browser carrying the session cookie is a stranger on the optional route', async () => {
        const { token } = await world.signIn();
        const reply = await api.request('GET', '/greeting', { cookie: `__Host-${COOKIE}=${token}; ${COOKIE}=${token}` });
        expect(reply).toMatchObject({ status: 200, body: { greeting: 'gm, stranger' } });
      });

      it('does not see a revocation: the access token lives out its few minutes (the documented bound)', async () => {
        const issued = await world.signIn();
        await world.engine.revokeSession(issued.token);
        expect((await api.request('GET', '/me', { token: issued.accessToken! })).status).toBe(200);
      });
    });

    describe('with the JWKS fetched over HTTP', () => {
      let api: GuardedApi;
      beforeAll(async () => {
        api = await start({ latchkey: { jwt: { jwksUrl: jwks.url, ...ACCESS, roles: ROLES } } });
      });
      afterAll(() => api.close());
      describeGuardedRoutes(() => ({ api, readWrite, readOnly }));

      it('fetched the JWKS once for all those requests', () => {
        expect(jwks.fetches).toBe(1);
      });

      it('answers 503 while the JWKS cannot be fetched, and recovers', async () => {
        jwks.isDown = true;
        const fresh = await start({ latchkey: { jwt: { jwksUrl: jwks.url, ...ACCESS, roles: ROLES } } });
        try {
          const reply = await fresh.request('GET', '/me', { token: readWrite });
          expect(reply.status).toBe(503);
          expect(errorCode(reply)).toBe('STORE_UNAVAILABLE');
          jwks.isDown = false;
          expect((await fresh.request('GET', '/me', { token: readWrite })).status).toBe(200);
        } finally {
          jwks.isDown = false;
          await fresh.close();
        }
      });
    });
  });

  describe(`${framework} example, remote Latchkey server`, () => {
    const world = new World();
    const clock = new ManualClock(Date.now());
    const CACHE_SECONDS = 2;
    let server: Awaited<ReturnType<typeof startLatchkeyServer>>;
    let api: GuardedApi;
    let readWrite = '';
    let readOnly = '';
    beforeAll(async () => {
      readWrite = (await world.signIn()).token;
      readOnly = (await world.signIn('read-only')).token;
      server = await startLatchkeyServer(world);
      api = await start({
        latchkey: { remote: { url: server.url, apiKey: server.apiKey, cacheSeconds: CACHE_SECONDS }, clock },
        latchkeyUrl: server.url,
      });
    });
    afterAll(async () => {
      await api.close();
      await server.close();
      world.close();
    });

    describeGuardedRoutes(() => ({ api, readWrite, readOnly }));

    it('refuses a well-formed token the server does not know', async () => {
      const { token } = await world.signIn();
      await world.engine.revokeSession(token);
      const reply = await api.request('GET', '/me', { token });
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe(INVALID_TOKEN);
    });

    it('refuses a session revoked elsewhere once forget(token) is called', async () => {
      const { token } = await world.signIn();
      expect((await api.request('GET', '/me', { token })).status).toBe(200);
      await world.engine.revokeSession(token);
      // Within cacheSeconds the remembered answer still stands: the bound on staleness.
      expect((await api.request('GET', '/me', { token })).status).toBe(200);
      api.forget(token);
      expect((await api.request('GET', '/me', { token })).status).toBe(401);
    });

    it('refuses a session revoked elsewhere once cacheSeconds have passed', async () => {
      const { token } = await world.signIn();
      expect((await api.request('GET', '/me', { token })).status).toBe(200);
      await world.engine.revokeSession(token);
      clock.advance(CACHE_SECONDS * 1000 - 1);
      expect((await api.request('GET', '/me', { token })).status).toBe(200);
      clock.advance(1);
      expect((await api.request('GET', '/me', { token })).status).toBe(401);
    });

    it('refuses at once a session signed out through the app (a DELETE on the session passing through)', async () => {
      const { token } = await world.signIn();
      expect((await api.request('GET', '/me', { token })).status).toBe(200);
      expect((await api.request('DELETE', '/session', { token })).status).toBe(204);
      expect((await api.request('GET', '/me', { token })).status).toBe(401);
    });

    describe('with the session cookie (opt-in, with the allowed origins)', () => {
      let cookieApi: GuardedApi;
      beforeAll(async () => {
        cookieApi = await start({
          latchkey: { remote: { url: server.url, apiKey: server.apiKey }, cookieName: COOKIE, allowedOrigins: [APP_ORIGIN] },
          latchkeyUrl: server.url,
        });
      });
      afterAll(() => cookieApi.close());

      it('signs a cookie caller out at the server (its credential forwarded as a bearer token)', async () => {
        const { token } = await world.signIn();
        const cookie = `${COOKIE}=${token}`;
        expect((await cookieApi.request('GET', '/me', { cookie })).status).toBe(200);
        expect((await cookieApi.request('DELETE', '/session', { cookie, origin: APP_ORIGIN })).status).toBe(204);
        expect((await cookieApi.request('GET', '/me', { cookie })).status).toBe(401);
        expect((await api.request('GET', '/me', { token })).status).toBe(401);
      });

      it('refuses a cookie sign-out from another origin, or with none (CSRF), and the session lives on', async () => {
        const { token } = await world.signIn();
        const cookie = `${COOKIE}=${token}`;
        for (const origin of ['https://evil.app.example.test', undefined]) {
          const reply = await cookieApi.request('DELETE', '/session', { cookie, origin });
          expect(reply.status).toBe(403);
          expect(errorCode(reply)).toBe('CSRF_REJECTED');
        }
        expect((await cookieApi.request('GET', '/me', { cookie })).status).toBe(200);
      });
    });

    it('answers 503 when the server cannot answer: store down, or nothing listening', async () => {
      const down = new World();
      const { token } = await down.signIn();
      const downServer = await startLatchkeyServer(down);
      const apis = [
        await start({ latchkey: { remote: { url: downServer.url, apiKey: downServer.apiKey } } }),
        await start({ latchkey: { remote: { url: await deadUrl(), apiKey: downServer.apiKey } } }),
      ];
      try {
        await down.storeDown();
        for (const each of apis) {
          for (const path of ['/me', '/greeting']) {
            const reply = await each.request('GET', path, { token });
            expect(reply.status).toBe(503);
            expect(errorCode(reply)).toBe('STORE_UNAVAILABLE');
          }
        }
      } finally {
        for (const each of apis) await each.close();
        await downServer.close();
        down.close();
      }
    });
  });
}
