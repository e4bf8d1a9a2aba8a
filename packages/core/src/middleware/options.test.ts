import { afterAll, describe, expect, it } from 'vitest';
import { isLatchkeyError } from '../errors/index.js';
import { Latchkey } from '../session/engine.js';
import { MemoryStore } from '../store/memory.js';
import { resolveOptions, type WalletAuthenticationOptions } from './options.js';

const engine = new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0, apps: { shop: {} } });
afterAll(() => engine.close());

const KEY = 'lka_0123456789abcdef.3yZe7d';
const JWKS = { keys: [] };
const ORIGIN = 'https://app.example.com';

function refusal(options: unknown): string {
  try {
    resolveOptions(options as WalletAuthenticationOptions);
  } catch (error) {
    if (isLatchkeyError(error, 'CONFIG_INVALID')) return error.message;
    throw error;
  }
  throw new Error('options were accepted');
}

describe('middleware options', () => {
  it.each([
    ['nothing', undefined, /exactly one of engine, remote, jwt/],
    ['no mode', {}, /exactly one of engine, remote, jwt is required \(got none\)/],
    ['two modes', { engine, jwt: { jwks: JWKS, issuer: 'i', audience: 'a' } }, /got engine, jwt/],
    ['not an engine', { engine: {} }, /^engine: expected a Latchkey instance/],
    ['unknown app', { engine, appId: 'nope' }, /^appId: the engine has no app "nope"/],
    ['bad app id', { engine, appId: 'Bad App' }, /^appId: expected an app id/],
    [
      'appId with remote',
      { remote: { url: 'http://127.0.0.1:1', apiKey: KEY }, appId: 'shop' },
      /^options.appId: unknown option/,
    ],
    ['unknown option', { engine, cacheSeconds: 5 }, /^options.cacheSeconds: unknown option/],
    ['remote without url', { remote: { apiKey: KEY } }, /^remote.url: expected a non-empty string/],
    ['remote ftp url', { remote: { url: 'ftp://x', apiKey: KEY } }, /^remote.url: expected an http\(s\) URL/],
    ['remote url with credentials', { remote: { url: 'https://u:p@x', apiKey: KEY } }, /^remote.url: expected a URL without/],
    ['remote key not an API key', { remote: { url: 'https://x', apiKey: 'secret' } }, /^remote.apiKey: expected an app API key/],
    [
      'remote cache too long',
      { remote: { url: 'https://x', apiKey: KEY, cacheSeconds: 31 } },
      /^remote.cacheSeconds: .* 0 to 30/,
    ],
    ['remote cache negative', { remote: { url: 'https://x', apiKey: KEY, cacheSeconds: -1 } }, /^remote.cacheSeconds/],
    ['remote cache not a number', { remote: { url: 'https://x', apiKey: KEY, cacheSeconds: '5' } }, /^remote.cacheSeconds/],
    ['remote unknown option', { remote: { url: 'https://x', apiKey: KEY, ttl: 5 } }, /^remote.ttl: unknown option/],
    ['remote cache entries', { remote: { url: 'https://x', apiKey: KEY, maxCacheEntries: 0 } }, /^remote.maxCacheEntries/],
    [
      'jwt with both key sources',
      { jwt: { jwks: JWKS, jwksUrl: 'https://x/jwks', issuer: 'i', audience: 'a' } },
      /exactly one of jwks, jwksUrl/,
    ],
    ['jwt with no key source', { jwt: { issuer: 'i', audience: 'a' } }, /exactly one of jwks, jwksUrl/],
    ['jwt without audience', { jwt: { jwksUrl: 'https://x/jwks', issuer: 'i' } }, /^jwt.audience: expected a non-empty string/],
    ['jwt jwks not a set', { jwt: { jwks: [], issuer: 'i', audience: 'a' } }, /^jwt.jwks: expected a JWKS document/],
    ['jwt bad roles', { jwt: { jwksUrl: 'https://x/j', issuer: 'i', audience: 'a', roles: { r: 'write:x' } } }, /^jwt.roles/],
    ['bad cookie name', { engine, cookieName: 'a b' }, /^cookieName: expected a cookie name/],
    // Review item 6: a cookie credential needs an Origin allow-list (CSRF), so cookie reading is opt-in with one.
    ['a cookie without allowedOrigins', { engine, cookieName: 'sid' }, /^allowedOrigins: required with cookieName/],
    ['a cookie with no origin', { engine, cookieName: 'sid', allowedOrigins: [] }, /^allowedOrigins: expected at least one/],
    ['allowedOrigins not a list', { engine, cookieName: 'sid', allowedOrigins: ORIGIN }, /^allowedOrigins: expected a list/],
    ['an origin with a path', { engine, cookieName: 'sid', allowedOrigins: [`${ORIGIN}/`] }, /^allowedOrigins\[0\]: expected/],
    ['a wildcard origin', { engine, cookieName: 'sid', allowedOrigins: [ORIGIN, '*'] }, /^allowedOrigins\[1\]: expected/],
    ['the null origin', { engine, cookieName: 'sid', allowedOrigins: ['null'] }, /^allowedOrigins\[0\]: expected/],
    [
      'an origin not in its canonical form',
      { engine, cookieName: 'sid', allowedOrigins: ['https://App.example.com:443'] },
      /^allowedOrigins\[0\]: .*"https:\/\/app\.example\.com"/,
    ],
    ['allowedOrigins without a cookie', { engine, allowedOrigins: [ORIGIN] }, /^allowedOrigins: only with cookieName/],
    ['allowedOrigins with no cookie', { engine, cookieName: null, allowedOrigins: [ORIGIN] }, /^allowedOrigins: only with/],
    // Review nit 7: plain http:// would send the API key in clear, unless to this machine.
    ['remote http to a public host', { remote: { url: 'http://auth.example.com', apiKey: KEY } }, /^remote.url: .*in clear/],
    ['remote http to a private address', { remote: { url: 'http://10.0.0.5:8080', apiKey: KEY } }, /^remote.url: .*in clear/],
    ['remote http to a localhost lookalike', { remote: { url: 'http://localhost.example.com', apiKey: KEY } }, /in clear/],
    ['remote http to a loopback lookalike', { remote: { url: 'http://127.0.0.1.nip.io', apiKey: KEY } }, /in clear/],
    ['remote http to an IPv6 host', { remote: { url: 'http://[::2]', apiKey: KEY } }, /^remote.url: .*in clear/],
    [
      'remote allowInsecureHttp not a boolean',
      { remote: { url: 'http://auth.internal', apiKey: KEY, allowInsecureHttp: 'yes' } },
      /^remote.allowInsecureHttp: expected true or false/,
    ],
    // Review nit 5: how long a JWKS that cannot be refreshed is still trusted.
    [
      'jwt negative staleness',
      { jwt: { jwksUrl: 'https://x/j', issuer: 'i', audience: 'a', jwksMaxStaleSeconds: -1 } },
      /^jwt.jwksMaxStaleSeconds: .* 0 to 86400/,
    ],
    ['bad clock', { engine, clock: {} }, /^clock: expected/],
    ['an unknown stamp requirement', { engine, stamps: 'always' }, /^stamps: expected 'optional' or 'required'/],
    [
      'stamps required in JWT mode (no key store to check them against)',
      { jwt: { jwks: JWKS, issuer: 'i', audience: 'a' }, stamps: 'required' },
      /^stamps: 'required' is not available in JWT mode/,
    ],
    [
      'basePath with remote, badly formed',
      { remote: { url: 'https://x', apiKey: KEY }, basePath: 'api' },
      /^basePath: '' or a path that starts with \//,
    ],
    [
      'a basePath in JWT mode (no stamps to verify)',
      { jwt: { jwks: JWKS, issuer: 'i', audience: 'a' }, basePath: '/latchkey' },
      /^basePath: .*JWT mode/,
    ],
  ])('refuses %s', (_name, options, message) => {
    expect(refusal(options)).toMatch(message);
  });

  it('refuses a basePath that is not a path prefix', () => {
    for (const basePath of ['latchkey', '/latchkey/', '/', '/a?b', '/a#b', '/a b', 5, null]) {
      expect(refusal({ engine, basePath }), String(basePath)).toMatch(/^basePath: '' or a path that starts with \//);
    }
  });

  it('fills in defaults and freezes', () => {
    const remote = resolveOptions({ remote: { url: 'https://auth.example.com/base/', apiKey: KEY } });
    expect(remote).toMatchObject({
      mode: 'remote',
      introspectUrl: 'https://auth.example.com/base/v1/sessions/introspect',
      cacheMs: 5000,
      timeoutMs: 2000,
      maxCacheEntries: 10_000,
      cookieName: null,
      allowedOrigins: [],
    });
    expect(Object.isFrozen(remote)).toBe(true);
    expect(resolveOptions({ engine })).toMatchObject({ mode: 'engine', appId: 'default', cookieName: null, stamps: 'optional' });
    expect(resolveOptions({ engine, stamps: 'required' })).toMatchObject({ stamps: 'required' });
    expect(resolveOptions({ engine })).toMatchObject({ basePath: '' });
    for (const basePath of ['', '/latchkey', '/a/b-c_d.e~f%20']) {
      expect(resolveOptions({ engine, basePath })).toMatchObject({ basePath });
      expect(resolveOptions({ remote: { url: 'https://x', apiKey: KEY }, basePath })).toMatchObject({ basePath });
    }
    expect(resolveOptions({ jwt: { jwks: JWKS, issuer: 'i', audience: 'a' }, basePath: '' })).toMatchObject({ basePath: '' });
    expect(resolveOptions({ remote: { url: 'https://x', apiKey: KEY }, stamps: 'required' })).toMatchObject({
      stamps: 'required',
    });
    expect(resolveOptions({ engine, appId: 'shop', cookieName: null })).toMatchObject({ appId: 'shop', cookieName: null });
    expect(resolveOptions({ engine, appId: 'shop' })).toMatchObject({ cookieName: null });
    const withCookie = resolveOptions({
      engine,
      cookieName: 'latchkey-session-default',
      allowedOrigins: [ORIGIN, 'http://localhost:5173'],
    });
    expect(withCookie).toMatchObject({
      cookieName: 'latchkey-session-default',
      allowedOrigins: [ORIGIN, 'http://localhost:5173'],
    });
    expect(Object.isFrozen(withCookie.allowedOrigins)).toBe(true);
    expect(resolveOptions({ jwt: { jwksUrl: 'https://x/jwks', issuer: 'i', audience: 'a' } })).toMatchObject({
      mode: 'jwt',
      roles: {},
      clockSkewSeconds: 30,
      jwksCacheMs: 300_000,
      jwksCooldownMs: 30_000,
      jwksMaxStaleMs: 600_000,
      cookieName: null,
    });
    expect(
      resolveOptions({ jwt: { jwksUrl: 'https://x/jwks', issuer: 'i', audience: 'a', jwksMaxStaleSeconds: 0 } }),
    ).toMatchObject({ jwksMaxStaleMs: 0 });
    expect(resolveOptions({ remote: { url: 'http://127.0.0.1:1', apiKey: KEY, cacheSeconds: 0 } })).toMatchObject({ cacheMs: 0 });
  });

  it.each([
    'http://127.0.0.1:4000',
    'http://127.5.6.7',
    'http://localhost:4000',
    'http://LOCALHOST',
    'http://[::1]:4000',
    'https://auth.example.com',
  ])('accepts the remote URL %s', (url) => {
    expect(resolveOptions({ remote: { url, apiKey: KEY } })).toMatchObject({ mode: 'remote' });
  });

  it('accepts http:// to another host only with allowInsecureHttp: true', () => {
    expect(resolveOptions({ remote: { url: 'http://auth.internal:8080', apiKey: KEY, allowInsecureHttp: true } })).toMatchObject({
      introspectUrl: 'http://auth.internal:8080/v1/sessions/introspect',
    });
    expect(refusal({ remote: { url: 'http://auth.internal:8080', apiKey: KEY, allowInsecureHttp: false } })).toMatch(/in clear/);
  });
});
