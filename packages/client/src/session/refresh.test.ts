import { LatchkeyError } from '@latchkey/core';
import { bodyDigest, generateP256KeyPair, toHex } from '@latchkey/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { signedInClient, testClient } from '../../test-support/clients.js';
import { STORAGE_KEY, startServer, type TestServer, type TestServerOptions } from '../../test-support/server.js';
import { type ClientEvent, LatchkeyClientError, MemoryStorage } from '../index.js';

const KEY_TTL_MS = 900_000;

/**
 * An app's resource routes on the same listener, authenticated the way an app behind Latchkey does it:
 * the session by the engine, then the stamp by the engine over the body bytes as received. The engine
 * never revives a session past its expiry (refresh answers SESSION_EXPIRED too), so a SESSION_EXPIRED
 * that a refresh cures comes from an app's own stricter rule: this app wants tokens rotated at least
 * every 10 minutes, and answers like Latchkey does.
 */
function addOrdersRoutes(app: FastifyInstance, server: Pick<TestServer, 'latchkey' | 'clock'>): void {
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = request.headers.authorization?.replace(/^Bearer /, '') ?? '';
    const refuse = (failure: LatchkeyError) => reply.code(failure.status).send({ error: failure.toJSON() });
    const result = await server.latchkey.validateSession(token);
    if (!result.valid) return refuse(new LatchkeyError(result.code));
    if (result.session.refreshGeneration === 0 && server.clock.now() - result.session.createdAt > 600_000) {
      return refuse(new LatchkeyError('SESSION_EXPIRED'));
    }
    const body = request.body instanceof Buffer ? new Uint8Array(request.body) : null;
    const header = request.headers['latchkey-signature'];
    if (typeof header === 'string') {
      const stamp = await server.latchkey.sessionKeys.verifyStamp({
        sessionId: result.session.id,
        method: request.method,
        path: request.url,
        bodyDigest: bodyDigest(body),
        header,
      });
      if (!stamp.valid) return refuse(new LatchkeyError(stamp.code));
    }
    return { orders: [], received: body === null ? null : new TextDecoder().decode(body) };
  };
  app.get('/api/orders', handler);
  app.post('/api/orders', handler);
}

describe('refresh and retry', () => {
  let server: TestServer;
  afterEach(async () => {
    await server?.close();
  });

  async function start(options: TestServerOptions = {}): Promise<TestServer> {
    server = await startServer({ ...options, beforeListen: (app, s) => addOrdersRoutes(app, s) });
    return server;
  }

  it('SESSION_KEY_EXPIRED (registered): a new key, then the request once more — exactly 4 requests', async () => {
    await start();
    const { client } = await signedInClient(server);
    const old = await client.createSessionKey({ scope: 'read-write' });
    server.clock.advance(KEY_TTL_MS + 1);
    const mark = server.seen.length;
    const response = await client.fetch('/v1/sessions');
    expect(response.status).toBe(200);
    expect(server.since(mark)).toEqual([
      'GET /v1/sessions',
      'POST /v1/session-keys/challenge',
      'POST /v1/session-keys',
      'GET /v1/sessions',
    ]);
    expect(server.seen.slice(mark).map((r) => r.status)).toEqual([401, 201, 201, 200]);
    const replaced = client.sessionKey();
    expect(replaced?.id).not.toBe(old.id);
    expect(replaced).toMatchObject({ mode: 'registered', scope: 'read-write' });
  });

  it('SESSION_KEY_EXPIRED (bundle) under requireStamps: the creation is stamped by the expired key — exactly 3 requests', async () => {
    await start({ settings: { sessionKeys: { requireStamps: true } } });
    const { client } = await signedInClient(server);
    await client.createSessionKey({ scope: 'read-write', mode: 'bundle' });
    server.clock.advance(KEY_TTL_MS + 1);
    const mark = server.seen.length;
    const response = await client.fetch('/v1/session', { method: 'GET' });
    expect(response.status).toBe(200);
    expect(server.seen.slice(mark).map((r) => [r.method, r.url, r.stamped, r.status])).toEqual([
      ['GET', '/v1/session', true, 401],
      ['POST', '/v1/session-keys', true, 201],
      ['GET', '/v1/session', true, 200],
    ]);
    expect(client.sessionKey()?.mode).toBe('bundle');
  });

  it('a body is buffered: the retry sends the same bytes, stamped again — exactly 3 requests', async () => {
    await start();
    const { client } = await signedInClient(server);
    await client.createSessionKey({ scope: 'read-write', mode: 'bundle', ttlSeconds: 300 });
    server.clock.advance(300_001);
    const mark = server.seen.length;
    // A one-shot stream: fetch itself could not send it twice.
    const text = JSON.stringify({ item: 'tea', quantity: 2 });
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text));
        controller.close();
      },
    });
    const response = await client.fetch('/api/orders?page=1', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { received: string }).received).toBe(text);
    expect(server.seen.slice(mark).map((r) => `${r.method} ${r.url} ${r.stamped} ${r.status}`)).toEqual([
      'POST /api/orders?page=1 true 401',
      'POST /v1/session-keys true 201',
      'POST /api/orders?page=1 true 200',
    ]);
  });

  it('a key replacement the server refuses: a typed error after exactly 2 requests, no retry; the next call tries once more', async () => {
    // One live key per session, and a live key made outside the client takes the slot once the client's lapses.
    await start({ settings: { sessionKeys: { maxLiveKeys: 1 } } });
    const { client, storage } = await signedInClient(server);
    await client.createSessionKey({ scope: 'read-write', mode: 'bundle', ttlSeconds: 60 });
    server.clock.advance(60_001);
    const { tokens } = (await storage.get(STORAGE_KEY)) as { tokens: { token: string } };
    const other = await fetch(`${server.baseUrl}/v1/session-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.token}` },
      body: JSON.stringify({ targetPublicKey: toHex(generateP256KeyPair().publicKey), scope: 'read-only', ttlSeconds: 3600 }),
    });
    expect(other.status).toBe(201);

    for (let attempt = 0; attempt < 2; attempt++) {
      const mark = server.seen.length;
      const error = await client.fetch('/v1/sessions').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LatchkeyClientError);
      expect((error as LatchkeyClientError).code).toBe('SESSION_KEY_LIMIT_REACHED');
      expect(server.seen.slice(mark).map((r) => `${r.method} ${r.url} ${r.status}`)).toEqual([
        'GET /v1/sessions 401',
        'POST /v1/session-keys 409',
      ]);
    }
    // The session itself is fine: the client stays signed in.
    expect(client.checkActiveUserSession()).toBe(true);
  });

  it('SESSION_EXPIRED: one refresh; when the server refuses it too, a typed error after exactly 2 requests, signed out', async () => {
    await start();
    const { client } = await signedInClient(server);
    const events: string[] = [];
    client.subscribe((e) => events.push(e.type));
    const session = await client.session();
    server.clock.set(session.idleExpiresAt + 1);
    const mark = server.seen.length;
    const error = await client.fetch('/v1/sessions').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LatchkeyClientError);
    expect((error as LatchkeyClientError).code).toBe('SESSION_EXPIRED');
    expect(server.since(mark)).toEqual(['GET /v1/sessions', 'POST /v1/session/refresh']);
    expect(server.seen.slice(mark).map((r) => r.status)).toEqual([401, 401]);
    expect(events).toEqual(['signed-out']);
    expect(client.checkActiveUserSession()).toBe(false);
    // Nothing more goes out: the client knows it has no session.
    await expect(client.fetch('/v1/sessions')).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' });
    expect(await client.validateUserSession()).toBeNull();
    expect(server.seen.length).toBe(mark + 2);
  });

  it('SESSION_EXPIRED from an app rule: refresh, new key (the live old one revoked), the request once more — exactly 6 requests', async () => {
    await start();
    const { client } = await signedInClient(server);
    const old = await client.createSessionKey({ scope: 'read-write', ttlSeconds: 3600 });
    server.clock.advance(600_001);
    const mark = server.seen.length;
    const response = await client.fetch('/api/orders');
    expect(response.status).toBe(200);
    expect(server.since(mark)).toEqual([
      'GET /api/orders',
      'POST /v1/session/refresh',
      'POST /v1/session-keys/challenge',
      'POST /v1/session-keys',
      // The replaced key was still live: it is revoked, so a copy of it is worth nothing.
      `DELETE /v1/session-keys/${old.id}`,
      'GET /api/orders',
    ]);
    expect(client.sessionKey()?.id).not.toBe(old.id);
    expect((await client.session()).refreshGeneration).toBe(1);
  });

  it('concurrent requests on an expired key share one replacement (single flight)', async () => {
    await start();
    const { client } = await signedInClient(server);
    await client.createSessionKey({ scope: 'read-write' });
    server.clock.advance(KEY_TTL_MS + 1);
    const mark = server.seen.length;
    const answers = await Promise.all([client.fetch('/v1/sessions'), client.fetch('/v1/session'), client.fetch('/v1/sessions')]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    const seen = server.since(mark);
    expect(seen.filter((r) => r === 'POST /v1/session-keys/challenge')).toHaveLength(1);
    expect(seen.filter((r) => r === 'POST /v1/session-keys')).toHaveLength(1);
    expect(seen.filter((r) => r.startsWith('GET'))).toHaveLength(6);
    expect(seen).toHaveLength(8);
  });

  it('concurrent SESSION_EXPIRED answers share one refresh, and a failed refresh is one attempt for all', async () => {
    await start();
    const { client } = await signedInClient(server);
    server.clock.advance(600_001);
    let mark = server.seen.length;
    const answers = await Promise.all([1, 2, 3].map(() => client.fetch('/api/orders')));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(server.since(mark).filter((r) => r === 'POST /v1/session/refresh')).toHaveLength(1);
    expect(server.since(mark)).toHaveLength(7);

    const session = await client.session();
    server.clock.set(session.absoluteExpiresAt + 1);
    mark = server.seen.length;
    const failures = await Promise.all([1, 2, 3].map(() => client.fetch('/api/orders').catch((e: unknown) => e)));
    expect(failures.map((e) => (e as LatchkeyClientError).code)).toEqual([
      'SESSION_EXPIRED',
      'SESSION_EXPIRED',
      'SESSION_EXPIRED',
    ]);
    expect(server.since(mark).filter((r) => r === 'POST /v1/session/refresh')).toHaveLength(1);
    expect(server.since(mark)).toHaveLength(4);
  });

  it('another tab refreshed: the stale token is answered TOKEN_INVALID, the client picks up the new one — 2 requests', async () => {
    await start();
    const storage = new MemoryStorage();
    const tabA = (await signedInClient(server, { storage })).client;
    const tabB = testClient(server, { storage }).client;
    await tabB.ready();
    server.clock.advance(600_001);
    await tabA.fetch('/api/orders'); // tab A refreshes (rotating both tokens) and writes the storage
    const mark = server.seen.length;
    const response = await tabB.fetch('/v1/session');
    expect(response.status).toBe(200);
    expect(server.since(mark)).toEqual(['GET /v1/session', 'GET /v1/session']);
    expect(server.seen.slice(mark).map((r) => r.status)).toEqual([401, 200]);
  });

  it('proactive: refreshIfDue replaces a key about to lapse (stamped by it) and the session before idle expiry', async () => {
    await start();
    const { client } = await signedInClient(server);
    const old = await client.createSessionKey({ scope: 'read-write', mode: 'bundle' });
    let mark = server.seen.length;
    await client.refreshIfDue();
    expect(server.since(mark)).toEqual([]);
    server.clock.set(old.expiresAt - 59_000);
    await client.refreshIfDue();
    expect(server.seen.slice(mark).map((r) => [r.method, r.url, r.stamped, r.status])).toEqual([
      ['POST', '/v1/session-keys', true, 201],
      ['DELETE', `/v1/session-keys/${old.id}`, true, 204],
    ]);
    const session = await client.session();
    server.clock.set(session.idleExpiresAt - 30_000);
    mark = server.seen.length;
    await client.refreshIfDue();
    // By then the new key has lapsed too, longer ago than the rotation grace (300 s): it can stamp no successor,
    // so the key is asked for without a stamp (this app does not require stamps); nothing left to revoke.
    expect(server.seen.slice(mark).map((r) => [r.method, r.url, r.stamped, r.status])).toEqual([
      ['POST', '/v1/session/refresh', false, 200],
      ['POST', '/v1/session-keys', true, 401],
      ['POST', '/v1/session-keys', false, 201],
    ]);
    expect((await client.session()).refreshGeneration).toBe(1);
  });

  it('the proactive timer: a client that loads a key about to lapse replaces it at once', async () => {
    await start();
    const storage = new MemoryStorage();
    const { client } = await signedInClient(server, { storage });
    const old = await client.createSessionKey({ scope: 'read-write', mode: 'bundle' });
    server.clock.set(old.expiresAt - 10_000);
    const later = testClient(server, { storage, autoRefresh: { leadSeconds: 60 } }).client;
    const created = new Promise<ClientEvent>((resolve) => later.subscribe((e) => e.type === 'session-key-created' && resolve(e)));
    const event = (await created) as Extract<ClientEvent, { type: 'session-key-created' }>;
    expect(event.sessionKey.id).not.toBe(old.id);
    later.close();
    expect((await later.sessionKeys()).map((k) => k.id)).toEqual([event.sessionKey.id]);
  });

  it('refreshUserSession: new tokens and a new key pair of the same mode and scope', async () => {
    await start();
    const { client } = await signedInClient(server);
    const old = await client.createSessionKey({ scope: 'read-only', mode: 'bundle' });
    const mark = server.seen.length;
    const session = await client.refreshUserSession();
    expect(session.refreshGeneration).toBe(1);
    // The replaced read-only key revokes itself: a read-only key may sign its own revocation.
    expect(server.seen.slice(mark).map((r) => `${r.method} ${r.url} ${r.status}`)).toEqual([
      'POST /v1/session/refresh 200',
      'POST /v1/session-keys 201',
      `DELETE /v1/session-keys/${old.id} 204`,
    ]);
    expect(client.sessionKey()).toMatchObject({ scope: 'read-only', mode: 'bundle' });
    expect(client.sessionKey()?.id).not.toBe(old.id);
  });
});
