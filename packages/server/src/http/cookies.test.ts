import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, type Fixture, siweMessage, startFixture, WALLETS } from '../../test-support/http/index.js';

async function cookieSignIn(f: Fixture, headers: Record<string, string>, appId?: string): Promise<LightMyRequestResponse> {
  const appHeader: Record<string, string> = appId ? { 'latchkey-app': appId } : {};
  const { nonce } = (await f.app.inject({ method: 'POST', url: '/v1/auth/nonce', headers: { ...appHeader, ...headers } })).json();
  const message = siweMessage(WALLETS[0]!.address, nonce, f.clock);
  return f.app.inject({
    method: 'POST',
    url: '/v1/auth/siwe',
    headers: { origin: APP_ORIGIN, ...appHeader, ...headers },
    payload: { message, signature: await WALLETS[0]!.signMessage({ message }), mode: 'cookie' },
  });
}

const jar = (r: LightMyRequestResponse) =>
  (r.cookies as { name: string; value: string }[]).map((c) => `${c.name}=${c.value}`).join('; ');

describe('cookie mode', () => {
  it('uses __Host- names and Secure for an https app whatever the Host header, and reads only that name', async () => {
    const f = await startFixture();
    const remote = await cookieSignIn(f, { host: 'auth.example.com' });
    expect(remote.statusCode).toBe(200);
    const headers = remote.headers['set-cookie'] as string[];
    expect(headers.map((h) => h.split('=', 1)[0])).toEqual([
      '__Host-latchkey-session-default',
      '__Host-latchkey-refresh-default',
    ]);
    for (const h of headers) {
      expect(h).toMatch(/; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      expect(h).not.toMatch(/Domain=/i);
    }
    // The __Host- cookie authenticates there, and the plain one does not.
    const value = (remote.cookies as { value: string }[])[0]!.value;
    const read = (host: string, cookie: string) => f.app.inject({ method: 'GET', url: '/v1/session', headers: { host, cookie } });
    expect((await read('auth.example.com', `__Host-latchkey-session-default=${value}`)).statusCode).toBe(200);
    expect((await read('auth.example.com', `latchkey-session-default=${value}`)).statusCode).toBe(401);
    // Adapted: the Host header no longer decides; a plain-named cookie is never read, on localhost neither.
    expect((await read('localhost:3000', `latchkey-session-default=${value}`)).statusCode).toBe(401);
    expect((await read('localhost:3000', `__Host-latchkey-session-default=${value}`)).statusCode).toBe(200);

    // Adapted: behind nginx (proxy_pass http://127.0.0.1:8787) an https app still gets Secure __Host- cookies.
    const local = await cookieSignIn(f, { host: '127.0.0.1:8080' });
    expect(local.statusCode).toBe(200);
    for (const h of local.headers['set-cookie'] as string[]) {
      expect(h).toMatch(/^__Host-latchkey-(session|refresh)-default=/);
      expect(h).toContain('; Secure;');
    }
    const forced = await startFixture({ server: { cookies: { secure: true } } });
    expect(((await cookieSignIn(forced, {})).headers['set-cookie'] as string[])[0]).toMatch(/^__Host-.*; Secure;/);
  });

  it('behind a proxy on 127.0.0.1: Secure __Host- cookies for an https app; the unprefixed cookies are ignored', async () => {
    const f = await startFixture();
    const behindProxy = { host: '127.0.0.1:8787' };
    const signedIn = await cookieSignIn(f, behindProxy);
    expect(signedIn.statusCode).toBe(200);
    const cookies = signedIn.cookies as { name: string; value: string; secure?: boolean }[];
    expect(cookies.map((c) => [c.name, c.secure])).toEqual([
      ['__Host-latchkey-session-default', true],
      ['__Host-latchkey-refresh-default', true],
    ]);
    const [session, refresh] = cookies.map((c) => c.value) as [string, string];
    // A sibling subdomain can plant unprefixed cookies (session fixation); the server never reads them.
    const planted = await f.app.inject({
      method: 'GET',
      url: '/v1/session',
      headers: { ...behindProxy, cookie: `latchkey-session-default=${session}` },
    });
    expect([planted.statusCode, planted.json().error.code]).toEqual([401, 'AUTHENTICATION_REQUIRED']);
    const plantedRefresh = await f.app.inject({
      method: 'POST',
      url: '/v1/session/refresh',
      headers: { ...behindProxy, origin: APP_ORIGIN, cookie: `latchkey-refresh-default=${refresh}` },
    });
    expect([plantedRefresh.statusCode, plantedRefresh.json().error.code]).toEqual([401, 'AUTHENTICATION_REQUIRED']);
    const real = await f.app.inject({
      method: 'POST',
      url: '/v1/session/refresh',
      headers: { ...behindProxy, origin: APP_ORIGIN, cookie: `__Host-latchkey-refresh-default=${refresh}` },
    });
    expect(real.statusCode).toBe(200);
    expect((real.headers['set-cookie'] as string[]).every((h) => h.startsWith('__Host-') && h.includes('; Secure;'))).toBe(true);
  });

  it('go without Secure only when cookies.secure is false and the app is not served over https', async () => {
    const localOrigin = 'http://127.0.0.1:8787';
    const local = { signIn: { domain: '127.0.0.1:8787', origin: localOrigin, chainIds: [8453] } };
    const refreshByCookie = async (f: Fixture, name: string, origin: string) => {
      const issued = await f.latchkey.createSession({ account: `eip155:1:${WALLETS[0]!.address}`, authMethod: 'api' });
      return f.app.inject({
        method: 'POST',
        url: '/v1/session/refresh',
        headers: { origin, cookie: `${name}=${issued.refreshToken}` },
      });
    };
    const plain = await startFixture({ defaults: local, server: { cookies: { secure: false } } });
    const answered = await refreshByCookie(plain, 'latchkey-refresh-default', localOrigin);
    expect(answered.statusCode).toBe(200);
    for (const h of answered.headers['set-cookie'] as string[]) {
      expect(h).toMatch(/^latchkey-(session|refresh)-default=/);
      expect(h).not.toContain('Secure');
    }
    expect((await refreshByCookie(plain, '__Host-latchkey-refresh-default', localOrigin)).statusCode).toBe(401);
    // Without an explicit false, an http origin still gets Secure cookies.
    const unset = await startFixture({ defaults: local });
    expect((await refreshByCookie(unset, 'latchkey-refresh-default', localOrigin)).statusCode).toBe(401);
    const secure = await refreshByCookie(unset, '__Host-latchkey-refresh-default', localOrigin);
    expect((secure.headers['set-cookie'] as string[])[0]).toMatch(/^__Host-.*; Secure;/);
    // An https app is Secure even with cookies.secure false.
    const https = await startFixture({ server: { cookies: { secure: false } } });
    expect(((await cookieSignIn(https, {})).headers['set-cookie'] as string[])[0]).toMatch(/^__Host-.*; Secure;/);
  });

  it('names cookies per app', async () => {
    const f = await startFixture({ apps: { shop: {} } });
    const shop = await cookieSignIn(f, {}, 'shop');
    // Adapted: shop's sign-in origin is https, so its cookies carry __Host- (they were plain on the inject host).
    expect((shop.cookies as { name: string }[]).map((c) => c.name)).toEqual([
      '__Host-latchkey-session-shop',
      '__Host-latchkey-refresh-shop',
    ]);
    const cookie = jar(shop);
    expect(
      (await f.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie, 'latchkey-app': 'shop' } })).statusCode,
    ).toBe(200);
    expect((await f.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } })).statusCode).toBe(401);
  });

  it('sets cookies only when something changed', async () => {
    const f = await startFixture();
    const signedIn = await cookieSignIn(f, {});
    const cookie = jar(signedIn);
    const bearerSignIn = await f.app.inject({ method: 'POST', url: '/v1/auth/nonce' });
    expect(bearerSignIn.headers['set-cookie']).toBeUndefined();
    for (const [method, url] of [
      ['GET', '/v1/session'],
      ['GET', '/v1/sessions'],
    ] as const) {
      const response = await f.app.inject({ method, url, headers: { cookie } });
      expect(response.statusCode).toBe(200);
      expect(response.headers['set-cookie']).toBeUndefined();
    }
    const kept = await f.app.inject({
      method: 'DELETE',
      url: '/v1/sessions?keep=current',
      headers: { cookie, origin: APP_ORIGIN },
    });
    expect(kept.headers['set-cookie']).toBeUndefined();
    const refreshed = await f.app.inject({ method: 'POST', url: '/v1/session/refresh', headers: { cookie, origin: APP_ORIGIN } });
    expect(refreshed.headers['set-cookie']).toHaveLength(2);
    const all = await f.app.inject({
      method: 'DELETE',
      url: '/v1/sessions',
      headers: { cookie: jar(refreshed), origin: APP_ORIGIN },
    });
    expect(all.json()).toEqual({ revoked: 1 });
    expect(all.headers['set-cookie']).toHaveLength(2); // the current session went too: cleared
  });

  it('clears the cookies when a refresh fails for good', async () => {
    const f = await startFixture();
    const cookie = jar(await cookieSignIn(f, {}));
    expect(
      (await f.app.inject({ method: 'POST', url: '/v1/session/refresh', headers: { cookie, origin: APP_ORIGIN } })).statusCode,
    ).toBe(200);
    f.clock.advance(60_000);
    const reused = await f.app.inject({ method: 'POST', url: '/v1/session/refresh', headers: { cookie, origin: APP_ORIGIN } });
    expect(reused.json().error.code).toBe('REFRESH_TOKEN_REUSED');
    // Adapted: the https app's cookies are the __Host- ones.
    expect(reused.headers['set-cookie']).toEqual([
      expect.stringMatching(/^__Host-latchkey-session-default=; .*Expires=Thu, 01 Jan 1970/),
      expect.stringMatching(/^__Host-latchkey-refresh-default=; .*Expires=Thu, 01 Jan 1970/),
    ]);
  });
});

describe('CSRF defence', () => {
  it('lets a cookie change state only from the app origin or same-origin, and checks before touching the store', async () => {
    const f = await startFixture();
    const signedIn = await cookieSignIn(f, {});
    const cookie = jar(signedIn);
    const statsBefore = await f.store.readStats('default', f.clock.now());
    for (const headers of [
      {},
      { origin: 'https://evil.example' },
      { origin: `${APP_ORIGIN}.evil.example` },
      { origin: 'http://app.example.com' },
      { origin: 'null' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
      { referer: `${APP_ORIGIN}/page` },
    ]) {
      for (const [method, url] of [
        ['DELETE', '/v1/session'],
        ['DELETE', '/v1/sessions'],
        ['DELETE', `/v1/sessions/${signedIn.json().session.id}`],
        ['POST', '/v1/session/refresh'],
      ] as const) {
        const response = await f.app.inject({ method, url, headers: { cookie, ...headers } });
        expect(response.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(403);
        expect(response.json().error.code).toBe('CSRF_REJECTED');
      }
    }
    expect(await f.store.readStats('default', f.clock.now())).toEqual(statsBefore);
    expect((await f.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } })).statusCode).toBe(200);
    const sameOrigin = await f.app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(sameOrigin.statusCode).toBe(204);
  });

  it('asks the same of a sign-in that wants cookies, and nothing of bearer requests', async () => {
    const f = await startFixture();
    for (const headers of [{ origin: 'https://evil.example' }, { origin: '' }]) {
      const refused = await cookieSignIn(f, headers);
      expect(refused.json().error.code).toBe('CSRF_REJECTED');
    }
    expect((await cookieSignIn(f, { origin: '', 'sec-fetch-site': 'same-origin' })).statusCode).toBe(200);
    const { nonce } = (await f.app.inject({ method: 'POST', url: '/v1/auth/nonce' })).json();
    const message = siweMessage(WALLETS[1]!.address, nonce, f.clock);
    const bearer = await f.app.inject({
      method: 'POST',
      url: '/v1/auth/siwe',
      headers: { origin: 'https://evil.example' },
      payload: { message, signature: await WALLETS[1]!.signMessage({ message }) },
    });
    expect(bearer.statusCode).toBe(200);
    const token = bearer.json().token;
    const revoke = await f.app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example' },
    });
    expect(revoke.statusCode).toBe(204);
  });

  it('accepts only same-origin requests for an app without a sign-in origin', async () => {
    const f = await startFixture({ apps: { internal: { signIn: undefined } } });
    const issued = await f.latchkey.createSession({
      appId: 'internal',
      account: `eip155:1:${WALLETS[0]!.address}`,
      authMethod: 'api',
    });
    // Adapted: without cookies.secure false, an app without a sign-in origin uses the __Host- name too.
    const cookie = `__Host-latchkey-session-internal=${issued.token}`;
    const headers = { cookie, 'latchkey-app': 'internal' };
    expect(
      (await f.app.inject({ method: 'DELETE', url: '/v1/session', headers: { ...headers, origin: APP_ORIGIN } })).statusCode,
    ).toBe(403);
    expect(
      (await f.app.inject({ method: 'DELETE', url: '/v1/session', headers: { ...headers, 'sec-fetch-site': 'same-origin' } }))
        .statusCode,
    ).toBe(204);
  });
});
