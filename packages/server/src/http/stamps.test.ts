import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, type Store } from '@latchkey/core';
import {
  bodyDigest,
  formatStampHeader,
  generateP256KeyPair,
  parseStampHeader,
  signRegistration,
  toHex,
} from '@latchkey/protocol';
import { RedisStore, redisAnswers } from '@latchkey/redis';
import { SqliteStore } from '@latchkey/sqlite';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type Fixture, type IssuedBody, signIn, startFixture, WALLETS } from '../../test-support/http/index.js';
import { bearer, createHeldKey, type HeldKey, send, sendStamped, stampFor } from '../../test-support/http/session-keys.js';
import { openRuntime } from '../config/runtime.js';
import { receivedBodyDigest } from './stamps.js';

const isRedisAnswering = await redisAnswers();
if (!isRedisAnswering && process.env.CI === 'true') throw new Error('Redis does not answer on 127.0.0.1:6379 and CI=true.');

const dir = mkdtempSync(join(tmpdir(), 'latchkey-stamps-'));
const redisPrefixes: string[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (redisPrefixes.length === 0) return;
  const admin = new Redis('redis://127.0.0.1:6379');
  for (const prefix of redisPrefixes) {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  }
  admin.disconnect();
});

const STORES: [string, boolean, () => Store][] = [
  ['memory', true, () => new MemoryStore()],
  ['SQLite', true, () => new SqliteStore({ path: join(dir, `${randomBytes(4).toString('hex')}.db`) })],
  [
    'Redis',
    isRedisAnswering,
    () => {
      const keyPrefix = `lktest:stamps:${randomBytes(6).toString('hex')}:`;
      redisPrefixes.push(keyPrefix);
      return new RedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix });
    },
  ],
];

const code = (r: { json(): { error: { code: string } } }) => r.json().error.code;
const answer = (r: { statusCode: number; json(): { error: { code: string } } }) => [r.statusCode, code(r)];

/** The header with one parameter replaced (the signature left as it was). */
function withParam(header: string, change: (stamp: ReturnType<typeof parseStampHeader>) => void): string {
  const stamp = parseStampHeader(header);
  change(stamp);
  return formatStampHeader(stamp);
}

describe.each(STORES)('stamp verification on the %s store', (_, isAvailable, openStore) => {
  const setup = async (): Promise<{ f: Fixture; issued: IssuedBody; key: HeldKey; other: HeldKey }> => {
    const f = await startFixture({ store: openStore() });
    const { issued } = await signIn(f, WALLETS[0]!);
    const key = await createHeldKey(f, issued.token);
    const other = await createHeldKey(f, issued.token);
    return { f, issued, key, other };
  };

  it.skipIf(!isAvailable)('refuses a stamp with any signed field altered, a replay, and a stamp outside the window', async () => {
    const { f, issued, key, other } = await setup();
    const headers = bearer(issued.token);
    const body = JSON.stringify({ scope: 'read-only', targetPublicKey: toHex(generateP256KeyPair().publicKey) });
    const post = { method: 'POST', url: '/v1/session-keys', body, headers } as const;
    const withStamp = (request: Parameters<typeof send>[1], stamp: string) =>
      send(f, { ...request, headers: { ...request.headers, 'latchkey-signature': stamp } });

    const signed = await stampFor(f, key, post);
    const altered: [string, Parameters<typeof send>[1], string][] = [
      [
        'method',
        { method: 'DELETE', url: '/v1/session', headers },
        await stampFor(f, key, { method: 'POST', url: '/v1/session', headers }),
      ],
      [
        'path',
        { method: 'GET', url: '/v1/sessions', headers },
        await stampFor(f, key, { method: 'GET', url: '/v1/session', headers }),
      ],
      [
        'query',
        { method: 'DELETE', url: '/v1/sessions?keep=current', headers },
        await stampFor(f, key, { method: 'DELETE', url: '/v1/sessions', headers }),
      ],
      ['body', { ...post, body: body.replace('read-only', 'read-write') }, await stampFor(f, key, post)],
      ['body whitespace', { ...post, body: ` ${body}` }, await stampFor(f, key, post)],
      ['timestamp', post, withParam(await stampFor(f, key, post), (s) => (s.timestamp += 1))],
      [
        'nonce',
        post,
        withParam(await stampFor(f, key, post), (s) => (s.nonce = `${s.nonce.startsWith('A') ? 'B' : 'A'}${s.nonce.slice(1)}`)),
      ],
      ['key id (another key of the session)', post, withParam(await stampFor(f, key, post), (s) => (s.keyId = other.id))],
    ];
    for (const [what, request, stamp] of altered) {
      const r = await withStamp(request, stamp);
      expect(answer(r), what).toEqual([401, 'SIGNATURE_INVALID']);
      expect(r.headers['www-authenticate'], what).toBe('Bearer realm="latchkey", error="invalid_token"');
    }
    expect((await f.app.inject({ method: 'GET', url: '/v1/session', headers })).statusCode).toBe(200);
    expect((await f.app.inject({ method: 'GET', url: '/v1/sessions', headers })).json().sessions).toHaveLength(1);

    // The untouched stamp passes once; the very same request again is a replay.
    expect((await withStamp(post, signed)).statusCode).toBe(201);
    expect(answer(await withStamp(post, signed))).toEqual([401, 'SIGNATURE_REPLAYED']);

    // The window is ±60 s, inclusive.
    const get = { method: 'GET', url: '/v1/session', headers } as const;
    const now = f.clock.now();
    for (const at of [now - 60_000, now + 60_000]) expect((await sendStamped(f, key, get, { now: at })).statusCode).toBe(200);
    for (const at of [now - 60_001, now + 60_001])
      expect(answer(await sendStamped(f, key, get, { now: at }))).toEqual([401, 'SIGNATURE_STALE']);
    // A stamp signed ahead of the clock stays in the replay cache for as long as it could pass.
    const ahead = await stampFor(f, key, get, { now: now + 60_000 });
    expect((await withStamp(get, ahead)).statusCode).toBe(200);
    f.clock.advance(120_000);
    expect(answer(await withStamp(get, ahead))).toEqual([401, 'SIGNATURE_REPLAYED']);
    f.clock.advance(1);
    expect(answer(await withStamp(get, ahead))).toEqual([401, 'SIGNATURE_STALE']);

    const audit = (await f.store.queryAudit('default', { limit: 1000 })).filter((e) => e.type === 'stamp_rejected');
    expect(audit.map((e) => e.details.code)).toEqual(
      expect.arrayContaining(['SIGNATURE_INVALID', 'SIGNATURE_REPLAYED', 'SIGNATURE_STALE']),
    );
    // One fixed message; the details stay in the audit log.
    expect(new Set(audit.map((e) => e.details.keyId))).toEqual(new Set([key.id]));
    await Promise.all([f.app.close(), f.store.close()]);
  });

  it.skipIf(!isAvailable)(
    'tells an expired, revoked, unknown or foreign key apart, and a dead session kills its keys at once',
    async () => {
      const { f, issued, key, other } = await setup();
      const headers = bearer(issued.token);
      const get = { method: 'GET', url: '/v1/session', headers } as const;
      const { issued: sibling } = await signIn(f, WALLETS[0]!);
      const siblingKey = await createHeldKey(f, sibling.token);
      const { issued: stranger } = await signIn(f, WALLETS[1]!);
      const strangerKey = await createHeldKey(f, stranger.token);

      for (const foreign of [siblingKey, strangerKey]) {
        const r = await sendStamped(f, foreign, get);
        expect(answer(r)).toEqual([403, 'SESSION_KEY_MISMATCH']);
      }
      const unknown = { id: `lksk_${'2'.repeat(44)}`, privateKey: key.privateKey };
      expect(answer(await sendStamped(f, unknown, get))).toEqual([401, 'SESSION_KEY_NOT_FOUND']);
      const forgedId = { id: `${key.id.slice(0, -3)}abc`, privateKey: key.privateKey };
      expect(answer(await sendStamped(f, forgedId, get))).toEqual([401, 'SESSION_KEY_NOT_FOUND']);

      const short = await createHeldKey(f, issued.token, { ttlSeconds: 60 });
      f.clock.advance(59_999);
      expect((await sendStamped(f, short, get)).statusCode).toBe(200);
      f.clock.advance(1);
      const expired = await sendStamped(f, short, get);
      expect(expired.statusCode).toBe(401);
      expect(expired.json()).toEqual({
        error: { code: 'SESSION_KEY_EXPIRED', message: 'Session key expired.', expiresAt: short.expiresAt },
      });
      expect(expired.headers['www-authenticate']).toBe('Bearer realm="latchkey", error="session_key_expired"');

      expect((await send(f, { method: 'DELETE', url: `/v1/session-keys/${other.id}`, headers })).statusCode).toBe(204);
      expect(answer(await sendStamped(f, other, get))).toEqual([401, 'SESSION_KEY_REVOKED']);

      // Refresh keeps the session, so its keys keep working with the new token.
      const refreshed = await f.app.inject({
        method: 'POST',
        url: '/v1/session/refresh',
        payload: { refreshToken: issued.refreshToken },
      });
      const token = refreshed.json().token as string;
      expect((await sendStamped(f, key, { ...get, headers: bearer(token) })).statusCode).toBe(200);

      // Signing out ends the session: the very next stamped request fails, its keys are listed nowhere and deleted.
      expect((await sendStamped(f, key, { method: 'DELETE', url: '/v1/session', headers: bearer(token) })).statusCode).toBe(204);
      expect(answer(await sendStamped(f, key, { ...get, headers: bearer(token) }))).toEqual([401, 'SESSION_NOT_FOUND']);
      const listed = (await send(f, { method: 'GET', url: '/v1/session-keys', headers: bearer(sibling.token) })).json()
        .sessionKeys;
      expect(listed.map((k: { id: string }) => k.id)).toEqual([siblingKey.id]);
      const tag = BigInt(`0x${issued.session.id}`).toString(36).padStart(25, '0');
      expect(await f.store.listEntries('default', `sk${tag}`, f.clock.now())).toEqual([]);

      // Revoking every other session does the same to theirs.
      const { issued: third } = await signIn(f, WALLETS[0]!);
      const revokeAll = await sendStamped(f, siblingKey, {
        method: 'DELETE',
        url: '/v1/sessions?keep=current',
        headers: bearer(sibling.token),
      });
      expect(revokeAll.json()).toEqual({ revoked: 1 });
      expect((await send(f, { method: 'GET', url: '/v1/session', headers: bearer(third.token) })).statusCode).toBe(401);
      const signOutEverywhere = await sendStamped(f, siblingKey, {
        method: 'DELETE',
        url: '/v1/sessions',
        headers: bearer(sibling.token),
      });
      expect(signOutEverywhere.statusCode).toBe(200);
      expect(answer(await sendStamped(f, siblingKey, { ...get, headers: bearer(sibling.token) }))).toEqual([
        401,
        'SESSION_NOT_FOUND',
      ]);
      const siblingTag = BigInt(`0x${sibling.session.id}`).toString(36).padStart(25, '0');
      expect(await f.store.listEntries('default', `sk${siblingTag}`, f.clock.now())).toEqual([]);
      await Promise.all([f.app.close(), f.store.close()]);
    },
  );
});

describe('requireStamps', () => {
  const strict = { defaults: { sessionKeys: { requireStamps: true } } };

  it('refuses a bearer token alone, lets the first key in without a stamp once, and needs a stamp after', async () => {
    const f = await startFixture(strict);
    const { issued } = await signIn(f, WALLETS[0]!);
    const headers = bearer(issued.token);
    const plain = await send(f, { method: 'GET', url: '/v1/session', headers });
    expect(answer(plain)).toEqual([401, 'SIGNATURE_REQUIRED']);
    expect(plain.headers['www-authenticate']).toBe('Bearer realm="latchkey", error="signature_required"');
    for (const url of ['/v1/sessions', '/v1/session-keys'])
      expect(code(await send(f, { method: 'GET', url, headers }))).toBe('SIGNATURE_REQUIRED');

    // Exempt: a registration challenge, refresh, sign-out (below).
    expect((await send(f, { method: 'POST', url: '/v1/session-keys/challenge', headers })).statusCode).toBe(201);

    // Concurrent first keys: exactly one is made.
    const attempts = await Promise.allSettled(Array.from({ length: 6 }, () => createHeldKey(f, issued.token)));
    const made = attempts.filter((a): a is PromiseFulfilledResult<HeldKey> => a.status === 'fulfilled');
    expect(made).toHaveLength(1);
    for (const a of attempts) if (a.status === 'rejected') expect(String(a.reason)).toContain('SIGNATURE_REQUIRED');
    const first = made[0]!.value;
    const unstamped = await send(f, {
      method: 'POST',
      url: '/v1/session-keys',
      body: JSON.stringify({ scope: 'read-only', targetPublicKey: toHex(generateP256KeyPair().publicKey) }),
      headers,
    });
    expect(answer(unstamped)).toEqual([401, 'SIGNATURE_REQUIRED']);
    expect(unstamped.headers['www-authenticate']).toBe('Bearer realm="latchkey", error="signature_required"');
    expect((await sendStamped(f, first, { method: 'GET', url: '/v1/session', headers })).statusCode).toBe(200);

    // Rotation: the expired key's stamp may make its successor, and nothing else.
    const second = await createHeldKey(f, issued.token, { ttlSeconds: 60, stampWith: first });
    f.clock.advance(60_000);
    expect(code(await sendStamped(f, second, { method: 'GET', url: '/v1/session', headers }))).toBe('SESSION_KEY_EXPIRED');
    const successor = await createHeldKey(f, issued.token, { stampWith: second });
    expect((await sendStamped(f, successor, { method: 'GET', url: '/v1/sessions', headers })).statusCode).toBe(200);
    // A revoked key cannot.
    expect((await sendStamped(f, successor, { method: 'DELETE', url: `/v1/session-keys/${first.id}`, headers })).statusCode).toBe(
      204,
    );
    await expect(createHeldKey(f, issued.token, { stampWith: first })).rejects.toThrow(/SESSION_KEY_REVOKED/);

    // Refresh is public; sign-out needs no stamp.
    const refreshed = await f.app.inject({
      method: 'POST',
      url: '/v1/session/refresh',
      payload: { refreshToken: issued.refreshToken },
    });
    expect(refreshed.statusCode).toBe(200);
    const token = refreshed.json().token as string;
    expect(code(await send(f, { method: 'GET', url: '/v1/session', headers: bearer(token) }))).toBe('SIGNATURE_REQUIRED');
    expect((await send(f, { method: 'DELETE', url: '/v1/session', headers: bearer(token) })).statusCode).toBe(204);
  });

  it('lets a read-only session replace its expired read-only key, and sign out with it', async () => {
    const f = await startFixture(strict);
    const { issued } = await signIn(f, WALLETS[0]!, { body: { scope: 'read-only' } });
    const headers = bearer(issued.token);
    const first = await createHeldKey(f, issued.token, { scope: 'read-only', ttlSeconds: 60 });
    f.clock.advance(60_000);
    await expect(createHeldKey(f, issued.token, { scope: 'read-write', stampWith: first })).rejects.toThrow(/SCOPE_READ_ONLY/);
    const next = await createHeldKey(f, issued.token, { scope: 'read-only', stampWith: first });
    expect(code(await sendStamped(f, next, { method: 'DELETE', url: `/v1/session-keys/${first.id}`, headers }))).toBe(
      'SCOPE_READ_ONLY',
    );
    expect((await sendStamped(f, next, { method: 'POST', url: '/v1/session-keys/challenge', headers })).statusCode).toBe(201);
    expect((await sendStamped(f, next, { method: 'DELETE', url: '/v1/session', headers })).statusCode).toBe(204);
  });

  it('works in cookie mode: the CSRF rule first, then the stamp', async () => {
    const f = await startFixture(strict);
    const { issued } = await signIn(f, WALLETS[0]!);
    const key = await createHeldKey(f, issued.token);
    const cookie = { cookie: `__Host-latchkey-session-default=${issued.token}` };
    expect(code(await send(f, { method: 'GET', url: '/v1/session', headers: cookie }))).toBe('SIGNATURE_REQUIRED');
    expect((await sendStamped(f, key, { method: 'GET', url: '/v1/session', headers: cookie })).statusCode).toBe(200);
    const crossSite = await sendStamped(f, key, { method: 'POST', url: '/v1/session-keys/challenge', headers: cookie });
    expect(answer(crossSite)).toEqual([403, 'CSRF_REJECTED']);
    const sameSite = await sendStamped(f, key, {
      method: 'POST',
      url: '/v1/session-keys/challenge',
      headers: { ...cookie, origin: 'https://app.example.com' },
    });
    expect(sameSite.statusCode).toBe(201);
  });
});

describe('rotation by an expired key', () => {
  const strict = { defaults: { sessionKeys: { requireStamps: true } } };

  it('an expired key makes exactly one successor, only within rotationGraceSeconds, and can still be revoked', async () => {
    const f = await startFixture(strict);
    const { issued } = await signIn(f, WALLETS[0]!);
    const headers = bearer(issued.token);
    const first = await createHeldKey(f, issued.token, { ttlSeconds: 60 });
    // A live key that makes other keys stays live: a session may hold several.
    const [a, b, c] = [
      await createHeldKey(f, issued.token, { ttlSeconds: 60, stampWith: first }),
      await createHeldKey(f, issued.token, { ttlSeconds: 60, stampWith: first }),
      await createHeldKey(f, issued.token, { ttlSeconds: 60, stampWith: first }),
    ];
    f.clock.advance(60_000);

    // Concurrent rotations by one expired key: exactly one successor, the others SESSION_KEY_REVOKED.
    const attempts = await Promise.allSettled(
      Array.from({ length: 5 }, () => createHeldKey(f, issued.token, { stampWith: first })),
    );
    const made = attempts.filter((r): r is PromiseFulfilledResult<HeldKey> => r.status === 'fulfilled');
    expect(made).toHaveLength(1);
    for (const r of attempts) if (r.status === 'rejected') expect(String(r.reason)).toMatch(/401 .*SESSION_KEY_REVOKED/);
    const successor = made[0]!.value;
    // Spent: never a second successor, and its stamps say why.
    await expect(createHeldKey(f, issued.token, { stampWith: first })).rejects.toThrow(/401 .*SESSION_KEY_REVOKED/);
    expect(answer(await sendStamped(f, first, { method: 'GET', url: '/v1/session', headers }))).toEqual([
      401,
      'SESSION_KEY_REVOKED',
    ]);
    expect((await sendStamped(f, successor, { method: 'GET', url: '/v1/session', headers })).statusCode).toBe(200);

    // An expired key that is not revoked yet can be revoked, and then makes nothing.
    const revoked = await sendStamped(f, successor, { method: 'DELETE', url: `/v1/session-keys/${a.id}`, headers });
    expect(revoked.statusCode).toBe(204);
    await expect(createHeldKey(f, issued.token, { stampWith: a })).rejects.toThrow(/401 .*SESSION_KEY_REVOKED/);

    // The grace after expiry is 300 s (rotationGraceSeconds): the last millisecond passes, the next does not.
    f.clock.set(b.expiresAt + 299_999);
    expect((await createHeldKey(f, issued.token, { stampWith: b })).id).toMatch(/^lksk_/);
    f.clock.set(c.expiresAt + 300_000);
    await expect(createHeldKey(f, issued.token, { stampWith: c })).rejects.toThrow(/401 .*SESSION_KEY_EXPIRED/);
    const audit = await f.store.queryAudit('default', { limit: 1000 });
    expect(
      audit
        .filter((e) => e.type === 'session_key_revoked')
        .map((e) => [e.details.keyId, e.details.reason])
        .sort(),
    ).toEqual(
      [
        [first.id, 'rotated'],
        [a.id, 'revoked_by_wallet'],
        [b.id, 'rotated'],
      ].sort(),
    );
  });

  it('takes rotationGraceSeconds from the app settings; 0 lets no expired key rotate', async () => {
    const f = await startFixture({ defaults: { sessionKeys: { requireStamps: true, rotationGraceSeconds: 0 } } });
    const { issued } = await signIn(f, WALLETS[0]!);
    const first = await createHeldKey(f, issued.token, { ttlSeconds: 60 });
    f.clock.advance(60_000);
    await expect(createHeldKey(f, issued.token, { stampWith: first })).rejects.toThrow(/401 .*SESSION_KEY_EXPIRED/);
  });
});

describe('the registration challenge under requireStamps', () => {
  it('needs a stamp by a key of the session once the session has had one, so a token alone cannot replace it', async () => {
    const f = await startFixture({ defaults: { sessionKeys: { requireStamps: true } } });
    const { issued } = await signIn(f, WALLETS[0]!);
    const headers = bearer(issued.token);
    const challenge = { method: 'POST', url: '/v1/session-keys/challenge', headers } as const;
    // The first key needs no stamp, so neither does its challenge.
    expect((await send(f, challenge)).statusCode).toBe(201);
    const key = await createHeldKey(f, issued.token, { ttlSeconds: 60 });
    const owners = await sendStamped(f, key, challenge);
    expect(owners.statusCode).toBe(201);
    const thief = await send(f, challenge);
    expect(answer(thief)).toEqual([401, 'SIGNATURE_REQUIRED']);
    expect(thief.headers['www-authenticate']).toBe('Bearer realm="latchkey", error="signature_required"');
    // The owner's challenge is still the outstanding one.
    const device = generateP256KeyPair();
    const publicKey = toHex(device.publicKey);
    const proof = await signRegistration(device.privateKey, {
      challenge: owners.json().challenge,
      publicKey,
      scope: 'read-write',
    });
    const registered = await sendStamped(f, key, {
      method: 'POST',
      url: '/v1/session-keys',
      body: JSON.stringify({
        scope: 'read-write',
        registration: { publicKey, challenge: owners.json().challenge, signature: proof },
      }),
      headers,
    });
    expect(registered.statusCode).toBe(201);
    // An expired key may ask for one within the rotation grace (asking spends nothing), not after.
    f.clock.set(key.expiresAt);
    expect((await sendStamped(f, key, challenge)).statusCode).toBe(201);
    expect((await sendStamped(f, key, challenge)).statusCode).toBe(201);
    f.clock.set(key.expiresAt + 300_000);
    expect(answer(await sendStamped(f, key, challenge))).toEqual([401, 'SESSION_KEY_EXPIRED']);
  });
});

describe('activity of a stamp-checked request', () => {
  it('a request refused for its stamp does not extend the idle expiry; an accepted one does', async () => {
    for (const requireStamps of [true, false]) {
      const f = await startFixture({ defaults: { sessionKeys: { requireStamps } } });
      const { issued } = await signIn(f, WALLETS[0]!);
      const key = await createHeldKey(f, issued.token, { ttlSeconds: 3600 });
      const headers = bearer(issued.token);
      const get = { method: 'GET', url: '/v1/session', headers } as const;
      const idleExpiresAt = async () => (await f.store.getSession('default', issued.session.id))!.idleExpiresAt;
      const before = await idleExpiresAt();
      f.clock.advance(30 * 60_000);
      const unknown = { id: `${key.id.slice(0, -3)}abc`, privateKey: key.privateKey };
      const refused = [
        await sendStamped(f, unknown, get),
        await sendStamped(f, key, get, { now: f.clock.now() - 120_000 }),
        await send(f, { ...get, headers: { ...headers, 'latchkey-signature': 'v=2' } }),
        ...(requireStamps
          ? [
              await send(f, get),
              // Let through unstamped, then refused by the engine: the session has a key.
              await send(f, { method: 'POST', url: '/v1/session-keys/challenge', headers }),
            ]
          : []),
      ];
      expect(
        refused.map((r) => r.statusCode),
        `requireStamps ${requireStamps}`,
      ).toEqual(requireStamps ? [401, 401, 400, 401, 401] : [401, 401, 400]);
      expect(await idleExpiresAt(), `requireStamps ${requireStamps}`).toBe(before);
      const accepted = await sendStamped(f, key, get);
      expect(accepted.statusCode).toBe(200);
      const touched = f.clock.now() + f.latchkey.settings('default').idleTimeoutMs;
      expect(await idleExpiresAt()).toBe(touched);
      // The answer shows the session as the touch left it.
      expect(accepted.json().session.idleExpiresAt).toBe(touched);
    }
  });

  it('a plain bearer request still touches the session in one store call', async () => {
    const f = await startFixture();
    const { issued } = await signIn(f, WALLETS[0]!);
    f.clock.advance(30 * 60_000);
    const calls: string[] = [];
    for (const method of ['validateSession', 'getSession', 'listEntries', 'addEntry'] as const) {
      const original = f.store[method].bind(f.store) as (...args: unknown[]) => Promise<unknown>;
      (f.store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        calls.push(method);
        return original(...args);
      };
    }
    expect((await send(f, { method: 'GET', url: '/v1/session', headers: bearer(issued.token) })).statusCode).toBe(200);
    expect(calls).toEqual(['validateSession']);
    expect((await f.store.getSession('default', issued.session.id))!.idleExpiresAt).toBe(
      f.clock.now() + f.latchkey.settings('default').idleTimeoutMs,
    );
  });
});

describe('basePath: a proxy that strips a path prefix', () => {
  it('verifies the stamp over basePath + the path received, as the client signed it', async () => {
    for (const [basePath, expected] of [
      [undefined, [401, 'SIGNATURE_INVALID']],
      ['/latchkey', [200, undefined]],
    ] as const) {
      const f = await startFixture(basePath === undefined ? {} : { server: { basePath } });
      const { issued } = await signIn(f, WALLETS[0]!);
      const key = await createHeldKey(f, issued.token);
      const headers = bearer(issued.token);
      // The client signed the URL it called (https://example.com/latchkey/v1/sessions?x=1); the proxy sent /v1/sessions?x=1.
      const stamp = await stampFor(f, key, { method: 'GET', url: '/latchkey/v1/session', headers });
      const r = await send(f, { method: 'GET', url: '/v1/session', headers: { ...headers, 'latchkey-signature': stamp } });
      expect([r.statusCode, r.statusCode === 200 ? undefined : code(r)], `basePath ${basePath}`).toEqual(expected);
      if (basePath) {
        // With basePath set, a stamp over the stripped path is not the one the client made.
        expect(code(await sendStamped(f, key, { method: 'GET', url: '/v1/session', headers }))).toBe('SIGNATURE_INVALID');
      }
    }
  });

  it('is checked once: empty, or a path that starts with / and does not end with one', async () => {
    for (const basePath of ['latchkey', '/latchkey/', '/', '/a?b', '/a#b', '/a b', 5]) {
      await expect(startFixture({ server: { basePath: basePath as never } }), String(basePath)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        field: 'basePath',
      });
    }
    for (const basePath of ['', '/latchkey', '/a/b-c_d.e~f%20'])
      expect((await startFixture({ server: { basePath } })).app).toBeDefined();
  });

  it('comes from server.basePath in the config file', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'latchkey-base-path-'));
    try {
      writeFileSync(join(cwd, 'latchkey.json'), JSON.stringify({ store: 'memory', server: { basePath: '/latchkey' } }));
      const runtime = await openRuntime({ cwd, env: {}, flags: { config: 'latchkey.json' } });
      expect(runtime.server.basePath).toBe('/latchkey');
      await runtime.close();
      writeFileSync(join(cwd, 'latchkey.json'), JSON.stringify({ store: 'memory', server: { basePath: 'latchkey/' } }));
      await expect(openRuntime({ cwd, env: {}, flags: { config: 'latchkey.json' } })).rejects.toThrow(/server\.basePath/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('the body a stamp signs', () => {
  it('is the bytes as received, whatever their spacing, and an empty body digests like none', async () => {
    const f = await startFixture();
    const { issued } = await signIn(f, WALLETS[0]!);
    const key = await createHeldKey(f, issued.token);
    const spaced = `{ "scope" :"read-only",\n  "targetPublicKey":"${toHex(generateP256KeyPair().publicKey)}" }`;
    const r = await sendStamped(f, key, { method: 'POST', url: '/v1/session-keys', body: spaced, headers: bearer(issued.token) });
    expect(r.statusCode).toBe(201);
    expect(receivedBodyDigest({} as never)).toBe(bodyDigest(''));
    expect(receivedBodyDigest({} as never)).toBe(bodyDigest(null));
  });
});
