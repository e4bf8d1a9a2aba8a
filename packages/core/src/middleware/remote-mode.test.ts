import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../runtime.js';
import type { Session } from '../session/view.js';
import { WalletAuthenticator } from './authenticator.js';

const API_KEY = 'lka_0123456789abcdef.4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi';
const T0 = Date.UTC(2026, 0, 1, 12);
const ACCOUNT = 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';

function token(n: number): string {
  return `lks_${n.toString(16).padStart(32, '0')}.5Kd3NBUAdUnhyzenEwVLy9pBKxSwXvE9FMPyR4UKZvpe`;
}

function session(overrides: Partial<Session> = {}): Session {
  return {
    id: '0123456789abcdef0123456789abcdef',
    appId: 'default',
    account: ACCOUNT,
    chainType: 'eip155',
    address: '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045',
    userId: null,
    authMethod: 'siwe',
    scope: 'read-write',
    roles: ['member'],
    permissions: ['read:profile', 'write:profile'],
    device: {},
    createdAt: T0,
    lastActiveAt: T0,
    idleExpiresAt: T0 + 7_200_000,
    absoluteExpiresAt: T0 + 604_800_000,
    expiresAt: T0 + 7_200_000,
    refreshGeneration: 0,
    hasData: false,
    ...overrides,
  } as Session;
}

type Behaviour = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A Latchkey server stand-in that can be told to misbehave: wrong status, garbage, redirect, silence. */
const peer = {
  server: null as Server | null,
  url: '',
  calls: [] as { method?: string; url?: string; authorization?: string; body: string }[],
  behaviour: null as Behaviour | null,
};

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const ACTIVE: Behaviour = (_req, res) => json(res, 200, { active: true, session: session() });

beforeAll(async () => {
  peer.server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      peer.calls.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
      (peer.behaviour ?? ACTIVE)(req, res, body);
    });
  });
  await new Promise<void>((resolve) => peer.server!.listen(0, '127.0.0.1', resolve));
  peer.url = `http://127.0.0.1:${(peer.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  peer.server?.closeAllConnections();
  await new Promise((resolve) => peer.server?.close(resolve));
});

beforeEach(() => {
  peer.calls.length = 0;
  peer.behaviour = null;
});

function remote(options: { cacheSeconds?: number; timeoutSeconds?: number; url?: string } = {}) {
  const clock = new ManualClock(T0);
  const authenticator = new WalletAuthenticator({
    remote: {
      url: options.url ?? peer.url,
      apiKey: API_KEY,
      cacheSeconds: options.cacheSeconds,
      timeoutSeconds: options.timeoutSeconds,
    },
    clock,
  });
  const check = (t: string) => authenticator.authenticate({ authorization: `Bearer ${t}` }, { isRequired: true });
  return { authenticator, clock, check };
}

describe('remote mode', () => {
  it('introspects with the API key and puts the session and wallet on the request', async () => {
    const { check } = remote();
    const outcome = await check(token(1));
    expect(peer.calls).toEqual([
      {
        method: 'POST',
        url: '/v1/sessions/introspect',
        authorization: `Bearer ${API_KEY}`,
        body: JSON.stringify({ token: token(1) }),
      },
    ]);
    expect(outcome).toMatchObject({
      kind: 'authenticated',
      context: {
        via: 'remote',
        session: { id: session().id, permissions: ['read:profile', 'write:profile'] },
        wallet: { account: ACCOUNT, chainType: 'eip155', reference: '1', address: session().address },
        claims: null,
      },
    });
  });

  it('reuses a positive answer for cacheSeconds, keyed by the token, then asks again', async () => {
    const { check, clock } = remote({ cacheSeconds: 2 });
    await check(token(1));
    clock.advance(1999);
    expect((await check(token(1))).kind).toBe('authenticated');
    expect(peer.calls).toHaveLength(1);
    await check(token(2));
    expect(peer.calls).toHaveLength(2);
    clock.advance(1);
    await check(token(1));
    expect(peer.calls).toHaveLength(3);
  });

  it('never reuses an answer past the session expiry', async () => {
    peer.behaviour = (_req, res) => json(res, 200, { active: true, session: session({ expiresAt: T0 + 1000 }) });
    const { check, clock } = remote({ cacheSeconds: 30 });
    await check(token(1));
    clock.advance(1000);
    await check(token(1));
    expect(peer.calls).toHaveLength(2);
  });

  it('asks every time with cacheSeconds 0', async () => {
    const { check } = remote({ cacheSeconds: 0 });
    await check(token(1));
    await check(token(1));
    expect(peer.calls).toHaveLength(2);
  });

  it('refuses an inactive token with 401 invalid_token and remembers nothing', async () => {
    peer.behaviour = (_req, res) => json(res, 200, { active: false });
    const { check } = remote();
    const outcome = await check(token(1));
    expect(outcome).toMatchObject({
      kind: 'refused',
      answer: { status: 401, headers: { 'www-authenticate': 'Bearer realm="latchkey", error="invalid_token"' } },
    });
    await check(token(1));
    expect(peer.calls).toHaveLength(2);
  });

  it('refuses a token that is not a session token without asking', async () => {
    const { check } = remote();
    expect(await check('not-a-token')).toMatchObject({
      kind: 'refused',
      answer: { status: 401, body: { error: { code: 'TOKEN_MALFORMED' } } },
    });
    expect(peer.calls).toHaveLength(0);
  });

  it('forgets on request, on a 401 for the token, and on a DELETE of a session', async () => {
    const { authenticator, check } = remote();
    await check(token(1));
    authenticator.forget(token(1));
    await check(token(1));
    expect(peer.calls).toHaveLength(2);

    const outcome = await check(token(1));
    if (outcome.kind !== 'authenticated' || !outcome.remembered) throw new Error('expected a remembered answer');
    authenticator.responseFinished(outcome.remembered, { method: 'GET', url: '/profile', status: 200 });
    await check(token(1));
    expect(peer.calls).toHaveLength(2);
    authenticator.responseFinished(outcome.remembered, { method: 'GET', url: '/profile', status: 401 });
    await check(token(1));
    expect(peer.calls).toHaveLength(3);

    // Both tokens belong to one wallet: revoking "all sessions" may have revoked either.
    await check(token(2));
    expect(peer.calls).toHaveLength(4);
    authenticator.responseFinished(outcome.remembered, { method: 'DELETE', url: '/v1/sessions?keep=current', status: 200 });
    await check(token(1));
    await check(token(2));
    expect(peer.calls).toHaveLength(6);
    for (const url of ['/api/session', '/v1/sessions/0123456789abcdef0123456789abcdef', '/logout/session/']) {
      authenticator.responseFinished(outcome.remembered, { method: 'DELETE', url, status: 204 });
      await check(token(1));
    }
    expect(peer.calls).toHaveLength(9);
    authenticator.responseFinished(outcome.remembered, { method: 'DELETE', url: '/posts/4', status: 204 });
    await check(token(1));
    expect(peer.calls).toHaveLength(9);
  });

  it('shares one round trip between concurrent requests with the same token', async () => {
    const { check } = remote();
    const outcomes = await Promise.all([check(token(1)), check(token(1)), check(token(1))]);
    expect(outcomes.map((o) => o.kind)).toEqual(['authenticated', 'authenticated', 'authenticated']);
    expect(peer.calls).toHaveLength(1);
  });

  it('does not remember an answer that was in flight when the token was forgotten', async () => {
    let release: () => void = () => {};
    peer.behaviour = (req, res) => {
      release = () => ACTIVE(req, res, '');
    };
    const { authenticator, check } = remote();
    const first = check(token(1));
    while (peer.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    authenticator.forget(token(1));
    release();
    expect((await first).kind).toBe('authenticated');
    peer.behaviour = null;
    await check(token(1));
    expect(peer.calls).toHaveLength(2);
  });

  describe('a server that cannot answer is a 503, never a pass', () => {
    const cases: [string, Behaviour][] = [
      ['500', (_req, res) => json(res, 500, { error: { code: 'INTERNAL_ERROR' } })],
      ['503 from its store', (_req, res) => json(res, 503, { error: { code: 'STORE_UNAVAILABLE' } })],
      ['401 for a wrong API key', (_req, res) => json(res, 401, { error: { code: 'API_KEY_INVALID' } })],
      ['not JSON', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"active": tru')],
      ['active without a session', (_req, res) => json(res, 200, { active: true })],
      ['active with a broken session', (_req, res) => json(res, 200, { active: true, session: { id: 1 } })],
      ['a body that is not an object', (_req, res) => json(res, 200, null)],
      ['a redirect', (_req, res) => res.writeHead(307, { location: `${peer.url}/elsewhere` }).end()],
      ['silence past the timeout', () => {}],
      ['a dropped connection', (req) => req.socket.destroy()],
    ];
    it.each(cases)('%s', async (_name, behaviour) => {
      peer.behaviour = behaviour;
      const { check } = remote({ timeoutSeconds: 0.2 });
      const outcome = await check(token(1));
      expect(outcome).toMatchObject({ kind: 'refused', answer: { status: 503, body: { error: { code: 'STORE_UNAVAILABLE' } } } });
      // The API key never follows a redirect.
      expect(peer.calls.filter((c) => c.url === '/elsewhere')).toHaveLength(0);
    });

    it('nothing listening', async () => {
      const { check } = remote({ url: 'http://127.0.0.1:9' });
      expect(await check(token(1))).toMatchObject({ kind: 'refused', answer: { status: 503 } });
    });

    it('even for an optional route', async () => {
      peer.behaviour = (_req, res) => json(res, 503, {});
      const { authenticator } = remote();
      const outcome = await authenticator.authenticate({ authorization: `Bearer ${token(1)}` }, { isRequired: false });
      expect(outcome).toMatchObject({ kind: 'refused', answer: { status: 503 } });
    });
  });
});
