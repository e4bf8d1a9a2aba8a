import { connect } from 'node:net';
import { Latchkey, MemoryStore } from '@latchkey/core';
import type { InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { signIn, startFixture, WALLETS } from '../../test-support/http/index.js';
import { createServer } from '../index.js';

describe('client mistakes', async () => {
  const f = await startFixture();
  const { issued } = await signIn(f, WALLETS[0]!);
  const auth = { authorization: `Bearer ${issued.token}` };

  it.each([
    ['an unknown route', { method: 'GET', url: '/v1/nothing' }, 404, 'ROUTE_NOT_FOUND'],
    ['a known path with another method', { method: 'PUT', url: '/v1/session' }, 405, 'METHOD_NOT_ALLOWED'],
    ['a URL that does not decode', { method: 'DELETE', url: '/v1/sessions/%E0%A4%A' }, 400, 'VALIDATION_FAILED'],
    ['an overlong path parameter', { method: 'DELETE', url: `/v1/sessions/${'a'.repeat(300)}` }, 400, 'VALIDATION_FAILED'],
    ['a bad path parameter', { method: 'DELETE', url: '/v1/sessions/xyz', headers: auth }, 400, 'VALIDATION_FAILED'],
    ['an unknown query parameter', { method: 'GET', url: '/v1/session?debug=1', headers: auth }, 400, 'VALIDATION_FAILED'],
    [
      'a repeated query parameter',
      { method: 'DELETE', url: '/v1/sessions?keep=current&keep=current', headers: auth },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'malformed JSON',
      { method: 'POST', url: '/v1/auth/nonce', headers: { 'content-type': 'application/json' }, payload: '{"a":' },
      400,
      'VALIDATION_JSON_MALFORMED',
    ],
    [
      'an empty JSON body',
      { method: 'POST', url: '/v1/auth/nonce', headers: { 'content-type': 'application/json' }, payload: '' },
      400,
      'VALIDATION_JSON_MALFORMED',
    ],
    [
      '__proto__ in JSON',
      {
        method: 'POST',
        url: '/v1/auth/nonce',
        headers: { 'content-type': 'application/json' },
        payload: '{"__proto__":{"x":1}}',
      },
      400,
      'VALIDATION_JSON_MALFORMED',
    ],
    [
      'a body that is not JSON',
      { method: 'POST', url: '/v1/auth/nonce', headers: { 'content-type': 'text/plain' }, payload: 'hi' },
      415,
      'VALIDATION_MEDIA_TYPE_UNSUPPORTED',
    ],
    [
      'a body over 64 KiB',
      { method: 'POST', url: '/v1/auth/siwe', payload: { message: 'x'.repeat(65 * 1024), signature: 'y' } },
      413,
      'VALIDATION_BODY_TOO_LARGE',
    ],
    ['an unknown body field', { method: 'POST', url: '/v1/auth/nonce', payload: { appId: 'default' } }, 400, 'VALIDATION_FAILED'],
    [
      'a body where none belongs',
      { method: 'DELETE', url: '/v1/session', headers: auth, payload: { all: true } },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'null where none belongs',
      { method: 'DELETE', url: '/v1/session', headers: { ...auth, 'content-type': 'application/json' }, payload: 'null' },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a client asking for roles',
      { method: 'POST', url: '/v1/auth/siwe', payload: { message: 'm', signature: 's', roles: ['admin'] } },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'two app headers',
      { method: 'POST', url: '/v1/auth/nonce', headers: { 'latchkey-app': 'default, shop' } },
      400,
      'VALIDATION_FAILED',
    ],
  ] as const)('%s', async (_, request, status, code) => {
    const response = await f.app.inject(request as InjectOptions);
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json().error.code).toBe(code);
  });

  it('names the field at fault and says what it wanted', async () => {
    const response = await f.app.inject({ method: 'POST', url: '/v1/auth/siwe', payload: { message: '', signature: 's' } });
    expect(response.json()).toEqual({
      error: { code: 'VALIDATION_FAILED', field: 'body.message', message: expect.stringMatching(/^body\.message: /) },
    });
    expect((await f.app.inject({ method: 'GET', url: '/v1/session?x=1', headers: auth })).json().error.field).toBe('query');
  });

  it('answers 405 with the methods the path has', async () => {
    const response = await f.app.inject({ method: 'PATCH', url: '/v1/sessions' });
    expect(response.headers.allow).toBe('GET, HEAD, DELETE');
  });

  it('takes {} where no body belongs, and marks session answers no-store', async () => {
    const response = await f.app.inject({ method: 'GET', url: '/v1/sessions', headers: auth });
    expect(response.headers['cache-control']).toBe('no-store');
    expect((await f.app.inject({ method: 'DELETE', url: '/v1/session', headers: auth, payload: {} })).statusCode).toBe(204);
  });

  it('marks every /v1 answer no-store, errors raised before the handler included', async () => {
    for (const request of [
      { method: 'POST', url: '/v1/auth/siwe', headers: { 'content-type': 'application/json' }, payload: '{"a":' },
      { method: 'POST', url: '/v1/auth/nonce', headers: { 'content-type': 'text/plain' }, payload: 'hi' },
      { method: 'POST', url: '/v1/auth/siwe', payload: { message: 'x'.repeat(65 * 1024), signature: 'y' } },
      { method: 'GET', url: '/v1/nothing' },
      { method: 'PUT', url: '/v1/session' },
      { method: 'DELETE', url: '/v1/sessions/%E0%A4%A' },
      { method: 'GET', url: '/v1/session' },
      { method: 'POST', url: '/v1/auth/nonce' },
    ] as const) {
      const response = await f.app.inject(request as InjectOptions);
      expect(response.headers['cache-control'], `${request.method} ${request.url} ${response.statusCode}`).toBe('no-store');
    }
    expect((await f.app.inject({ method: 'GET', url: '/healthz' })).headers['cache-control']).toBeUndefined();
  });

  it('answers bytes that are not HTTP with a JSON 400 on the socket', async () => {
    const g = await startFixture();
    await g.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = g.app.server.address() as { port: number };
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('VALIDATION_FAILED');
    await g.app.close();
  });
});

describe('createServer', () => {
  it('refuses bad options at once, naming the option', async () => {
    const store = new MemoryStore();
    const latchkey = new Latchkey({ store, cleanupIntervalSeconds: 0 });
    for (const [options, field] of [
      [{ store }, 'latchkey'],
      [{ latchkey, store: {} }, 'store'],
      [{ latchkey, store, rateLimits: { nonce: -1 } }, 'rateLimits.nonce'],
      [{ latchkey, store, rateLimits: { windowSeconds: 0 } }, 'rateLimits.windowSeconds'],
      [{ latchkey, store, cookies: { secure: 'yes' } }, 'cookies.secure'],
      [{ latchkey, store, logger: console }, 'logger'],
    ] as const) {
      await expect(createServer(options as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID', field });
    }
  });
});
