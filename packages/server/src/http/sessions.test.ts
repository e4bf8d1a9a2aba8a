import { bodyDigest } from '@latchkey/protocol';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, type Fixture, type IssuedBody, signIn, startFixture, WALLETS } from '../../test-support/http/index.js';
import { createHeldKey, type StampedRequest, stampFor } from '../../test-support/http/session-keys.js';
import { createApiKey } from '../index.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function isLive(f: Fixture, token: string): Promise<boolean> {
  return (await f.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) })).statusCode === 200;
}

function expectReadOnlyRefusal(response: LightMyRequestResponse): void {
  expect([response.statusCode, response.json().error.code]).toEqual([403, 'SCOPE_READ_ONLY']);
}

describe('a read-only session', () => {
  it("cannot revoke the wallet's other sessions, and can still sign itself out", async () => {
    const f = await startFixture();
    const wallet = WALLETS[0]!;
    const { issued: readWrite } = await signIn(f, wallet);
    const { issued: readOnly } = await signIn(f, wallet, { body: { scope: 'read-only' } });
    const { issued: another } = await signIn(f, wallet);
    expect((await f.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(readOnly.token) })).json()).toMatchObject({
      session: { scope: 'read-only' },
    });
    const auditBefore = await f.store.queryAudit('default', { limit: 1000 });

    expectReadOnlyRefusal(
      await f.app.inject({ method: 'DELETE', url: '/v1/sessions?keep=current', headers: bearer(readOnly.token) }),
    );
    expectReadOnlyRefusal(await f.app.inject({ method: 'DELETE', url: '/v1/sessions', headers: bearer(readOnly.token) }));
    expectReadOnlyRefusal(
      await f.app.inject({ method: 'DELETE', url: `/v1/sessions/${readWrite.session.id}`, headers: bearer(readOnly.token) }),
    );
    // An id that is not the wallet's at all gets the same answer: the refusal says nothing about other sessions.
    expectReadOnlyRefusal(
      await f.app.inject({ method: 'DELETE', url: `/v1/sessions/${'0'.repeat(32)}`, headers: bearer(readOnly.token) }),
    );
    // The same by cookie.
    const cookie = `__Host-latchkey-session-default=${readOnly.token}`;
    expectReadOnlyRefusal(
      await f.app.inject({ method: 'DELETE', url: '/v1/sessions?keep=current', headers: { cookie, origin: APP_ORIGIN } }),
    );
    expect(await f.store.queryAudit('default', { limit: 1000 })).toEqual(auditBefore);
    for (const s of [readWrite, readOnly, another] as IssuedBody[]) expect(await isLive(f, s.token)).toBe(true);

    // Its own session it may end, either way.
    const own = await f.app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${readOnly.session.id}`,
      headers: bearer(readOnly.token),
    });
    expect(own.statusCode).toBe(204);
    const { issued: second } = await signIn(f, wallet, { body: { scope: 'read-only' } });
    expect((await f.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(second.token) })).statusCode).toBe(204);

    // A read-write session keeps every power.
    const kept = await f.app.inject({ method: 'DELETE', url: '/v1/sessions?keep=current', headers: bearer(readWrite.token) });
    expect(kept.json()).toEqual({ revoked: 1 });
    expect(await isLive(f, another.token)).toBe(false);
    expect(await isLive(f, readWrite.token)).toBe(true);
  });
});

describe('introspection with a stamp', () => {
  async function setUp() {
    const f = await startFixture();
    const { key } = await createApiKey(f.store, 'default', 'resource server');
    const { issued } = await signIn(f, WALLETS[0]!);
    const held = await createHeldKey(f, issued.token);
    const request: StampedRequest = { method: 'POST', url: '/api/transfer?to=bob', body: '{"amount":1}' };
    const stampOf = async (signed: StampedRequest = request, options: { now?: number } = {}) => ({
      header: await stampFor(f, held, signed, options),
      method: signed.method,
      path: signed.url,
      bodyDigest: bodyDigest(signed.body ?? null),
    });
    const introspect = (body: unknown) =>
      f.app.inject({ method: 'POST', url: '/v1/sessions/introspect', headers: bearer(key), payload: body as object });
    return { f, issued, held, request, stampOf, introspect };
  }

  it("answers the stamp's verdict beside the session, and each stamp passes once", async () => {
    const { issued, held, stampOf, introspect } = await setUp();
    const stamp = await stampOf();
    const first = await introspect({ token: issued.token, stamp });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      active: true,
      session: expect.objectContaining({ id: issued.session.id }),
      stamp: { valid: true, keyId: held.id, scope: 'read-write', expiresAt: held.expiresAt },
    });
    expect((await introspect({ token: issued.token, stamp })).json().stamp).toEqual({ valid: false, code: 'SIGNATURE_REPLAYED' });
    // Without a stamp the answer is as before.
    expect(Object.keys((await introspect({ token: issued.token })).json())).toEqual(['active', 'session']);
  });

  it("records the session's activity only when the stamp passed", async () => {
    const { f, issued, stampOf, introspect } = await setUp();
    const idleExpiresAt = async () => (await f.store.getSession('default', issued.session.id))!.idleExpiresAt;
    const before = await idleExpiresAt();
    f.clock.advance(10 * 60_000); // past the activity throttle, inside the key's 15 minutes
    const altered = { ...(await stampOf()), bodyDigest: bodyDigest('{"amount":100}') };
    expect((await introspect({ token: issued.token, stamp: altered })).json().stamp).toMatchObject({ valid: false });
    expect(await idleExpiresAt()).toBe(before);
    const passed = await introspect({ token: issued.token, stamp: await stampOf() });
    expect(passed.json().stamp).toMatchObject({ valid: true });
    const touched = f.clock.now() + f.latchkey.settings('default').idleTimeoutMs;
    expect(passed.json().session.idleExpiresAt).toBe(touched);
    expect(await idleExpiresAt()).toBe(touched);
  });

  it('refuses as the server routes do: altered body, a read-only key on a write, an expired key with its expiry', async () => {
    const { f, issued, stampOf, introspect } = await setUp();
    const altered = { ...(await stampOf()), bodyDigest: bodyDigest('{"amount":100}') };
    expect((await introspect({ token: issued.token, stamp: altered })).json().stamp).toEqual({
      valid: false,
      code: 'SIGNATURE_INVALID',
    });

    const readOnly = await createHeldKey(f, issued.token, { scope: 'read-only' });
    const write: StampedRequest = { method: 'POST', url: '/api/transfer', body: '{}' };
    const readOnlyStamp = {
      header: await stampFor(f, readOnly, write),
      method: 'POST',
      path: write.url,
      bodyDigest: bodyDigest('{}'),
    };
    expect((await introspect({ token: issued.token, stamp: readOnlyStamp })).json().stamp).toEqual({
      valid: false,
      code: 'SCOPE_READ_ONLY',
    });
    // The resource server may say the route changes nothing.
    const search = { ...readOnlyStamp, header: await stampFor(f, readOnly, write), isWrite: false };
    expect((await introspect({ token: issued.token, stamp: search })).json().stamp).toMatchObject({
      valid: true,
      scope: 'read-only',
    });

    const shortLived = await createHeldKey(f, issued.token, { ttlSeconds: 60 });
    f.clock.advance(60_000);
    const late = { header: await stampFor(f, shortLived, write), method: 'POST', path: write.url, bodyDigest: bodyDigest('{}') };
    expect((await introspect({ token: issued.token, stamp: late })).json().stamp).toEqual({
      valid: false,
      code: 'SESSION_KEY_EXPIRED',
      expiresAt: shortLived.expiresAt,
    });
  });

  it("refuses another session's key, and never looks at the stamp of a token that is not active", async () => {
    const { f, issued, stampOf, introspect } = await setUp();
    const { issued: other } = await signIn(f, WALLETS[1]!);
    const stamp = await stampOf();
    expect((await introspect({ token: other.token, stamp })).json().stamp).toEqual({
      valid: false,
      code: 'SESSION_KEY_MISMATCH',
    });

    const fresh = await stampOf();
    expect((await introspect({ token: `lks_${'0'.repeat(32)}.${'1'.repeat(44)}`, stamp: fresh })).json()).toEqual({
      active: false,
    });
    // Its nonce was not spent.
    expect((await introspect({ token: issued.token, stamp: fresh })).json().stamp).toMatchObject({ valid: true });
  });

  it('validates the stamp field', async () => {
    const { issued, stampOf, introspect } = await setUp();
    const stamp = await stampOf();
    for (const bad of [
      { ...stamp, bodyDigest: 'nope' },
      { ...stamp, path: '' },
      { ...stamp, isWrite: 'yes' },
      { ...stamp, extra: 1 },
      { header: stamp.header },
    ]) {
      const response = await introspect({ token: issued.token, stamp: bad });
      expect([response.statusCode, response.json().error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
  });
});
