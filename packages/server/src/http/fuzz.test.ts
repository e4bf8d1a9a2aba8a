import { ERROR_CODES, type ErrorCode, ManualClock, MemoryStore } from '@latchkey/core';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  OpenApiConformance,
  prng,
  signIn,
  siweMessage,
  siwsMessage,
  solanaWallet,
  startFixture,
  storeSnapshot,
  T0,
  WALLETS,
} from '../../test-support/http/index.js';
import { createApiKey } from '../index.js';
import type { RouteSpec } from './route.js';
import { ROUTES } from './server.js';

/** Replay a failure with `LATCHKEY_FUZZ_SEED=<seed>`. */
const SEED = Number(process.env.LATCHKEY_FUZZ_SEED ?? 4_2026);
const DEFECTIVE_REQUESTS = 2500;
const ANY_REQUESTS = 1000;

type Method = 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH' | 'OPTIONS' | 'HEAD';
type Request = { method: Method; url: string; headers: Record<string, string>; payload?: InjectOptions['payload'] };
type Defect =
  | 'query'
  | 'method'
  | 'path'
  | 'param'
  | 'json'
  | 'media'
  | 'big'
  | 'shape'
  | 'app'
  | 'auth'
  | 'message'
  | 'refresh-token'
  | 'csrf';

class Junk {
  readonly #random: () => number;
  constructor(seed: number) {
    this.#random = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.#random() * n);
  }
  chance(p: number): boolean {
    return this.#random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** Printable ASCII only: the transport itself refuses control characters in headers. */
  ascii(max: number): string {
    let s = '';
    for (let i = this.int(max + 1); i > 0; i -= 1) s += String.fromCharCode(0x20 + this.int(95));
    return s;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i += 1) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
  base58(n: number): string {
    let s = '';
    for (let i = 0; i < n; i += 1) s += '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'[this.int(58)];
    return s;
  }
  string(): string {
    return this.pick([
      () => '',
      () => ' ',
      () => this.ascii(40),
      () => 'a'.repeat(this.int(20_000)),
      () => '\u0000\u202e\u{1F600}\uFFFF',
      () => '../../etc/passwd',
      () => `lks_${this.hex(32)}.${this.base58(44)}`,
      () => `lkr_${this.hex(this.int(40))}.${this.ascii(50)}`,
      () => `lka_${this.hex(16)}.${this.base58(44)}`,
      () => `0x${this.hex(this.int(200))}`,
      () => String(this.int(1e9)),
      () => 'null',
      () => '<script>alert(1)</script>',
      () => "' OR 1=1 --",
    ])();
  }
  json(depth = 0): unknown {
    const kind = this.int(depth > 3 ? 5 : 8);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -0, 1.5, -1, 1e308, Number.MAX_SAFE_INTEGER + 2, this.int(1e6)]);
      case 3:
      case 4:
        return this.string();
      case 5:
        return Array.from({ length: this.int(5) }, () => this.json(depth + 1));
      default: {
        const keys = [
          'message',
          'signature',
          'mode',
          'scope',
          'deviceId',
          'refreshToken',
          'token',
          'constructor',
          'x',
          this.ascii(8),
        ];
        const o: Record<string, unknown> = {};
        for (let i = this.int(5); i > 0; i -= 1) o[this.pick(keys)] = this.json(depth + 1);
        return o;
      }
    }
  }
  /** A JSON body no route's schema accepts: unknown keys, wrong types, or no object at all. */
  badBody(): unknown {
    return this.pick([
      () => ({ [`unexpected${this.int(99)}`]: this.json(2), ...(this.chance(0.5) ? { message: this.string() } : {}) }),
      () => ({ message: this.int(5), signature: [] }),
      () => ({ token: null }),
      () => ({ refreshToken: { $ne: '' } }),
      () => ({ mode: 'session', message: 'x', signature: 'y' }),
      () => [this.json(1)],
      () => this.pick([null, 0, 'text', true, -1]),
      () => JSON.parse('{"__proto__": {"isAdmin": true}, "x": 1}'),
    ])();
  }
  query(): string {
    return this.pick([
      () => `${encodeURIComponent(this.ascii(10) || 'k')}=${encodeURIComponent(this.string().slice(0, 300))}`,
      () => 'a=1&a=2',
      () => 'keep=current&keep=current',
      () => 'wallet[]=x',
      () => `${this.ascii(3).replace(/[^a-z]/g, 'q') || 'q'}`,
      () => 'limit=-1&since=abc',
      () => 'app=default&unexpected=1',
    ])();
  }
  path(): string {
    return this.pick([
      () => `/v2/${this.hex(8)}`,
      () => `/v1/${this.hex(6)}/${this.hex(6)}`,
      () => '/v1/session/x/y',
      () => '/v1/admin',
      () => `/v1/sessions/${this.hex(32)}/extra`,
      () => `/${encodeURIComponent(this.string().slice(0, 200))}x/y/z`,
      () => '/.well-known/other.json',
      () => '/v1/sessions/%zz',
      () => `/v1/sessions/${'a'.repeat(300)}`,
      () => '/%2e%2e/%2e%2e/etc/passwd',
    ])();
  }
  header(): string {
    return this.ascii(this.pick([10, 60, 300]));
  }
}

/** Which defects a request to this route can carry; each one alone makes the server refuse it. */
function defectsFor(route: RouteSpec): Defect[] {
  const out: Defect[] = ['query', 'method', 'path'];
  if (route.params) out.push('param');
  if (route.method !== 'GET') out.push('json', 'media', 'big', 'shape');
  if (route.app === 'header' || route.app === 'header-or-query') out.push('app');
  if (route.access !== 'public') out.push('auth');
  if (route.path === '/v1/auth/siwe' || route.path === '/v1/auth/siws') out.push('message');
  if (route.path === '/v1/session/refresh') out.push('refresh-token');
  if (route.access === 'session' && route.method !== 'GET') out.push('csrf');
  return out;
}

const ALL_METHODS: Method[] = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'];

describe('requests nobody should send', () => {
  it(`never answer 500, always in the documented error format, and change nothing stored (seed ${SEED})`, async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const f = await startFixture({
      store,
      clock,
      defaults: { accessTokens: { audience: 'api.example.com' } },
      apps: { shop: {} },
    });
    const junk = new Junk(SEED);
    const solana = solanaWallet();
    // Something stored for the requests to disturb: sessions, an API key, keys, audit, counters.
    const issued = [(await signIn(f, WALLETS[0]!)).issued, (await signIn(f, WALLETS[1]!)).issued];
    const key = (await createApiKey(store, 'default', 'fuzz')).key;
    const wrongKey = `${key.slice(0, key.indexOf('.') + 1)}${junk.base58(44)}`;
    const doc = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const conformance = new OpenApiConformance(doc);
    const snapshotOptions = { apps: ['default', 'shop'], wallets: issued.map((i) => i.session.account), now: clock.now() };
    const before = await storeSnapshot(store, snapshotOptions);

    const base = (route: RouteSpec): Request => {
      const url = route.path
        .replace('{id}', junk.hex(32))
        .replace('{account}', encodeURIComponent(junk.pick(issued).session.account))
        .concat(route.path === '/v1/admin/sessions' ? `?wallet=${encodeURIComponent(issued[0]!.session.account)}` : '');
      const headers: Record<string, string> = {};
      const appHeader = junk.pick(['default', 'shop', undefined]);
      if (appHeader && route.app !== 'none') headers['latchkey-app'] = appHeader;
      for (const name of ['user-agent', 'x-request-id', 'accept', 'x-forwarded-for', 'sec-fetch-site']) {
        if (junk.chance(0.2)) headers[name] = junk.header();
      }
      if (junk.chance(0.3)) headers.origin = junk.pick(['https://app.example.com', 'null', junk.header()]);
      if (junk.chance(0.3))
        headers.cookie = `__Host-latchkey-session-default=${junk.string().slice(0, 200).replace(/[;\s]/g, '')}`;
      if (route.access === 'session' && junk.chance(0.7)) headers.authorization = `Bearer lks_${junk.hex(32)}.${junk.base58(44)}`;
      if (route.access === 'api-key' && junk.chance(0.7))
        headers.authorization = `Bearer ${junk.pick([wrongKey, junk.string()])}`;
      let payload: unknown;
      if (route.path === '/v1/auth/siwe') {
        payload = { message: siweMessage(WALLETS[2]!.address, junk.base58(22), clock), signature: `0x${junk.hex(130)}` };
      } else if (route.path === '/v1/auth/siws') {
        payload = { message: siwsMessage(solana.address, junk.base58(22), clock), signature: junk.base58(88) };
      } else if (route.path === '/v1/session/refresh') {
        payload = { refreshToken: `lkr_${junk.hex(32)}.${junk.base58(44)}` };
      } else if (route.path === '/v1/sessions/introspect') {
        payload = { token: junk.string().slice(0, 100) || 'x' };
      }
      return { method: route.method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) };
    };

    const apply = (route: RouteSpec, request: Request, defect: Defect): void => {
      switch (defect) {
        case 'query':
          request.url += `${request.url.includes('?') ? '&' : '?'}${junk.query()}&zz${junk.int(1000)}=1`;
          break;
        case 'method': {
          const allowed = ROUTES.filter((r) => r.path === route.path).map((r) => r.method as Method);
          request.method = junk.pick(
            ALL_METHODS.filter((m) => !allowed.includes(m) && !(m === 'HEAD' && allowed.includes('GET'))),
          );
          break;
        }
        case 'path':
          request.url = junk.path();
          request.method = junk.pick(ALL_METHODS);
          break;
        case 'param':
          request.url = route.path
            .replace('{id}', junk.pick(['x', junk.hex(31), junk.hex(33).toUpperCase(), encodeURIComponent(junk.string() || 'y')]))
            .replace('{account}', 'x'.repeat(201));
          break;
        case 'json':
          request.headers['content-type'] = 'application/json';
          request.payload = junk.pick(['{', '{"a":', '[1,', 'nul', '{"message": "lks_abc', '\u0000', '{}{}', '{"a":1,}']);
          break;
        case 'media':
          request.headers['content-type'] = junk.pick([
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/xml',
            'application/octet-stream',
            'text/html; charset=utf-7',
          ]);
          request.payload = junk.ascii(100) || 'x';
          break;
        case 'big':
          request.payload = { message: 'x'.repeat(64 * 1024 + 1 + junk.int(10_000)), signature: 'y' };
          break;
        case 'shape':
          request.headers['content-type'] = 'application/json';
          request.payload = JSON.stringify(junk.badBody());
          break;
        case 'app':
          request.headers['latchkey-app'] = junk.pick([
            'UPPER',
            '_system',
            'a'.repeat(65),
            'no such app',
            'nosuchapp',
            junk.header(),
            'default, shop',
          ]);
          if (route.app === 'header-or-query') request.url = `${request.url.split('?')[0]}?app=nosuchapp`;
          break;
        case 'auth':
          request.headers.authorization = junk.pick([
            '',
            'Bearer',
            'Bearer ',
            'Basic dXNlcjpwYXNz',
            `Bearer ${junk.header()}`,
            `Bearer lks_${junk.hex(32)}.${junk.base58(44)}`,
            `Bearer ${wrongKey}`,
            `bearer  lka_${junk.hex(16)}.${junk.base58(44)}`,
            `Bearer ${junk.pick(issued).refreshToken}`,
          ]);
          if (request.headers.authorization === '' || junk.chance(0.2)) delete request.headers.authorization;
          delete request.headers.cookie;
          break;
        case 'message':
          request.payload = {
            message: junk.pick([junk.ascii(500) || 'x', `${junk.ascii(30)} wants you to sign in`]),
            signature: '0x00',
          };
          break;
        case 'refresh-token':
          request.payload = {
            refreshToken: junk.pick([junk.ascii(40) || 'x', `lkr_${junk.hex(31)}.x`, junk.pick(issued).token]),
          };
          break;
        case 'csrf':
          delete request.headers.authorization;
          request.headers.cookie = `__Host-latchkey-session-${request.headers['latchkey-app'] ?? 'default'}=${junk.base58(20)}`;
          request.headers.origin = junk.pick(['https://evil.example', 'null', 'https://app.example.com.evil.example']);
          delete request.headers['sec-fetch-site'];
          break;
      }
    };

    const send = async (request: Request): Promise<LightMyRequestResponse> => {
      const response = await f.app.inject(request);
      const where = `${request.method} ${request.url.slice(0, 120)}`;
      expect(response.statusCode, `${where}: ${response.body.slice(0, 200)}`).toBeLessThan(500);
      if (response.statusCode >= 400 && request.method !== 'HEAD') {
        const body = response.json() as { error: { code: ErrorCode; message: string } };
        expect(ERROR_CODES[body.error.code]?.status, `${where}: ${response.body.slice(0, 200)}`).toBe(response.statusCode);
      }
      if (conformance.operation(request.method, request.url)) conformance.check(request.method, request.url, response);
      return response;
    };

    const statuses = new Map<number, number>();
    for (let i = 0; i < DEFECTIVE_REQUESTS; i += 1) {
      const route = junk.pick(ROUTES);
      const request = base(route);
      const defects = defectsFor(route);
      for (let n = 1 + junk.int(2); n > 0; n -= 1) apply(route, request, junk.pick(defects));
      const response = await send(request);
      expect(
        response.statusCode,
        `${request.method} ${request.url.slice(0, 120)}: ${response.body.slice(0, 200)}`,
      ).toBeGreaterThanOrEqual(400);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
    }
    // Every kind of refusal came up.
    expect([...statuses.keys()].sort()).toEqual([400, 401, 403, 404, 405, 413, 415]);

    const after = await storeSnapshot(store, snapshotOptions);
    // The one thing that may move: the engine counts failed validations of well-formed tokens naming no
    // session (counted, never audited), which is monitoring, not state.
    const withoutValidationCounter = (s: Record<string, unknown>) =>
      JSON.parse(JSON.stringify(s), (k, v) => (k === 'validationFailed' ? undefined : v));
    expect(withoutValidationCounter(after)).toEqual(withoutValidationCounter(before));

    // Then anything at all, some of it valid: still never a 500, still as documented, no session touched.
    for (let i = 0; i < ANY_REQUESTS; i += 1) {
      const route = junk.pick(ROUTES);
      const request = base(route);
      const defects = defectsFor(route);
      for (let n = junk.int(3); n > 0; n -= 1) apply(route, request, junk.pick(defects));
      if (junk.chance(0.1)) request.payload = JSON.stringify(junk.json());
      await send(request);
    }
    const finally_ = (await storeSnapshot(store, snapshotOptions)) as Record<string, { sessions: unknown }>;
    expect(finally_.default!.sessions).toEqual((before as Record<string, { sessions: unknown }>).default!.sessions);
    await f.app.close();
  });
});
