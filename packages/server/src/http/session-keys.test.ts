import { Latchkey, MemoryStore } from '@latchkey/core';
import {
  compressP256PublicKey,
  generateP256KeyPair,
  openCredentialBundle,
  p256PublicKey,
  signRegistration,
  toHex,
} from '@latchkey/protocol';
import { decryptCredentialBundle } from '@turnkey/crypto';
import { describe, expect, it } from 'vitest';
import { type Fixture, type IssuedBody, signIn, startFixture, WALLETS } from '../../test-support/http/index.js';
import { bearer, createHeldKey, send, sendStamped } from '../../test-support/http/session-keys.js';
import { parseConfig } from '../config/file.js';

const CHALLENGE_URL = '/v1/session-keys/challenge';

async function registerDeviceKey(
  f: Fixture,
  token: string,
  options: { scope?: 'read-only' | 'read-write'; challenge?: string; sign?: Uint8Array } = {},
) {
  const device = generateP256KeyPair();
  const challenge =
    options.challenge ?? (await send(f, { method: 'POST', url: CHALLENGE_URL, headers: bearer(token) })).json().challenge;
  const scope = options.scope ?? 'read-write';
  const publicKey = toHex(device.publicKey);
  const signature = await signRegistration(options.sign ?? device.privateKey, { challenge, publicKey, scope });
  const body = JSON.stringify({ scope, registration: { publicKey, challenge, signature } });
  const response = await send(f, { method: 'POST', url: '/v1/session-keys', body, headers: bearer(token) });
  return { response, device, challenge };
}

const code = (r: { json(): { error: { code: string } } }) => r.json().error.code;

describe('POST /v1/session-keys with a target key (credential bundle)', () => {
  it('answers a bundle only the target key opens, holding a key whose stamps pass; the server keeps the public half only', async () => {
    const f = await startFixture();
    const { issued } = await signIn(f, WALLETS[0]!);
    const target = generateP256KeyPair();
    const body = JSON.stringify({ scope: 'read-write', targetPublicKey: toHex(target.publicKey), name: 'laptop' });
    const response = await send(f, { method: 'POST', url: '/v1/session-keys', body, headers: bearer(issued.token) });
    expect(response.statusCode).toBe(201);
    const { sessionKey, credentialBundle } = response.json();
    expect(sessionKey).toMatchObject({ scope: 'read-write', name: 'laptop', createdAt: f.clock.now() });
    expect(sessionKey.expiresAt).toBe(f.clock.now() + 900_000);
    expect(sessionKey.id).toMatch(/^lksk_[1-9A-HJ-NP-Za-km-z]+$/);

    const privateKey = await openCredentialBundle(credentialBundle, target.privateKey);
    expect(privateKey).toHaveLength(32);
    expect(toHex(p256PublicKey(privateKey))).toBe(sessionKey.publicKey);
    // Turnkey's own SDK opens it too (the bundle format is theirs).
    expect(decryptCredentialBundle(credentialBundle, toHex(target.privateKey))).toBe(toHex(privateKey));
    await expect(openCredentialBundle(credentialBundle, generateP256KeyPair().privateKey)).rejects.toThrow();

    const key = { id: sessionKey.id, privateKey };
    const read = await sendStamped(f, key, { method: 'GET', url: '/v1/session', headers: bearer(issued.token) });
    expect(read.statusCode).toBe(200);
    const write = await sendStamped(f, key, { method: 'POST', url: CHALLENGE_URL, headers: bearer(issued.token) });
    expect(write.statusCode).toBe(201);
    const created = await sendStamped(f, key, {
      method: 'POST',
      url: '/v1/session-keys',
      body: JSON.stringify({ scope: 'read-only', targetPublicKey: toHex(generateP256KeyPair().publicKey) }),
      headers: bearer(issued.token),
    });
    expect(created.statusCode).toBe(201);

    // Nothing the store holds is the private scalar.
    const dump =
      JSON.stringify(await f.store.queryAudit('default', { limit: 1000 })) + JSON.stringify(await allKeyRecords(f, issued));
    expect(dump).not.toContain(toHex(privateKey));
    expect(dump).toContain(sessionKey.publicKey);
  });

  it('caps the key at the session, refuses a TTL above the maximum, and takes a compressed target key', async () => {
    const f = await startFixture({ defaults: { absoluteLifetimeSeconds: 1800, idleTimeoutSeconds: 1800 } });
    const { issued } = await signIn(f, WALLETS[0]!);
    const long = await createHeldKey(f, issued.token, { ttlSeconds: 3600 });
    expect(long.expiresAt).toBe(f.clock.now() + 1800_000);
    const tooLong = await send(f, {
      method: 'POST',
      url: '/v1/session-keys',
      body: JSON.stringify({ scope: 'read-only', targetPublicKey: toHex(generateP256KeyPair().publicKey), ttlSeconds: 86_401 }),
      headers: bearer(issued.token),
    });
    expect([tooLong.statusCode, code(tooLong), tooLong.json().error.field]).toEqual([400, 'VALIDATION_FAILED', 'ttlSeconds']);
    const compressed = generateP256KeyPair();
    const answer = await send(f, {
      method: 'POST',
      url: '/v1/session-keys',
      body: JSON.stringify({ scope: 'read-only', targetPublicKey: toHex(compressP256PublicKey(compressed.publicKey)) }),
      headers: bearer(issued.token),
    });
    expect(answer.statusCode).toBe(201);
    expect(await openCredentialBundle(answer.json().credentialBundle, compressed.privateKey)).toHaveLength(32);
  });
});

describe('POST /v1/session-keys with a registered device key', () => {
  it('registers the key with a single-use challenge bound to the session', async () => {
    const f = await startFixture();
    const { issued } = await signIn(f, WALLETS[0]!);
    const { issued: other } = await signIn(f, WALLETS[0]!);
    const { response, device, challenge } = await registerDeviceKey(f, issued.token);
    expect(response.statusCode).toBe(201);
    expect(response.json().credentialBundle).toBeUndefined();
    expect(response.json().sessionKey.publicKey).toBe(toHex(device.publicKey));
    const key = { id: response.json().sessionKey.id, privateKey: device.privateKey };
    expect((await sendStamped(f, key, { method: 'GET', url: '/v1/session', headers: bearer(issued.token) })).statusCode).toBe(
      200,
    );

    // The same challenge again: taken already.
    const again = await registerDeviceKey(f, issued.token, { challenge });
    expect([again.response.statusCode, code(again.response)]).toEqual([401, 'SESSION_KEY_CHALLENGE_INVALID']);
    // A challenge issued to another session of the same wallet.
    const foreign = (await send(f, { method: 'POST', url: CHALLENGE_URL, headers: bearer(other.token) })).json().challenge;
    const stolen = await registerDeviceKey(f, issued.token, { challenge: foreign });
    expect([stolen.response.statusCode, code(stolen.response)]).toEqual([401, 'SESSION_KEY_CHALLENGE_INVALID']);
    // Another session's attempt does not spend it: the session it was issued to still can.
    const late = await registerDeviceKey(f, other.token, { challenge: foreign });
    expect(late.response.statusCode).toBe(201);
    // A session has one outstanding challenge: a new one replaces the last.
    const replaced = (await send(f, { method: 'POST', url: CHALLENGE_URL, headers: bearer(issued.token) })).json().challenge;
    await send(f, { method: 'POST', url: CHALLENGE_URL, headers: bearer(issued.token) });
    expect(code((await registerDeviceKey(f, issued.token, { challenge: replaced })).response)).toBe(
      'SESSION_KEY_CHALLENGE_INVALID',
    );
    // A proof by another key than the one registered; the challenge is spent before the check.
    const fresh = (await send(f, { method: 'POST', url: CHALLENGE_URL, headers: bearer(issued.token) })).json().challenge;
    const forged = await registerDeviceKey(f, issued.token, { challenge: fresh, sign: generateP256KeyPair().privateKey });
    expect([forged.response.statusCode, code(forged.response)]).toEqual([401, 'SIGNATURE_INVALID']);
    expect(code((await registerDeviceKey(f, issued.token, { challenge: fresh })).response)).toBe('SESSION_KEY_CHALLENGE_INVALID');
    // A challenge past its 5 minutes.
    const stale = (await send(f, { method: 'POST', url: CHALLENGE_URL, headers: bearer(issued.token) })).json();
    expect(stale.expiresAt).toBe(f.clock.now() + 300_000);
    f.clock.advance(300_000);
    expect(code((await registerDeviceKey(f, issued.token, { challenge: stale.challenge })).response)).toBe(
      'SESSION_KEY_CHALLENGE_INVALID',
    );
    const keys = (await send(f, { method: 'GET', url: '/v1/session-keys', headers: bearer(issued.token) })).json().sessionKeys;
    expect(keys.map((k: { id: string; current: boolean }) => [k.id, k.current]).sort()).toEqual(
      [
        [key.id, true],
        [late.response.json().sessionKey.id, false],
      ].sort(),
    );
  });
});

describe('scopes', () => {
  it('a read-only session makes only read-only keys, and a read-only key signs no write', async () => {
    const f = await startFixture();
    const { issued: readOnly } = await signIn(f, WALLETS[0]!, { body: { scope: 'read-only' } });
    const refused = await send(f, {
      method: 'POST',
      url: '/v1/session-keys',
      body: JSON.stringify({ scope: 'read-write', targetPublicKey: toHex(generateP256KeyPair().publicKey) }),
      headers: bearer(readOnly.token),
    });
    expect([refused.statusCode, code(refused)]).toEqual([403, 'SCOPE_READ_ONLY']);
    expect((await registerDeviceKey(f, readOnly.token)).response.statusCode).toBe(403);

    const { issued } = await signIn(f, WALLETS[0]!);
    const viewer = await createHeldKey(f, issued.token, { scope: 'read-only' });
    const writer = await createHeldKey(f, issued.token);
    const headers = bearer(issued.token);
    expect((await sendStamped(f, viewer, { method: 'GET', url: '/v1/sessions', headers })).statusCode).toBe(200);
    for (const request of [
      { method: 'DELETE', url: `/v1/sessions/${readOnly.session.id}`, headers },
      { method: 'DELETE', url: '/v1/sessions?keep=current', headers },
      { method: 'DELETE', url: `/v1/session-keys/${writer.id}`, headers },
    ] as const) {
      const r = await sendStamped(f, viewer, request);
      expect([r.statusCode, code(r)], request.url).toEqual([403, 'SCOPE_READ_ONLY']);
    }
    // It may replace itself with another read-only key (never a read-write one), revoke itself, and sign out.
    await expect(createHeldKey(f, issued.token, { scope: 'read-write', stampWith: viewer })).rejects.toThrow(/403/);
    const next = await createHeldKey(f, issued.token, { scope: 'read-only', stampWith: viewer });
    expect(next.scope).toBe('read-only');
    expect((await sendStamped(f, viewer, { method: 'DELETE', url: `/v1/session-keys/${viewer.id}`, headers })).statusCode).toBe(
      204,
    );
    expect(code(await sendStamped(f, viewer, { method: 'GET', url: '/v1/session', headers }))).toBe('SESSION_KEY_REVOKED');
    expect((await sendStamped(f, next, { method: 'DELETE', url: '/v1/session', headers })).statusCode).toBe(204);
  });
});

describe('GET /v1/session-keys and DELETE /v1/session-keys/{id}', () => {
  it("lists the wallet's live keys with `current`, and revokes one at once", async () => {
    const f = await startFixture();
    const { issued: a } = await signIn(f, WALLETS[0]!);
    const { issued: b } = await signIn(f, WALLETS[0]!);
    const { issued: stranger } = await signIn(f, WALLETS[1]!);
    const a1 = await createHeldKey(f, a.token, { name: 'a1' });
    f.clock.advance(1000);
    const b1 = await createHeldKey(f, b.token, { name: 'b1', scope: 'read-only' });
    const gone = await createHeldKey(f, a.token, { ttlSeconds: 60 });
    const theirs = await createHeldKey(f, stranger.token);
    f.clock.advance(60_000);

    const listed = await send(f, { method: 'GET', url: '/v1/session-keys', headers: bearer(a.token) });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().sessionKeys).toEqual([
      {
        id: a1.id,
        publicKey: a1.publicKey,
        scope: 'read-write',
        name: 'a1',
        createdAt: expect.any(Number),
        expiresAt: a1.expiresAt,
        sessionId: a.session.id,
        current: true,
      },
      {
        id: b1.id,
        publicKey: b1.publicKey,
        scope: 'read-only',
        name: 'b1',
        createdAt: expect.any(Number),
        expiresAt: b1.expiresAt,
        sessionId: b.session.id,
        current: false,
      },
    ]);
    expect(JSON.stringify(listed.json())).not.toContain(gone.id);

    // Another wallet's key and an unknown one are the same 404.
    for (const id of [theirs.id, `lksk_${'1'.repeat(44)}`]) {
      const r = await send(f, { method: 'DELETE', url: `/v1/session-keys/${id}`, headers: bearer(a.token) });
      expect([r.statusCode, code(r)]).toEqual([404, 'SESSION_KEY_TARGET_NOT_FOUND']);
    }
    // An expired key whose record is kept is revoked too (so it cannot make its successor), once.
    expect((await send(f, { method: 'DELETE', url: `/v1/session-keys/${gone.id}`, headers: bearer(a.token) })).statusCode).toBe(
      204,
    );
    const again = await send(f, { method: 'DELETE', url: `/v1/session-keys/${gone.id}`, headers: bearer(a.token) });
    expect([again.statusCode, code(again)]).toEqual([404, 'SESSION_KEY_TARGET_NOT_FOUND']);
    expect((await send(f, { method: 'DELETE', url: `/v1/session-keys/${b1.id}`, headers: bearer(a.token) })).statusCode).toBe(
      204,
    );
    const next = await sendStamped(f, b1, { method: 'GET', url: '/v1/session', headers: bearer(b.token) });
    expect([next.statusCode, code(next)]).toEqual([401, 'SESSION_KEY_REVOKED']);
    expect((await send(f, { method: 'DELETE', url: `/v1/session-keys/${b1.id}`, headers: bearer(a.token) })).statusCode).toBe(
      404,
    );
    const after = (await send(f, { method: 'GET', url: '/v1/session-keys', headers: bearer(b.token) })).json().sessionKeys;
    expect(after.map((k: { id: string; current: boolean }) => [k.id, k.current])).toEqual([[a1.id, false]]);
    const audit = await f.store.queryAudit('default', { limit: 1000 });
    expect(audit.filter((e) => e.type === 'session_key_revoked').map((e) => e.details.keyId)).toEqual([gone.id, b1.id]);
    expect(audit.filter((e) => e.type === 'session_key_created')).toHaveLength(4);
  });

  it("a read-only session revokes only its own session's keys", async () => {
    const f = await startFixture();
    const { issued: rw } = await signIn(f, WALLETS[0]!);
    const { issued: ro } = await signIn(f, WALLETS[0]!, { body: { scope: 'read-only' } });
    const rwKey = await createHeldKey(f, rw.token);
    const roKey = await createHeldKey(f, ro.token, { scope: 'read-only' });
    const refused = await send(f, { method: 'DELETE', url: `/v1/session-keys/${rwKey.id}`, headers: bearer(ro.token) });
    expect([refused.statusCode, code(refused)]).toEqual([404, 'SESSION_KEY_TARGET_NOT_FOUND']);
    expect((await send(f, { method: 'DELETE', url: `/v1/session-keys/${roKey.id}`, headers: bearer(ro.token) })).statusCode).toBe(
      204,
    );
    expect((await sendStamped(f, rwKey, { method: 'GET', url: '/v1/session', headers: bearer(rw.token) })).statusCode).toBe(200);
  });
});

describe('limits and malformed input', () => {
  it('refuses a key past maxLiveKeys; concurrent creations never pass the limit', async () => {
    const f = await startFixture({ defaults: { sessionKeys: { maxLiveKeys: 3 } } });
    const { issued } = await signIn(f, WALLETS[0]!);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => createHeldKey(f, issued.token)));
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    const live = (await send(f, { method: 'GET', url: '/v1/session-keys', headers: bearer(issued.token) })).json().sessionKeys;
    expect(live.length).toBeLessThanOrEqual(3);
    while (
      (await send(f, { method: 'GET', url: '/v1/session-keys', headers: bearer(issued.token) })).json().sessionKeys.length < 3
    )
      await createHeldKey(f, issued.token);
    const over = await send(f, {
      method: 'POST',
      url: '/v1/session-keys',
      body: JSON.stringify({ scope: 'read-only', targetPublicKey: toHex(generateP256KeyPair().publicKey) }),
      headers: bearer(issued.token),
    });
    expect([over.statusCode, code(over)]).toEqual([409, 'SESSION_KEY_LIMIT_REACHED']);
    // A revoked key frees its slot.
    const [first] = (await send(f, { method: 'GET', url: '/v1/session-keys', headers: bearer(issued.token) })).json().sessionKeys;
    await send(f, { method: 'DELETE', url: `/v1/session-keys/${first.id}`, headers: bearer(issued.token) });
    expect((await createHeldKey(f, issued.token)).id).toMatch(/^lksk_/);
  });

  it('answers malformed requests with 400 and a code, and stores nothing', async () => {
    const f = await startFixture();
    const { issued } = await signIn(f, WALLETS[0]!);
    const before = await allKeyRecords(f, issued);
    const auditBefore = await f.store.queryAudit('default', { limit: 1000 });
    const valid = toHex(generateP256KeyPair().publicKey);
    const offCurve = `04${'11'.repeat(64)}`;
    const cases: [unknown, string, string | undefined][] = [
      [{ scope: 'read-write' }, 'VALIDATION_FAILED', 'body.targetPublicKey'],
      [{ scope: 'admin', targetPublicKey: valid }, 'VALIDATION_FAILED', 'body.scope'],
      [{ scope: 'read-write', targetPublicKey: 'zz' }, 'VALIDATION_FAILED', 'body.targetPublicKey'],
      [{ scope: 'read-write', targetPublicKey: offCurve }, 'SESSION_KEY_TARGET_INVALID', undefined],
      [{ scope: 'read-write', targetPublicKey: `05${valid.slice(2)}` }, 'SESSION_KEY_TARGET_INVALID', undefined],
      [{ scope: 'read-write', targetPublicKey: valid, extra: 1 }, 'VALIDATION_FAILED', 'body'],
      [{ scope: 'read-write', targetPublicKey: valid, ttlSeconds: 5 }, 'VALIDATION_FAILED', 'body.ttlSeconds'],
      [{ scope: 'read-write', targetPublicKey: valid, name: 'a\u0000b' }, 'VALIDATION_FAILED', 'body.name'],
      [
        {
          scope: 'read-write',
          targetPublicKey: valid,
          registration: { publicKey: valid, challenge: 'a'.repeat(43), signature: 'b'.repeat(86) },
        },
        'VALIDATION_FAILED',
        'body.targetPublicKey',
      ],
      [
        { scope: 'read-write', registration: { publicKey: offCurve, challenge: 'a'.repeat(43), signature: 'b'.repeat(86) } },
        'SESSION_KEY_TARGET_INVALID',
        undefined,
      ],
    ];
    for (const [body, expected, field] of cases) {
      const r = await send(f, {
        method: 'POST',
        url: '/v1/session-keys',
        body: JSON.stringify(body),
        headers: bearer(issued.token),
      });
      expect([r.statusCode, code(r)], JSON.stringify(body)).toEqual([400, expected]);
      if (field) expect(r.json().error.field).toBe(field);
    }
    const badId = await send(f, { method: 'DELETE', url: '/v1/session-keys/lksk_0OIl', headers: bearer(issued.token) });
    expect([badId.statusCode, badId.json().error.field]).toEqual([400, 'params.id']);
    const badStamp = await send(f, {
      method: 'GET',
      url: '/v1/session',
      headers: { ...bearer(issued.token), 'latchkey-signature': 'v=2' },
    });
    expect([badStamp.statusCode, code(badStamp)]).toEqual([400, 'SIGNATURE_MALFORMED']);
    expect(await allKeyRecords(f, issued)).toEqual(before);
    expect((await f.store.queryAudit('default', { limit: 1000 })).filter((e) => e.type !== 'stamp_rejected')).toEqual(
      auditBefore,
    );
  });
});

/** Every stored entry about the session's keys: its key records, nonces, first-key marker and challenges. */
async function allKeyRecords(f: Fixture, issued: IssuedBody): Promise<unknown> {
  const tag = BigInt(`0x${issued.session.id}`).toString(36).padStart(25, '0');
  const now = f.clock.now();
  return {
    keys: await f.store.listEntries('default', `sk${tag}`, now),
    nonces: await f.store.listEntries('default', `sn${tag}`, now),
    first: await f.store.listEntries('default', 'session-key-first', now),
    challenges: await f.store.listEntries('default', 'session-key-challenges', now),
  };
}

describe('sessionKeys settings in the config file', () => {
  it('are taken per app and checked like every other app setting', () => {
    const config = parseConfig({ apps: { shop: { sessionKeys: { requireStamps: true, maxLiveKeys: 2 } } } });
    expect(
      new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0, apps: config.apps as never }).settings('shop')
        .sessionKeys,
    ).toEqual({
      isStampRequired: true,
      ttlMs: 900_000,
      maxTtlMs: 86_400_000,
      maxLiveKeys: 2,
      skewMs: 60_000,
      rotationGraceMs: 300_000,
    });
    expect(() => parseConfig({ defaults: { sessionKeys: { maxLiveKeys: 0 } } })).toThrow(/sessionKeys\.maxLiveKeys/);
    expect(() => parseConfig({ defaults: { sessionKeys: { requireStamp: true } } })).toThrow(/sessionKeys/);
  });
});
