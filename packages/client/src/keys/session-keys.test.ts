import { generateP256KeyPair, parseP256PublicKey, sealCredentialBundle, toHex } from '@latchkey/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { signedInClient, testClient } from '../../test-support/clients.js';
import { startServer, type TestServer } from '../../test-support/server.js';
import { type ClientEvent, LatchkeyClientError } from '../index.js';

describe('session keys against a real server', () => {
  let server: TestServer;
  afterEach(async () => {
    await server?.close();
  });

  it('registered mode: a non-extractable key made here, its public half registered with a proof, stamps accepted', async () => {
    server = await startServer();
    const { client, storedKey } = await signedInClient(server);
    const mark = server.seen.length;
    const key = await client.createSessionKey({ scope: 'read-write', name: 'laptop' });
    expect(server.since(mark)).toEqual(['POST /v1/session-keys/challenge', 'POST /v1/session-keys']);
    expect(key).toMatchObject({ mode: 'registered', scope: 'read-write', name: 'laptop' });
    expect(key.id).toMatch(/^lksk_/);
    const stored = await storedKey();
    expect(stored?.extractable).toBe(false);
    expect(stored?.type).toBe('private');

    const listed = await client.sessionKeys();
    expect(listed.map((k) => [k.id, k.publicKey, k.current])).toEqual([[key.id, key.publicKey, true]]);
    expect(server.seen.at(-1)).toMatchObject({ method: 'GET', url: '/v1/session-keys', stamped: true, status: 200 });
  });

  it('bundle mode: the server seals the key to a one-time target, the client opens it and keeps it non-extractable', async () => {
    server = await startServer();
    const { client, storedKey } = await signedInClient(server);
    const mark = server.seen.length;
    const key = await client.createSessionKey({ scope: 'read-write', mode: 'bundle', ttlSeconds: 600 });
    expect(server.since(mark)).toEqual(['POST /v1/session-keys']);
    expect(key.mode).toBe('bundle');
    expect(key.expiresAt - key.createdAt).toBe(600_000);
    expect((await storedKey())?.extractable).toBe(false);
    // The opened key signs stamps the server verifies against the public key it registered.
    const response = await client.fetch('/v1/sessions');
    expect(response.status).toBe(200);
    expect(server.seen.at(-1)).toMatchObject({ url: '/v1/sessions', stamped: true, status: 200 });
  });

  it('a stamp covers the exact body: a stamped POST with a JSON body is accepted', async () => {
    server = await startServer();
    const { client } = await signedInClient(server);
    await client.createSessionKey({ scope: 'read-write', mode: 'bundle' });
    const target = generateP256KeyPair();
    // Through client.fetch: the body is buffered, signed and sent as the same bytes.
    const response = await client.fetch('/v1/session-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ targetPublicKey: toHex(target.publicKey), scope: 'read-only', name: 'raw' }),
    });
    expect(response.status).toBe(201);
    expect(server.seen.at(-1)).toMatchObject({ method: 'POST', stamped: true, status: 201 });
  });

  it('under requireStamps: nothing but the first key passes without a stamp; with the key every route does', async () => {
    server = await startServer({ settings: { sessionKeys: { requireStamps: true } } });
    const { client } = await signedInClient(server);
    await expect(client.sessions()).rejects.toMatchObject({ code: 'SIGNATURE_REQUIRED', status: 401 });
    await client.createSessionKey({ scope: 'read-write' });
    expect((await client.sessions()).length).toBe(1);
    expect((await client.session()).scope).toBe('read-write');
    expect(await client.revokeAll({ keepCurrent: true })).toBe(0);
  });

  it('createReadOnlySession: a read-only key; the server refuses writes it signs', async () => {
    server = await startServer({ settings: { sessionKeys: { requireStamps: true } } });
    const { client } = await signedInClient(server);
    const key = await client.createReadOnlySession();
    expect(key.scope).toBe('read-only');
    expect((await client.sessions()).length).toBe(1);
    const refused = await client.revokeAll({ keepCurrent: true }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'SCOPE_READ_ONLY', status: 403 });
    // A read-only key cannot mint a read-write one: asked unstamped, which requireStamps refuses.
    await expect(client.createSessionKey({ scope: 'read-write' })).rejects.toMatchObject({ code: 'SIGNATURE_REQUIRED' });
    expect(client.sessionKey()?.id).toBe(key.id);
  });

  it('replacing a live key revokes the old one; revoking the held key makes its stamps fail without a retry', async () => {
    server = await startServer();
    const { client } = await signedInClient(server);
    const first = await client.createSessionKey({ scope: 'read-write', mode: 'bundle' });
    const mark = server.seen.length;
    const second = await client.createSessionKey({ scope: 'read-write', mode: 'bundle' });
    expect(server.since(mark)).toEqual(['POST /v1/session-keys', `DELETE /v1/session-keys/${first.id}`]);
    expect((await client.sessionKeys()).map((k) => k.id)).toEqual([second.id]);

    await client.revokeSessionKey(second.id);
    const before = server.seen.length;
    const response = await client.fetch('/v1/sessions');
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('SESSION_KEY_REVOKED');
    expect(server.since(before)).toEqual(['GET /v1/sessions']);
  });

  it('moving to a read-only key revokes the read-write key it replaces, signed by that key while it is live', async () => {
    for (const requireStamps of [false, true]) {
      server = await startServer(requireStamps ? { settings: { sessionKeys: { requireStamps: true } } } : {});
      const { client } = await signedInClient(server);
      const readWrite = await client.createSessionKey({ scope: 'read-write' });
      const mark = server.seen.length;
      const readOnly = await client.createReadOnlySession();
      expect(server.seen.slice(mark).map((r) => [r.method, r.url, r.stamped, r.status])).toEqual([
        ['POST', '/v1/session-keys/challenge', true, 201],
        ['POST', '/v1/session-keys', true, 201],
        ['DELETE', `/v1/session-keys/${readWrite.id}`, true, 204],
      ]);
      const live = await server.latchkey.sessionKeys.list({ account: (await client.session()).account });
      expect(live.map((k) => k.id)).toEqual([readOnly.id]);
      await server.close();
    }
  });

  it('a revocation that fails is told (session-key-revocation-failed), the new key held all the same', async () => {
    server = await startServer();
    let isRevocationRefused = true;
    const { client } = await signedInClient(server, {
      fetch: (input, init) =>
        isRevocationRefused && init?.method === 'DELETE' && String(input).includes('/v1/session-keys/')
          ? Promise.resolve(
              new Response(JSON.stringify({ error: { code: 'STORE_UNAVAILABLE', message: 'Store unavailable.' } }), {
                status: 503,
              }),
            )
          : fetch(input, init),
    });
    const events: ClientEvent[] = [];
    client.subscribe((e) => events.push(e));
    const old = await client.createSessionKey({ scope: 'read-write', mode: 'bundle' });
    const next = await client.createSessionKey({ scope: 'read-write', mode: 'bundle' });
    expect(client.sessionKey()?.id).toBe(next.id);
    const failed = events.find((e) => e.type === 'session-key-revocation-failed');
    expect(failed).toMatchObject({ type: 'session-key-revocation-failed', sessionKeyId: old.id });
    expect((failed as Extract<ClientEvent, { type: 'session-key-revocation-failed' }>).error).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      status: 503,
    });
    isRevocationRefused = false;
    await client.revokeSessionKey(old.id);
    expect((await client.sessionKeys()).map((k) => k.id)).toEqual([next.id]);
  });

  it('under requireStamps a registered key is replaced by one whose challenge and creation the old key stamps', async () => {
    server = await startServer({ settings: { sessionKeys: { requireStamps: true } } });
    const { client } = await signedInClient(server);
    const old = await client.createSessionKey({ scope: 'read-write', ttlSeconds: 60 });
    server.clock.advance(60_000);
    const mark = server.seen.length;
    expect((await client.fetch('/v1/sessions')).status).toBe(200);
    expect(server.seen.slice(mark).map((r) => [r.method, r.url, r.stamped, r.status])).toEqual([
      ['GET', '/v1/sessions', true, 401],
      ['POST', '/v1/session-keys/challenge', true, 201],
      ['POST', '/v1/session-keys', true, 201],
      ['GET', '/v1/sessions', true, 200],
    ]);
    expect(client.sessionKey()?.id).not.toBe(old.id);
  });

  it('createServerSession: custodial, the key comes back as a JWK that signs for the session', async () => {
    server = await startServer();
    const { client, storedKey } = await signedInClient(server);
    const { sessionKey, credentials } = await client.createServerSession({ scope: 'read-write', name: 'worker' });
    expect(sessionKey.mode).toBe('server');
    expect(credentials.publicKey).toBe(sessionKey.publicKey);
    expect(credentials.privateKey).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(typeof credentials.privateKey.d).toBe('string');
    expect((await storedKey())?.extractable).toBe(true);
    expect((await client.fetch('/v1/session')).status).toBe(200);
  });

  it('CREDENTIAL_BUNDLE_INVALID when the bundle does not open, or holds another key than the one registered', async () => {
    server = await startServer();
    let tamper: 'foreign-target' | 'other-scalar' = 'foreign-target';
    const { client } = await signedInClient(server, {
      // A misbehaving peer between client and server: it rewrites the creation answer's bundle.
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).endsWith('/v1/session-keys') || init?.method !== 'POST') return response;
        const answer = (await response.json()) as { credentialBundle: string };
        const sent = JSON.parse(new TextDecoder().decode(init.body as Uint8Array)) as { targetPublicKey: string };
        const scalar = generateP256KeyPair().privateKey;
        const target = tamper === 'foreign-target' ? generateP256KeyPair().publicKey : parseP256PublicKey(sent.targetPublicKey);
        answer.credentialBundle = await sealCredentialBundle(scalar, target);
        return new Response(JSON.stringify(answer), { status: response.status, headers: response.headers });
      },
    });
    for (const mode of ['foreign-target', 'other-scalar'] as const) {
      tamper = mode;
      const error = await client.createSessionKey({ scope: 'read-write', mode: 'bundle' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LatchkeyClientError);
      expect((error as LatchkeyClientError).code).toBe('CREDENTIAL_BUNDLE_INVALID');
      expect(client.sessionKey()).toBeNull();
    }
  });

  it('NOT_SIGNED_IN before sign-in, with no request sent', async () => {
    server = await startServer();
    const { client } = testClient(server);
    await expect(client.createSessionKey({ scope: 'read-only' })).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' });
    await expect(client.fetch('/v1/session')).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' });
    expect(server.seen).toHaveLength(0);
  });

  it('sends the session only to the server’s origin and trusted ones', async () => {
    server = await startServer();
    const { client } = await signedInClient(server);
    await expect(client.fetch('https://elsewhere.example/api')).rejects.toMatchObject({ code: 'ORIGIN_NOT_TRUSTED' });
    expect(server.seen.filter((r) => r.url.startsWith('/api'))).toHaveLength(0);
  });
});
