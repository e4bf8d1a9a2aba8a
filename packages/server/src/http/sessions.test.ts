import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, type Fixture, type IssuedBody, signIn, startFixture, WALLETS } from '../../test-support/http/index.js';

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
