import { describe, expect, it } from 'vitest';
import { errorOf, jsonRequest, stampedPath, toReplayable } from './request.js';

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
