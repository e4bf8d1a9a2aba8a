import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ORIGIN, type Fixture, type IssuedBody, siweMessage, startFixture, WALLETS } from '../../test-support/http/index.js';

/** The JSON answers this client reads. */
interface Answer {
  nonce: string;
  session: { id: string };
  token?: string;
  refreshToken?: string;
  accessToken?: string;
  revoked: number;
  error: { code: string };
}
const answer = async (response: Response): Promise<Answer> => (await response.json()) as Answer;

/** A dApp's scripted client over a real socket: Node's fetch, a viem wallet, nothing in process. */
describe('a wallet client over HTTP', () => {
  let fixture: Fixture;
  let base: string;
  const wallet = WALLETS[0]!;

  beforeAll(async () => {
    fixture = await startFixture({ defaults: { accessTokens: { audience: 'api.example.com' } } });
    await fixture.app.listen({ port: 0, host: '127.0.0.1' });
    const address = fixture.app.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await fixture.app.close();
  });

  const request = (method: string, path: string, options: { headers?: Record<string, string>; body?: unknown } = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  async function signInWithWallet(body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Response> {
    fixture.clock.advance(1000); // one sign-in per second, so the listing's oldest-first order is the sign-in order
    const nonce = await request('POST', '/v1/auth/nonce');
    expect(nonce.status).toBe(200);
    const message = siweMessage(wallet.address, (await answer(nonce)).nonce, fixture.clock);
    return request('POST', '/v1/auth/siwe', {
      headers: { 'user-agent': 'e2e-test/1.0', ...headers },
      body: { message, signature: await wallet.signMessage({ message }), ...body },
    });
  }

  it('signs in, reads, lists, refreshes, revokes one, revokes the others and signs out (bearer)', async () => {
    const signedIn = await signInWithWallet({ deviceId: 'laptop' });
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers.get('set-cookie')).toBeNull();
    const first = (await signedIn.json()) as IssuedBody;
    expect(first.token).toMatch(/^lks_/);
    expect(first.refreshToken).toMatch(/^lkr_/);
    expect(first.accessToken?.split('.')).toHaveLength(3);
    expect(first.session).toMatchObject({
      account: `eip155:8453:${wallet.address}`,
      device: { deviceId: 'laptop', userAgent: 'e2e-test/1.0', ip: '127.0.0.1' },
    });
    const phone = (await (await signInWithWallet({ deviceId: 'phone' })).json()) as IssuedBody;
    const tablet = (await (await signInWithWallet({ deviceId: 'tablet', scope: 'read-only' })).json()) as IssuedBody;
    expect(new Set([first.session.id, phone.session.id, tablet.session.id]).size).toBe(3);

    const current = await request('GET', '/v1/session', { headers: bearer(first.token) });
    expect(current.status).toBe(200);
    expect(current.headers.get('cache-control')).toBe('no-store');
    expect((await answer(current)).session.id).toBe(first.session.id);

    const listed = (
      (await (await request('GET', '/v1/sessions', { headers: bearer(first.token) })).json()) as { sessions: unknown }
    ).sessions as {
      id: string;
      current: boolean;
      device: { deviceId: string };
    }[];
    expect(listed.map((s) => [s.device.deviceId, s.current])).toEqual([
      ['laptop', true],
      ['phone', false],
      ['tablet', false],
    ]);
    expect(JSON.stringify(listed)).not.toContain('lks_');

    const refreshed = await request('POST', '/v1/session/refresh', { body: { refreshToken: first.refreshToken } });
    expect(refreshed.status).toBe(200);
    const second = (await refreshed.json()) as IssuedBody;
    expect(second.session.id).toBe(first.session.id);
    expect(second.token).not.toBe(first.token);
    const stale = await request('GET', '/v1/session', { headers: bearer(first.token) });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toBe('Bearer realm="latchkey", error="invalid_token"');

    expect((await request('DELETE', `/v1/sessions/${phone.session.id}`, { headers: bearer(second.token) })).status).toBe(204);
    expect((await request('GET', '/v1/session', { headers: bearer(phone.token) })).status).toBe(401);

    const others = await request('DELETE', '/v1/sessions?keep=current', { headers: bearer(second.token) });
    expect(await others.json()).toEqual({ revoked: 1 });
    expect((await request('GET', '/v1/session', { headers: bearer(tablet.token) })).status).toBe(401);
    expect((await request('GET', '/v1/session', { headers: bearer(second.token) })).status).toBe(200);

    expect((await request('DELETE', '/v1/session', { headers: bearer(second.token) })).status).toBe(204);
    const gone = await request('GET', '/v1/session', { headers: bearer(second.token) });
    expect(gone.status).toBe(401);
    expect((await answer(gone)).error.code).toBe('SESSION_NOT_FOUND');
  });

  it('does the same with cookies: HttpOnly, set only on change, CSRF refused from another origin', async () => {
    const signedIn = await signInWithWallet({ mode: 'cookie' }, { origin: APP_ORIGIN });
    expect(signedIn.status).toBe(200);
    const body = await answer(signedIn);
    expect(body.token).toBeUndefined();
    expect(body.refreshToken).toBeUndefined();
    expect(body.accessToken).toBeDefined();
    const setCookies = signedIn.headers.getSetCookie();
    expect(setCookies).toHaveLength(2);
    for (const c of setCookies) {
      // Adapted: the app is served over https (its sign-in origin), so even on 127.0.0.1 (as behind a proxy)
      // the cookies are Secure with the __Host- prefix; they were plain here when the Host header decided.
      expect(c).toMatch(/^__Host-latchkey-(session|refresh)-default=lk[sr]_/);
      expect(c).toContain('HttpOnly');
      expect(c).toContain('SameSite=Lax');
      expect(c).toContain('Path=/');
      expect(c).toContain('Secure');
    }
    let jar = setCookies.map((c) => c.split(';', 1)[0]).join('; ');

    const read = await request('GET', '/v1/session', { headers: { cookie: jar } });
    expect(read.status).toBe(200);
    expect(read.headers.get('set-cookie')).toBeNull();

    const refreshed = await request('POST', '/v1/session/refresh', { headers: { cookie: jar, origin: APP_ORIGIN } });
    expect(refreshed.status).toBe(200);
    expect((await answer(refreshed)).token).toBeUndefined();
    const rotated = refreshed.headers
      .getSetCookie()
      .map((c) => c.split(';', 1)[0])
      .join('; ');
    expect(rotated).not.toBe(jar);
    jar = rotated;

    const second = (await (await signInWithWallet()).json()) as IssuedBody;
    const crossSite: Record<string, string>[] = [
      { origin: 'https://evil.example' },
      {},
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    ];
    for (const headers of crossSite) {
      const refused = await request('DELETE', '/v1/sessions?keep=current', { headers: { cookie: jar, ...headers } });
      expect(refused.status).toBe(403);
      expect((await answer(refused)).error.code).toBe('CSRF_REJECTED');
    }
    expect((await request('GET', '/v1/session', { headers: bearer(second.token) })).status).toBe(200);
    // A bearer request needs no Origin: browsers never attach the header by themselves.
    expect(
      (await request('GET', '/v1/sessions', { headers: { ...bearer(second.token), origin: 'https://evil.example' } })).status,
    ).toBe(200);

    const kept = await request('DELETE', '/v1/sessions?keep=current', {
      headers: { cookie: jar, 'sec-fetch-site': 'same-origin' },
    });
    expect(await kept.json()).toEqual({ revoked: 1 });
    expect(kept.headers.get('set-cookie')).toBeNull();
    expect((await request('GET', '/v1/session', { headers: bearer(second.token) })).status).toBe(401);

    const signedOut = await request('DELETE', '/v1/session', { headers: { cookie: jar, origin: APP_ORIGIN } });
    expect(signedOut.status).toBe(204);
    const cleared = signedOut.headers.getSetCookie();
    expect(cleared).toHaveLength(2);
    for (const c of cleared) expect(c).toMatch(/^__Host-latchkey-(session|refresh)-default=;.*Expires=Thu, 01 Jan 1970/);
    expect((await request('GET', '/v1/session', { headers: { cookie: jar } })).status).toBe(401);
  });
});
