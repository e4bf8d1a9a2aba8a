import { afterAll, describe, expect, it } from 'vitest';
import { isLatchkeyError } from '../errors/index.js';
import { Latchkey } from '../session/engine.js';
import { MemoryStore } from '../store/memory.js';
import { resolveOptions, type WalletAuthenticationOptions } from './options.js';

const engine = new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0, apps: { shop: {} } });
afterAll(() => engine.close());

const KEY = 'lka_0123456789abcdef.3yZe7d';
const JWKS = { keys: [] };

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
    ['bad clock', { engine, clock: {} }, /^clock: expected/],
  ])('refuses %s', (_name, options, message) => {
    expect(refusal(options)).toMatch(message);
  });

  it('fills in defaults and freezes', () => {
    const remote = resolveOptions({ remote: { url: 'https://auth.example.com/base/', apiKey: KEY } });
    expect(remote).toMatchObject({
      mode: 'remote',
      introspectUrl: 'https://auth.example.com/base/v1/sessions/introspect',
      cacheMs: 5000,
      timeoutMs: 2000,
      maxCacheEntries: 10_000,
      cookieName: '__Host-latchkey-session-default',
    });
    expect(Object.isFrozen(remote)).toBe(true);
    expect(resolveOptions({ engine })).toMatchObject({ mode: 'engine', appId: 'default' });
    expect(resolveOptions({ engine, appId: 'shop', cookieName: null })).toMatchObject({ appId: 'shop', cookieName: null });
    expect(resolveOptions({ engine, appId: 'shop' })).toMatchObject({ cookieName: '__Host-latchkey-session-shop' });
    expect(resolveOptions({ engine, cookieName: 'latchkey-session-default' })).toMatchObject({
      cookieName: 'latchkey-session-default',
    });
    expect(resolveOptions({ jwt: { jwksUrl: 'https://x/jwks', issuer: 'i', audience: 'a' } })).toMatchObject({
      mode: 'jwt',
      roles: {},
      clockSkewSeconds: 30,
      jwksCacheMs: 300_000,
      jwksCooldownMs: 30_000,
    });
    expect(resolveOptions({ remote: { url: 'http://127.0.0.1:1', apiKey: KEY, cacheSeconds: 0 } })).toMatchObject({ cacheMs: 0 });
  });
});
