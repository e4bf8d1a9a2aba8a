import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSessionKeyPair } from '../keys/webcrypto.js';
import { type Credential, errorOf, jsonRequest, send, stampedPath, toReplayable } from './request.js';

const base = new URL('https://auth.example.com/latchkey/');

describe('toReplayable', () => {
  it('buffers every kind of body into the bytes fetch would send, with the content type fetch would set', async () => {
    const form = new FormData();
    form.set('a', '1');
    const cases: [BodyInit, RegExp][] = [
      ['{"a":1}', /^text\/plain/],
      [new URLSearchParams({ a: '1', b: 'x y' }), /^application\/x-www-form-urlencoded/],
      [new Blob(['abc'], { type: 'application/x-test' }), /^application\/x-test$/],
      [form, /^multipart\/form-data; boundary=/],
      [new Uint8Array([1, 2, 3]), /^$/],
    ];
    for (const [body, type] of cases) {
      const request = await toReplayable('/api/x', { method: 'post', body }, base);
      const expected = new Uint8Array(await new Request('https://x.example', { method: 'POST', body }).arrayBuffer());
      expect(request.method).toBe('POST');
      expect(request.body?.length).toBe(expected.length);
      expect(request.headers.get('content-type') ?? '').toMatch(type);
      if (!(body instanceof FormData)) expect(request.body).toEqual(expected);
    }
  });

  it('keeps no body for GET and a request without one, and resolves relative URLs against the base', async () => {
    const get = await toReplayable('/v1/session?x=1', undefined, base);
    expect([get.method, get.body, get.url.href]).toEqual(['GET', null, 'https://auth.example.com/v1/session?x=1']);
    expect(stampedPath(get.url)).toBe('/v1/session?x=1');
    // The request line keeps a `?` with an empty query, and never a fragment: so does the stamp.
    expect(stampedPath(new URL('https://a.example/p?'))).toBe('/p?');
    expect(stampedPath(new URL('https://a.example/p%20q?b=%2F#frag'))).toBe('/p%20q?b=%2F');
    expect(stampedPath(new URL('https://a.example/p#'))).toBe('/p');
    expect(stampedPath((await toReplayable('/p?', undefined, base)).url)).toBe('/p');
    const del = await toReplayable(new URL('https://auth.example.com/v1/sessions'), { method: 'DELETE' }, base);
    expect(del.body).toBeNull();
  });

  it('takes a Request object as fetch does, and keeps the other init fields for the send', async () => {
    const controller = new AbortController();
    const request = await toReplayable(
      new Request('https://api.example.com/orders', { method: 'PUT', body: 'x', headers: { 'x-a': '1' } }),
      { signal: controller.signal, cache: 'no-store' },
      base,
    );
    expect([request.method, new TextDecoder().decode(request.body!), request.headers.get('x-a')]).toEqual(['PUT', 'x', '1']);
    expect(request.init).toEqual({ signal: controller.signal, cache: 'no-store' });
  });
});

describe('jsonRequest and errorOf', () => {
  it('puts API paths under the base URL path prefix', () => {
    expect(jsonRequest(base, 'GET', '/v1/session').url.href).toBe('https://auth.example.com/latchkey/v1/session');
    const post = jsonRequest(base, 'POST', '/v1/auth/siwe', { a: 1 });
    expect([post.headers.get('content-type'), new TextDecoder().decode(post.body!)]).toEqual(['application/json', '{"a":1}']);
  });

  it("passes the server's code, field and expiresAt through; anything else is RESPONSE_INVALID", async () => {
    const expired = await errorOf(
      new Response(JSON.stringify({ error: { code: 'SESSION_KEY_EXPIRED', message: 'Session key expired.', expiresAt: 5 } }), {
        status: 401,
      }),
    );
    expect([expired.code, expired.status, expired.message, expired.expiresAt]).toEqual([
      'SESSION_KEY_EXPIRED',
      401,
      'Session key expired.',
      5,
    ]);
    const field = await errorOf(
      new Response(JSON.stringify({ error: { code: 'VALIDATION_FAILED', field: 'body.scope' } }), { status: 400 }),
    );
    expect(field.field).toBe('body.scope');
    const html = await errorOf(new Response('<html>bad gateway</html>', { status: 502 }));
    expect([html.code, html.status]).toEqual(['RESPONSE_INVALID', 502]);
  });
});

describe('send and redirects', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  /** A listener on 127.0.0.1 that records what it got and answers with `answer`. */
  async function listen(answer: (url: string) => { status: number; location?: string }) {
    const got: { url: string; method: string; headers: IncomingHttpHeaders }[] = [];
    const server = createServer((request, response) => {
      got.push({ url: request.url ?? '', method: request.method ?? '', headers: request.headers });
      const { status, location } = answer(request.url ?? '');
      response.writeHead(status, location ? { location } : {});
      request.resume();
      request.on('end', () => response.end('ok'));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
  }

  async function credential(): Promise<Credential> {
    const pair = await generateSessionKeyPair({ extractable: false });
    return { token: 'lks_secret', key: { id: 'lksk_4Mz8Xq2VbT9kP1sW', privateKey: pair.privateKey } };
  }

  it('never lets fetch carry the credentials to another origin: redirect "error" unless the caller chose', async () => {
    const other = await listen(() => ({ status: 200 }));
    const api = await listen((url) =>
      url === '/same' ? { status: 307, location: '/landed' } : { status: 307, location: `${other.origin}/steal` },
    );
    const options = { fetch: globalThis.fetch, appId: 'shop', now: Date.now() };
    const post = (path: string, init: RequestInit = {}) => ({
      ...jsonRequest(new URL(`${api.origin}/`), 'POST', path, { a: 1 }),
      init,
    });

    // Default: a redirect is an error, and nothing reaches the other origin.
    await expect(send(post('/v1/x'), await credential(), options)).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
    expect(other.got).toHaveLength(0);

    // 'manual': the redirect comes back as the answer.
    const manual = await send(post('/v1/x', { redirect: 'manual' }), await credential(), options);
    expect([manual.status, manual.headers.get('location')]).toEqual([307, `${other.origin}/steal`]);
    expect(other.got).toHaveLength(0);

    // 'follow': followed, but the other origin gets no Authorization and no stamp.
    const followed = await send(post('/v1/x', { redirect: 'follow' }), await credential(), options);
    expect(followed.status).toBe(200);
    expect(other.got).toHaveLength(1);
    expect(other.got[0]!.method).toBe('POST');
    expect(other.got[0]!.headers.authorization).toBeUndefined();
    expect(other.got[0]!.headers['latchkey-signature']).toBeUndefined();

    // 'follow' within the origin keeps the credentials, with a stamp for the path it lands on.
    const same = await send(post('/same', { redirect: 'follow' }), await credential(), options);
    expect(same.status).toBe(200);
    const landed = api.got.at(-1)!;
    expect(landed.url).toBe('/landed');
    expect(landed.headers.authorization).toBe('Bearer lks_secret');
    expect(landed.headers['latchkey-signature']).toMatch(/keyId=lksk_4Mz8Xq2VbT9kP1sW/);
    expect(landed.headers['latchkey-signature']).not.toBe(api.got.at(-2)!.headers['latchkey-signature']);

    // Without credentials nothing changes: fetch follows as it always does.
    const anonymous = await send(jsonRequest(new URL(`${api.origin}/`), 'GET', '/v1/x'), null, options);
    expect(anonymous.status).toBe(200);
    expect(other.got.at(-1)!.method).toBe('GET');
  });
});
