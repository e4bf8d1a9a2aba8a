import { type IssuedSession, ManualClock, type SessionScope } from '@latchkey/core';
import { createStamp, generateP256KeyPair, openCredentialBundle, toHex } from '@latchkey/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuardedApi, Reply, StartGuardedApi } from './guarded-api.js';
import { ACCESS, freshAccount, ROLES, startLatchkeyServer, World } from './world.js';

/** A session key as the device holds it: made by the engine, its private half opened from the credential bundle. */
export interface HeldKey {
  id: string;
  privateKey: Uint8Array;
  scope: SessionScope;
  expiresAt: number;
}

export async function holdKey(
  world: World,
  issued: IssuedSession,
  options: { scope?: SessionScope; ttlSeconds?: number } = {},
): Promise<HeldKey> {
  const target = generateP256KeyPair();
  const { sessionKey, credentialBundle } = await world.engine.sessionKeys.create({
    session: issued.session,
    scope: options.scope ?? 'read-write',
    targetPublicKey: toHex(target.publicKey),
    ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
  });
  return { ...sessionKey, privateKey: await openCredentialBundle(credentialBundle!, target.privateKey) };
}

const INVALID_TOKEN = 'Bearer realm="latchkey", error="invalid_token"';
const T0 = Date.UTC(2026, 0, 1, 12);

interface SignedCase {
  name: string;
  /** Who signs: the session's own read-write key (default), its read-only key, another session's key, its key past expiry, nobody. */
  signer?: 'own' | 'read-only' | 'other-session' | 'expired' | 'none';
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** What the stamp covers, where it is not the request as sent. */
  signed?: { path?: string; body?: string };
  /** A literal `Latchkey-Signature` instead of a stamp. */
  header?: string;
  /** Signed this far from the server's clock (ms). */
  offsetMs?: number;
  status: number;
  code?: string;
  /** `WWW-Authenticate`; null: none. */
  challenge?: string | null;
  /** Part of a 200 body; `keyId` is checked against the signing key. */
  reply?: Record<string, unknown>;
}

const TRANSFER = { method: 'POST', path: '/api/transfer?to=bob', body: '{"amount":1}' } as const;

/** Every answer a guard gives a signed request, the same for both frameworks and both modes that can check stamps. */
const CASES: SignedCase[] = [
  { name: 'a signed transfer (the handler sees the key)', ...TRANSFER, status: 200, reply: { sent: 1, scope: 'read-write' } },
  {
    name: 'the body bytes as sent, which re-serialising would change',
    ...TRANSFER,
    body: '{ "amount" : 2 }',
    status: 200,
    reply: { sent: 2 },
  },
  {
    name: 'a signed GET, its query as sent',
    method: 'GET',
    path: '/api/balance?currency=usd&note=a%2Fb',
    status: 200,
    reply: { currency: 'usd', scope: 'read-write' },
  },
  {
    name: 'no stamp where one is optional',
    signer: 'none',
    method: 'GET',
    path: '/api/balance',
    status: 200,
    reply: { keyId: null },
  },
  {
    name: 'no stamp where one is required',
    signer: 'none',
    ...TRANSFER,
    status: 401,
    code: 'SIGNATURE_REQUIRED',
    challenge: 'Bearer realm="latchkey", error="signature_required"',
  },
  {
    name: 'an altered body',
    ...TRANSFER,
    body: '{"amount":100}',
    signed: { body: TRANSFER.body },
    status: 401,
    code: 'SIGNATURE_INVALID',
    challenge: INVALID_TOKEN,
  },
  {
    name: 'a stamp over the path without its mount prefix',
    ...TRANSFER,
    signed: { path: '/transfer?to=bob' },
    status: 401,
    code: 'SIGNATURE_INVALID',
    challenge: INVALID_TOKEN,
  },
  { name: 'a read-only key on a write', signer: 'read-only', ...TRANSFER, status: 403, code: 'SCOPE_READ_ONLY', challenge: null },
  {
    name: 'a read-only key on a POST the route says changes nothing',
    signer: 'read-only',
    method: 'POST',
    path: '/api/search',
    body: '{"query":"gm"}',
    status: 200,
    reply: { query: 'gm', scope: 'read-only' },
  },
  {
    name: "another session's key",
    signer: 'other-session',
    ...TRANSFER,
    status: 403,
    code: 'SESSION_KEY_MISMATCH',
    challenge: null,
  },
  {
    name: 'an expired key (its expiry in the body)',
    signer: 'expired',
    ...TRANSFER,
    status: 401,
    code: 'SESSION_KEY_EXPIRED',
    challenge: 'Bearer realm="latchkey", error="session_key_expired"',
  },
  {
    name: 'a stamp from 61 s ago',
    ...TRANSFER,
    offsetMs: -61_000,
    status: 401,
    code: 'SIGNATURE_STALE',
    challenge: INVALID_TOKEN,
  },
  {
    name: 'a malformed header',
    ...TRANSFER,
    header: 'v=1, keyId=lksk_x',
    status: 400,
    code: 'SIGNATURE_MALFORMED',
    challenge: 'Bearer realm="latchkey", error="invalid_request"',
  },
];

function errorOf(reply: Reply): { code?: string; expiresAt?: number } | undefined {
  return (reply.body as { error?: { code?: string; expiresAt?: number } } | null)?.error;
}

/**
 * Signed requests (stamps, docs/stamps.md) against an example app's `/api` routes, mounted under a
 * prefix: in engine mode and against the real Latchkey server (introspection with the stamp), with
 * keys made by the engine and stamps made by `@latchkey/protocol`'s `createStamp`. In JWT mode a
 * stamp cannot be checked and is refused.
 */
export function describeSignedRequests(framework: string, start: StartGuardedApi): void {
  for (const mode of ['engine', 'remote'] as const) {
    describe(`${framework} example, signed requests, ${mode === 'engine' ? 'local engine' : 'remote Latchkey server'}`, () => {
      const clock = new ManualClock(T0);
      const world = new World({ clock });
      let server: Awaited<ReturnType<typeof startLatchkeyServer>> | null = null;
      let api: GuardedApi;
      beforeAll(async () => {
        if (mode === 'engine') api = await start({ latchkey: { engine: world.engine } });
        else {
          server = await startLatchkeyServer(world);
          api = await start({ latchkey: { remote: { url: server.url, apiKey: server.apiKey } } });
        }
      });
      afterAll(async () => {
        await api.close();
        await server?.close();
        world.close();
      });

      /** Signs `c` as the case says and sends it with the token of a fresh wallet's session. */
      async function send(c: SignedCase): Promise<{ reply: Reply; key: HeldKey | null }> {
        const issued = await world.signIn('read-write', freshAccount());
        let key: HeldKey | null = null;
        if (c.signer === 'read-only') key = await holdKey(world, issued, { scope: 'read-only' });
        else if (c.signer === 'other-session') key = await holdKey(world, await world.signIn('read-write', freshAccount()));
        else if (c.signer === 'expired') {
          key = await holdKey(world, issued, { ttlSeconds: 60 });
          clock.advance(60_000);
        } else if (c.signer !== 'none') key = await holdKey(world, issued);
        const headers: Record<string, string> = {};
        if (c.header !== undefined) headers['latchkey-signature'] = c.header;
        else if (key) {
          headers['latchkey-signature'] = await createStamp(
            key.privateKey,
            key.id,
            { method: c.method, path: c.signed?.path ?? c.path, body: c.signed?.body ?? c.body ?? null },
            { now: clock.now() + (c.offsetMs ?? 0) },
          );
        }
        const reply = await api.request(c.method, c.path, {
          token: issued.token,
          headers,
          ...(c.body === undefined ? {} : { rawBody: c.body }),
        });
        return { reply, key };
      }

      it.each(CASES)('$name → $status', async (c) => {
        const { reply, key } = await send(c);
        expect(reply.status, JSON.stringify(reply.body)).toBe(c.status);
        if (c.code !== undefined) expect(errorOf(reply)?.code).toBe(c.code);
        if (c.challenge !== undefined) expect(reply.headers['www-authenticate']).toBe(c.challenge ?? undefined);
        if (c.reply !== undefined) {
          expect(reply.body).toMatchObject(c.reply);
          if (!('keyId' in c.reply)) expect((reply.body as { keyId?: string }).keyId).toBe(key?.id);
        }
        if (c.code === 'SESSION_KEY_EXPIRED') expect(errorOf(reply)?.expiresAt).toBe(key?.expiresAt);
      });

      it('refuses a stamp sent a second time (SIGNATURE_REPLAYED)', async () => {
        const issued = await world.signIn('read-write', freshAccount());
        const key = await holdKey(world, issued);
        const stamp = await createStamp(key.privateKey, key.id, { ...TRANSFER }, { now: clock.now() });
        const once = () =>
          api.request('POST', TRANSFER.path, {
            token: issued.token,
            rawBody: TRANSFER.body,
            headers: { 'latchkey-signature': stamp },
          });
        expect((await once()).status).toBe(200);
        const again = await once();
        expect([again.status, errorOf(again)?.code]).toEqual([401, 'SIGNATURE_REPLAYED']);
      });
    });
  }

  describe(`${framework} example, signed requests, JWT access tokens`, () => {
    const world = new World();
    let api: GuardedApi;
    let issued: IssuedSession;
    beforeAll(async () => {
      issued = await world.signIn(); // the first access token makes the signing key the JWKS publishes
      api = await start({ latchkey: { jwt: { jwks: await world.engine.getJwks(), ...ACCESS, roles: ROLES } } });
    });
    afterAll(async () => {
      await api.close();
      world.close();
    });

    it('refuses a stamp it cannot check (401 SIGNATURE_INVALID), and has no signed routes', async () => {
      const key = await holdKey(world, issued);
      const stamp = await createStamp(key.privateKey, key.id, { method: 'GET', path: '/me' });
      const reply = await api.request('GET', '/me', { token: issued.accessToken!, headers: { 'latchkey-signature': stamp } });
      expect([reply.status, errorOf(reply)?.code, reply.headers['www-authenticate']]).toEqual([
        401,
        'SIGNATURE_INVALID',
        INVALID_TOKEN,
      ]);
      expect((await api.request('GET', '/me', { token: issued.accessToken! })).status).toBe(200);
      expect((await api.request('GET', '/api/balance', { token: issued.accessToken! })).status).toBe(404);
    });
  });
}
