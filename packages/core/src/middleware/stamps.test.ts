import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bodyDigest, createStamp, generateP256KeyPair, openCredentialBundle, toHex } from '@latchkey/protocol';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../logger.js';
import { ManualClock } from '../runtime.js';
import { Latchkey } from '../session/engine.js';
import type { IssuedSession } from '../session/index.js';
import { MemoryStore } from '../store/memory.js';
import { stampRefused } from './answers.js';
import { type AuthenticationOptions, WalletAuthenticator } from './authenticator.js';
import { ANONYMOUS } from './context.js';
import { hasRequestBody, planStamp } from './stamps.js';

const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const BOB = 'eip155:1:0xab5801a7d398351b8be11c439e05c5b3259aec9b';
const T0 = Date.UTC(2026, 0, 1, 12);
const API_KEY = 'lka_0123456789abcdef.4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi';

const clock = new ManualClock(T0);
const engine = new Latchkey({ store: new MemoryStore(), clock, cleanupIntervalSeconds: 0 });
afterAll(() => engine.close());

interface HeldKey {
  id: string;
  privateKey: Uint8Array;
  expiresAt: number;
}

/** A session key made by the engine and opened from its credential bundle, as a device holds it. */
async function heldKey(
  issued: IssuedSession,
  options: { scope?: 'read-only' | 'read-write'; ttlSeconds?: number } = {},
  on: Latchkey = engine,
): Promise<HeldKey> {
  const target = generateP256KeyPair();
  const { sessionKey, credentialBundle } = await on.sessionKeys.create({
    session: issued.session,
    scope: options.scope ?? 'read-write',
    targetPublicKey: toHex(target.publicKey),
    ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
  });
  return {
    id: sessionKey.id,
    privateKey: await openCredentialBundle(credentialBundle!, target.privateKey),
    expiresAt: sessionKey.expiresAt,
  };
}

interface Sent {
  method: string;
  target: string;
  body: string | null;
}

/** Headers and options for `authenticate`, the stamp signed over `signed` (default: what is sent). */
async function stamped(token: string, key: HeldKey, sent: Sent, signed: Partial<Sent> = {}, now = clock.now()) {
  const header = await createStamp(
    key.privateKey,
    key.id,
    { method: signed.method ?? sent.method, path: signed.target ?? sent.target, body: signed.body ?? sent.body },
    { now },
  );
  return {
    headers: { authorization: `Bearer ${token}`, 'latchkey-signature': header },
    options: {
      isRequired: true,
      method: sent.method,
      target: sent.target,
      body: sent.body === null ? null : new TextEncoder().encode(sent.body),
    } satisfies AuthenticationOptions,
  };
}

const POST: Sent = { method: 'POST', target: '/api/transfer?to=bob', body: '{"amount":1}' };
const GET: Sent = { method: 'GET', target: '/api/balance?currency=eth&detail', body: null };

function recordingLogger(): Logger & { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return {
    errors,
    warnings,
    error: (message) => void errors.push(message),
    warn: (message) => void warnings.push(message),
    info: () => {},
    debug: () => {},
  };
}

describe('stamps in engine mode', () => {
  const authenticator = new WalletAuthenticator({ engine, clock });
  let alice: IssuedSession;
  let key: HeldKey;
  beforeAll(async () => {
    alice = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    key = await heldKey(alice);
  });

  it('verifies a stamp after the session and puts the signing key on the context', async () => {
    for (const sent of [POST, GET]) {
      const { headers, options } = await stamped(alice.token, key, sent);
      const outcome = await authenticator.authenticate(headers, options);
      expect(outcome).toMatchObject({
        kind: 'authenticated',
        context: {
          via: 'engine',
          session: { id: alice.session.id },
          stamp: { keyId: key.id, scope: 'read-write', expiresAt: key.expiresAt },
        },
      });
    }
    const plain = await authenticator.authenticate(
      { authorization: `Bearer ${alice.token}` },
      { isRequired: true, method: 'GET' },
    );
    expect(plain).toMatchObject({ kind: 'authenticated', context: { stamp: null } });
  });

  it.each([
    ['an altered body', POST, { body: '{"amount":100}' }, 401, 'SIGNATURE_INVALID', 'invalid_token'],
    ['another path', POST, { target: '/transfer?to=bob' }, 401, 'SIGNATURE_INVALID', 'invalid_token'],
    ['reordered query', GET, { target: '/api/balance?detail&currency=eth' }, 401, 'SIGNATURE_INVALID', 'invalid_token'],
    ['another method', POST, { method: 'PUT' }, 401, 'SIGNATURE_INVALID', 'invalid_token'],
  ])('refuses a stamp over %s', async (_name, sent, signed, status, code, error) => {
    const { headers, options } = await stamped(alice.token, key, sent, signed);
    const outcome = await authenticator.authenticate(headers, options);
    expect(outcome).toMatchObject({ kind: 'refused', answer: { status, body: { error: { code } } } });
    expect(outcome.kind === 'refused' && outcome.answer.headers['www-authenticate']).toBe(
      `Bearer realm="latchkey", error="${error}"`,
    );
  });

  it('refuses a replayed stamp, a stale one, and a malformed header', async () => {
    const { headers, options } = await stamped(alice.token, key, POST);
    expect((await authenticator.authenticate(headers, options)).kind).toBe('authenticated');
    expect(await authenticator.authenticate(headers, options)).toMatchObject({
      answer: { status: 401, body: { error: { code: 'SIGNATURE_REPLAYED' } } },
    });
    const stale = await stamped(alice.token, key, POST, {}, clock.now() - 61_000);
    expect(await authenticator.authenticate(stale.headers, stale.options)).toMatchObject({
      answer: { status: 401, body: { error: { code: 'SIGNATURE_STALE' } } },
    });
    for (const header of ['v=1', ['a', 'b']]) {
      const outcome = await authenticator.authenticate({ ...headers, 'latchkey-signature': header }, options);
      expect(outcome).toMatchObject({ answer: { status: 400, body: { error: { code: 'SIGNATURE_MALFORMED' } } } });
      expect(outcome.kind === 'refused' && outcome.answer.headers['www-authenticate']).toBe(
        'Bearer realm="latchkey", error="invalid_request"',
      );
    }
  });

  it("refuses another session's key (403), a read-only key on a write (403) unless the guard says it reads", async () => {
    const bob = await engine.createSession({ account: BOB, authMethod: 'siwe' });
    const bobs = await stamped(bob.token, key, POST);
    expect(await authenticator.authenticate(bobs.headers, bobs.options)).toMatchObject({
      answer: { status: 403, headers: { 'cache-control': 'no-store' }, body: { error: { code: 'SESSION_KEY_MISMATCH' } } },
    });

    const readOnly = await heldKey(alice, { scope: 'read-only' });
    const write = await stamped(alice.token, readOnly, POST);
    const refused = await authenticator.authenticate(write.headers, write.options);
    expect(refused).toMatchObject({ answer: { status: 403, body: { error: { code: 'SCOPE_READ_ONLY' } } } });
    expect(refused.kind === 'refused' && refused.answer.headers['www-authenticate']).toBeUndefined();
    const read = await stamped(alice.token, readOnly, GET);
    expect(await authenticator.authenticate(read.headers, read.options)).toMatchObject({
      context: { stamp: { scope: 'read-only' } },
    });
    const search = await stamped(alice.token, readOnly, POST);
    expect(await authenticator.authenticate(search.headers, { ...search.options, isWrite: false })).toMatchObject({
      kind: 'authenticated',
    });
    // And the other way: a GET the guard calls a write.
    const get = await stamped(alice.token, readOnly, GET);
    expect(await authenticator.authenticate(get.headers, { ...get.options, isWrite: true })).toMatchObject({
      answer: { status: 403, body: { error: { code: 'SCOPE_READ_ONLY' } } },
    });
  });

  it('answers an expired key with 401, its expiry in the body and error="session_key_expired"', async () => {
    const shortLived = await heldKey(alice, { ttlSeconds: 60 });
    clock.advance(60_000);
    const { headers, options } = await stamped(alice.token, shortLived, GET);
    const outcome = await authenticator.authenticate(headers, options);
    expect(outcome).toEqual({
      kind: 'refused',
      answer: {
        status: 401,
        headers: { 'cache-control': 'no-store', 'www-authenticate': 'Bearer realm="latchkey", error="session_key_expired"' },
        body: { error: { code: 'SESSION_KEY_EXPIRED', message: 'Session key expired.', expiresAt: shortLived.expiresAt } },
      },
    });
  });

  it("requires a stamp with stamps: 'required' (per authenticator or per request), after the session", async () => {
    const requiring = new WalletAuthenticator({ engine, clock, stamps: 'required' });
    const bearer = { authorization: `Bearer ${alice.token}` };
    const get = { isRequired: true, method: 'GET', target: '/x', body: null };
    for (const [a, options] of [
      [requiring, get],
      [authenticator, { ...get, stamps: 'required' as const }],
    ] as const) {
      const outcome = await a.authenticate(bearer, options);
      expect(outcome).toMatchObject({ answer: { status: 401, body: { error: { code: 'SIGNATURE_REQUIRED' } } } });
      expect(outcome.kind === 'refused' && outcome.answer.headers['www-authenticate']).toBe(
        'Bearer realm="latchkey", error="signature_required"',
      );
      // A dead session is told so first.
      expect(await a.authenticate({ authorization: `Bearer lks_${'0'.repeat(32)}.${'1'.repeat(44)}` }, options)).toMatchObject({
        answer: { body: { error: { code: 'SESSION_NOT_FOUND' } } },
      });
    }
    expect((await requiring.authenticate(bearer, { ...get, stamps: 'optional' })).kind).toBe('authenticated');
    const { headers, options } = await stamped(alice.token, key, GET);
    expect((await requiring.authenticate(headers, options)).kind).toBe('authenticated');
  });

  it('lets an anonymous request through as anonymous whatever it carries', async () => {
    const { headers, options } = await stamped(alice.token, key, GET);
    const anonymous = { 'latchkey-signature': headers['latchkey-signature'] };
    expect(await authenticator.authenticate(anonymous, { ...options, isRequired: false, stamps: 'required' })).toEqual({
      kind: 'anonymous',
      context: ANONYMOUS,
    });
  });

  it('answers 500 (logged, nonce unspent) when the body or target was not handed over, never hashing anything else', async () => {
    const logger = recordingLogger();
    const a = new WalletAuthenticator({ engine, clock, logger });
    const { headers, options } = await stamped(alice.token, key, POST);
    for (const missing of [{ body: undefined }, { target: undefined }]) {
      const outcome = await a.authenticate(headers, { ...options, ...missing });
      expect(outcome).toMatchObject({ answer: { status: 500, body: { error: { code: 'CONFIG_INVALID' } } } });
    }
    expect(logger.errors).toHaveLength(2);
    expect(logger.errors[0]).toMatch(/raw body was not kept .*keepRawBody/);
    expect(logger.errors[1]).toMatch(/not given the request method and target/);
    // The session is checked first: a bad token is told so, and nothing is logged.
    const dead = await a.authenticate({ ...headers, authorization: 'Bearer nope' }, { ...options, body: undefined });
    expect(dead).toMatchObject({ answer: { status: 401, body: { error: { code: 'TOKEN_MALFORMED' } } } });
    expect(logger.errors).toHaveLength(2);
    // The same stamp still passes once wired properly.
    expect((await a.authenticate(headers, options)).kind).toBe('authenticated');
  });

  it('answers 503 when the store cannot answer the stamp', async () => {
    const downStore = new MemoryStore();
    const down = new Latchkey({ store: downStore, clock, cleanupIntervalSeconds: 0 });
    const issued = await down.createSession({ account: ALICE, authMethod: 'siwe' });
    const a = new WalletAuthenticator({ engine: down, clock });
    const verify = vi.spyOn(down.sessionKeys, 'verifyStamp').mockResolvedValue({ valid: false, code: 'STORE_UNAVAILABLE' });
    const { headers, options } = await stamped(issued.token, key, GET);
    expect(await a.authenticate(headers, options)).toMatchObject({ answer: { status: 503 } });
    verify.mockRejectedValue(new Error('boom'));
    expect(await a.authenticate(headers, options)).toMatchObject({ answer: { status: 503 } });
    down.close();
  });
});

describe('activity in engine mode: only a request whose stamp passed keeps the session alive', () => {
  const ownClock = new ManualClock(T0);
  const store = new MemoryStore();
  const own = new Latchkey({ store, clock: ownClock, cleanupIntervalSeconds: 0 });
  afterAll(() => own.close());
  const throttleMs = own.settings().activityThrottleMs;
  const idleTimeoutMs = own.settings().idleTimeoutMs;

  async function idleExpiresAt(sessionId: string): Promise<number> {
    return (await store.getSession('default', sessionId))!.idleExpiresAt;
  }

  it('does not move the idle expiry for a refused stamp, a missing required one or a malformed header; does for a good one', async () => {
    const issued = await own.createSession({ account: ALICE, authMethod: 'siwe' });
    const key = await heldKey(issued, {}, own);
    const a = new WalletAuthenticator({ engine: own, clock: ownClock });
    const requiring = new WalletAuthenticator({ engine: own, clock: ownClock, stamps: 'required' });
    const before = await idleExpiresAt(issued.session.id);
    ownClock.advance(throttleMs + 1000);

    const bad = await stamped(issued.token, key, POST, { body: '{"amount":100}' }, ownClock.now());
    expect(await a.authenticate(bad.headers, bad.options)).toMatchObject({
      answer: { body: { error: { code: 'SIGNATURE_INVALID' } } },
    });
    const bearer = { authorization: `Bearer ${issued.token}` };
    expect(await requiring.authenticate(bearer, { isRequired: true, method: 'GET', target: '/x', body: null })).toMatchObject({
      answer: { body: { error: { code: 'SIGNATURE_REQUIRED' } } },
    });
    expect(
      await a.authenticate(
        { ...bearer, 'latchkey-signature': ['a', 'b'] },
        { isRequired: true, method: 'GET', target: '/x', body: null },
      ),
    ).toMatchObject({ answer: { body: { error: { code: 'SIGNATURE_MALFORMED' } } } });
    expect(await idleExpiresAt(issued.session.id)).toBe(before);

    const good = await stamped(issued.token, key, POST, {}, ownClock.now());
    const outcome = await a.authenticate(good.headers, good.options);
    expect(outcome).toMatchObject({ kind: 'authenticated', context: { stamp: { keyId: key.id } } });
    const after = await idleExpiresAt(issued.session.id);
    expect(after).toBe(ownClock.now() + idleTimeoutMs);
    expect(after).toBeGreaterThan(before);
    // The context carries the session as it stands after the activity write.
    expect(outcome.kind === 'authenticated' && outcome.context.session).toMatchObject({ lastActiveAt: ownClock.now() });
  });

  it('still records activity for an unstamped request where stamps are optional', async () => {
    const issued = await own.createSession({ account: BOB, authMethod: 'siwe' });
    const a = new WalletAuthenticator({ engine: own, clock: ownClock });
    const before = await idleExpiresAt(issued.session.id);
    ownClock.advance(throttleMs + 1000);
    const outcome = await a.authenticate({ authorization: `Bearer ${issued.token}` }, { isRequired: true, method: 'GET' });
    expect(outcome.kind).toBe('authenticated');
    expect(await idleExpiresAt(issued.session.id)).toBe(ownClock.now() + idleTimeoutMs);
    expect(await idleExpiresAt(issued.session.id)).toBeGreaterThan(before);
  });

  it('answers 503 when recording the activity of an accepted request throws', async () => {
    const issued = await own.createSession({ account: ALICE, authMethod: 'siwe' });
    const key = await heldKey(issued, {}, own);
    const logger = recordingLogger();
    const a = new WalletAuthenticator({ engine: own, clock: ownClock, logger });
    ownClock.advance(throttleMs + 1000);
    const record = vi.spyOn(own, 'recordActivity').mockRejectedValue(new Error('store down'));
    const good = await stamped(issued.token, key, GET, {}, ownClock.now());
    expect(await a.authenticate(good.headers, good.options)).toMatchObject({ answer: { status: 503 } });
    expect(logger.errors).toHaveLength(1);
    record.mockRestore();
  });
});

describe('basePath: a proxy in front strips a path prefix', () => {
  let alice: IssuedSession;
  let key: HeldKey;
  beforeAll(async () => {
    alice = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    key = await heldKey(alice);
  });

  it('verifies the stamp over basePath + the target received, as the client signed it (engine mode)', async () => {
    const prefixed = new WalletAuthenticator({ engine, clock, basePath: '/prefix' });
    const plain = new WalletAuthenticator({ engine, clock });
    const sent: Sent = { method: 'GET', target: '/api/x?y=1', body: null };
    const overPublicPath = { target: '/prefix/api/x?y=1' };

    let s = await stamped(alice.token, key, sent, overPublicPath);
    expect(await prefixed.authenticate(s.headers, s.options)).toMatchObject({
      kind: 'authenticated',
      context: { stamp: { keyId: key.id } },
    });
    s = await stamped(alice.token, key, sent, overPublicPath);
    expect(await plain.authenticate(s.headers, s.options)).toMatchObject({
      answer: { status: 401, body: { error: { code: 'SIGNATURE_INVALID' } } },
    });
    // With basePath set, a stamp over the stripped path is not the one a client makes.
    s = await stamped(alice.token, key, sent);
    expect(await prefixed.authenticate(s.headers, s.options)).toMatchObject({
      answer: { status: 401, body: { error: { code: 'SIGNATURE_INVALID' } } },
    });
  });

  it('refuses a malformed basePath when the authenticator is made', () => {
    for (const basePath of ['prefix', '/prefix/', '/', '/a?b', '/a b', 5]) {
      expect(() => new WalletAuthenticator({ engine, basePath: basePath as never }), String(basePath)).toThrowError(
        /^basePath: /,
      );
    }
  });
});

describe('stamps in JWT mode', () => {
  const jwt = { jwks: { keys: [] as never[] }, issuer: 'i', audience: 'a' };

  it("refuses stamps: 'required' when the authenticator or the guard is made", () => {
    expect(() => new WalletAuthenticator({ jwt, stamps: 'required' })).toThrowError(
      /^stamps: 'required' is not available in JWT mode/,
    );
    const shop = new WalletAuthenticator({ engine });
    expect(() => shop.guardOptions({ stamps: 'always' as never })).toThrowError(/^stamps: expected 'optional' or 'required'/);
    expect(() => shop.guardOptions({ isWrite: 'no' as never })).toThrowError(/^isWrite: expected true or false/);
    expect(() => shop.guardOptions({ stamp: 'required' } as never)).toThrowError(/^guard options.stamp: unknown option/);
    expect(shop.guardOptions({ stamps: 'required', isWrite: false })).toEqual({ stamps: 'required', isWrite: false });
    expect(Object.isFrozen(shop.guardOptions())).toBe(true);
  });

  it('refuses a request carrying a stamp (401 SIGNATURE_INVALID), after the token, and warns once', async () => {
    const access = new Latchkey({
      store: new MemoryStore(),
      clock,
      cleanupIntervalSeconds: 0,
      dataKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } },
      defaults: { accessTokens: { issuer: 'https://auth.example', audience: 'api' } },
    });
    const issued = await access.createSession({ account: ALICE, authMethod: 'siwe' });
    const logger = recordingLogger();
    const a = new WalletAuthenticator({
      jwt: { jwks: await access.getJwks(), issuer: 'https://auth.example', audience: 'api' },
      clock,
      logger,
    });
    const headers = { authorization: `Bearer ${issued.accessToken}`, 'latchkey-signature': 'v=1' };
    const options = { isRequired: true, method: 'GET', target: '/me', body: null };
    for (let i = 0; i < 2; i++) {
      const outcome = await a.authenticate(headers, options);
      expect(outcome).toMatchObject({ answer: { status: 401, body: { error: { code: 'SIGNATURE_INVALID' } } } });
    }
    expect(logger.warnings).toEqual([
      'latchkey: JWT mode cannot verify stamps; requests carrying Latchkey-Signature are refused',
    ]);
    expect(await a.authenticate({ ...headers, authorization: 'Bearer x.y.z' }, options)).toMatchObject({
      answer: { body: { error: { code: 'ACCESS_TOKEN_MALFORMED' } } },
    });
    expect(await a.authenticate({ authorization: headers.authorization }, options)).toMatchObject({
      kind: 'authenticated',
      context: { stamp: null },
    });
    access.close();
  });
});

describe('stamps in remote mode (a stand-in server)', () => {
  const calls: { body: Record<string, unknown> }[] = [];
  let answer: (body: Record<string, unknown>) => unknown = () => ({});
  let server: Server;
  let url = '';
  let alice: IssuedSession;
  beforeAll(async () => {
    alice = await engine.createSession({ account: ALICE, authMethod: 'siwe' });
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        calls.push({ body });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(body)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    calls.length = 0;
    answer = (body) => ({
      active: true,
      session: alice.session,
      ...(body.stamp ? { stamp: { valid: true, keyId: 'lksk_x', scope: 'read-write', expiresAt: T0 + 900_000 } } : {}),
    });
  });

  function remote(logger?: Logger) {
    return new WalletAuthenticator({ remote: { url, apiKey: API_KEY, cacheSeconds: 30 }, clock, ...(logger ? { logger } : {}) });
  }

  it('sends the stamp with the request it signs, asks for every stamped request, and caches none of them', async () => {
    const a = remote();
    const key = await heldKey(alice);
    const { headers, options } = await stamped(alice.token, key, POST);
    for (let i = 0; i < 2; i++) {
      expect(await a.authenticate(headers, options)).toMatchObject({
        kind: 'authenticated',
        context: { via: 'remote', stamp: { keyId: 'lksk_x', scope: 'read-write', expiresAt: T0 + 900_000 } },
        remembered: { account: alice.session.account },
      });
    }
    expect(calls.map((c) => c.body)).toEqual([
      {
        token: alice.token,
        stamp: {
          header: headers['latchkey-signature'],
          method: 'POST',
          path: POST.target,
          bodyDigest: bodyDigest(POST.body),
          isWrite: true,
        },
      },
      expect.objectContaining({ stamp: expect.any(Object) }),
    ]);
    // The stamped answers were not cached: the first unstamped request asks, the next one is served from the cache.
    const bearer = { authorization: `Bearer ${alice.token}` };
    for (let i = 0; i < 2; i++) {
      expect(await a.authenticate(bearer, { isRequired: true, method: 'GET' })).toMatchObject({ context: { stamp: null } });
    }
    expect(calls).toHaveLength(3);
    // A cached session never lets a stamp through unasked.
    await a.authenticate(headers, options);
    expect(calls).toHaveLength(4);
  });

  it("maps the server's verdict to the server's answers", async () => {
    const a = remote();
    const key = await heldKey(alice);
    for (const [verdict, expected] of [
      [{ valid: false, code: 'SIGNATURE_REPLAYED' }, stampRefused('SIGNATURE_REPLAYED')],
      [{ valid: false, code: 'SCOPE_READ_ONLY' }, stampRefused('SCOPE_READ_ONLY')],
      [{ valid: false, code: 'SESSION_KEY_EXPIRED', expiresAt: T0 }, stampRefused('SESSION_KEY_EXPIRED', T0)],
    ] as const) {
      answer = () => ({ active: true, session: alice.session, stamp: verdict });
      const { headers, options } = await stamped(alice.token, key, GET);
      expect(await a.authenticate(headers, options)).toEqual({ kind: 'refused', answer: expected });
    }
    answer = () => ({ active: false });
    const { headers, options } = await stamped(alice.token, key, GET);
    expect(await a.authenticate(headers, options)).toMatchObject({
      answer: { status: 401, body: { error: { code: 'TOKEN_INVALID' } } },
    });
  });

  it('answers 503 when the server ignores the stamp or answers a verdict it cannot read', async () => {
    const logger = recordingLogger();
    const a = remote(logger);
    const key = await heldKey(alice);
    for (const stamp of [
      undefined,
      { valid: true },
      { valid: false, code: 'SOMETHING_NEW' },
      { valid: false, code: 'SESSION_KEY_EXPIRED' },
    ]) {
      answer = () => ({ active: true, session: alice.session, ...(stamp ? { stamp } : {}) });
      const { headers, options } = await stamped(alice.token, key, GET);
      expect(await a.authenticate(headers, options)).toMatchObject({ answer: { status: 503 } });
    }
    expect(logger.errors).toHaveLength(4);
  });

  it('sends basePath + the target received as the stamp path', async () => {
    const a = new WalletAuthenticator({ remote: { url, apiKey: API_KEY, cacheSeconds: 30 }, clock, basePath: '/prefix' });
    const key = await heldKey(alice);
    const { headers, options } = await stamped(alice.token, key, GET, { target: `/prefix${GET.target}` });
    expect((await a.authenticate(headers, options)).kind).toBe('authenticated');
    expect(calls.map((c) => (c.body.stamp as { path: string }).path)).toEqual([`/prefix${GET.target}`]);
  });

  it('refuses a malformed header itself, once the session is known good, without sending it', async () => {
    const a = remote();
    const bearer = { authorization: `Bearer ${alice.token}` };
    const outcome = await a.authenticate(
      { ...bearer, 'latchkey-signature': 'v=1, keyId=x' },
      { isRequired: true, method: 'GET', target: '/', body: null },
    );
    expect(outcome).toMatchObject({ answer: { status: 400, body: { error: { code: 'SIGNATURE_MALFORMED' } } } });
    expect(calls.map((c) => c.body)).toEqual([{ token: alice.token }]);
  });
});

describe('stamp planning', () => {
  it.each([
    [{}, false],
    [{ 'content-length': '0' }, false],
    [{ 'content-length': '12' }, true],
    [{ 'transfer-encoding': 'chunked' }, true],
  ])('hasRequestBody(%j) is %s', (headers, expected) => {
    expect(hasRequestBody(headers)).toBe(expected);
  });

  it('hashes no body as empty, and says a GET reads and a POST writes', () => {
    const plan = planStamp(
      { stampHeader: 'h', method: 'get', target: '/', body: null, stamps: 'optional', isWrite: undefined, basePath: '' },
      { preParse: false },
    );
    expect(plan).toEqual({
      kind: 'check',
      check: { header: 'h', method: 'get', path: '/', bodyDigest: '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU', isWrite: false },
    });
    const post = planStamp(
      {
        stampHeader: 'h',
        method: 'POST',
        target: '/',
        body: new Uint8Array(0),
        stamps: 'optional',
        isWrite: undefined,
        basePath: '',
      },
      { preParse: false },
    );
    expect(post.kind === 'check' && post.check.isWrite).toBe(true);
    const prefixed = planStamp(
      { stampHeader: 'h', method: 'GET', target: '/api/x?y', body: null, stamps: 'optional', isWrite: undefined, basePath: '/p' },
      { preParse: false },
    );
    expect(prefixed.kind === 'check' && prefixed.check.path).toBe('/p/api/x?y');
  });
});
