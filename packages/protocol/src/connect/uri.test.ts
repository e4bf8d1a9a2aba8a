import { describe, expect, it } from 'vitest';
import { ConnectError } from './errors.js';
import { generateConnectKeyPair } from './keys.js';
import { formatConnectUri, isChannelId, normalizeRelayUrl, parseConnectUri, randomChannelId, relaySocketTarget } from './uri.js';

const NOW = 1_767_225_000_000;
const uuid = '5f0c6a2e-8b1d-4c3a-9e7f-2a4b6c8d0e1f';
const { publicKey } = generateConnectKeyPair();
const good = formatConnectUri({ uuid, relay: 'https://auth.example.com', dappPublicKey: publicKey, expiresAt: NOW + 300_000 });

function refusal(uri: string, now = NOW): ConnectError {
  try {
    parseConnectUri(uri, { now });
  } catch (e) {
    if (e instanceof ConnectError) return e;
    throw e;
  }
  throw new Error('expected a ConnectError');
}

describe('connect URI', () => {
  it('round-trips and stays short enough for a QR code', () => {
    const parsed = parseConnectUri(good, { now: NOW });
    expect(parsed).toEqual({
      version: 1,
      uuid,
      relay: 'https://auth.example.com',
      dappPublicKey: publicKey,
      expiresAt: NOW + 300_000,
    });
    expect(good.length).toBeLessThan(200);
    expect(formatConnectUri(parsed)).toBe(good);
  });

  it('keeps a relay path and maps it to the socket.io target', () => {
    const uri = formatConnectUri({ uuid, relay: 'https://example.com/auth', dappPublicKey: publicKey, expiresAt: NOW + 1000 });
    expect(parseConnectUri(uri, { now: NOW }).relay).toBe('https://example.com/auth');
    expect(relaySocketTarget('https://example.com/auth')).toEqual({ url: 'https://example.com/connect', path: '/auth/v1/relay' });
    expect(relaySocketTarget('http://127.0.0.1:8080')).toEqual({ url: 'http://127.0.0.1:8080/connect', path: '/v1/relay' });
  });

  it('expires exactly at exp (now >= exp is expired)', () => {
    const exp = NOW + 300_000;
    expect(parseConnectUri(good, { now: exp - 1 }).expiresAt).toBe(exp);
    const e = refusal(good, exp);
    expect(e.code).toBe('CONNECT_URI_EXPIRED');
    expect(e.field).toBe('exp');
  });

  const replace = (name: string, value: string): string => good.replace(new RegExp(`([?&])${name}=[^&]*`), `$1${name}=${value}`);

  it.each([
    ['https://x.example/connect?v=1', 'uri'],
    [`${good}&v=1`, 'v'],
    [replace('v', '2'), 'v'],
    [good.replace('v=1&', ''), 'v'],
    [good.replace('&exp=', '&&exp='), 'uri'],
    [replace('id', uuid.toUpperCase()), 'id'],
    [replace('id', '5f0c6a2e-8b1d-1c3a-9e7f-2a4b6c8d0e1f'), 'id'],
    [replace('relay', encodeURIComponent('http://auth.example.com')), 'relay'],
    [replace('relay', encodeURIComponent('https://auth.example.com/')), 'relay'],
    [replace('relay', encodeURIComponent('https://user:pw@auth.example.com')), 'relay'],
    [replace('relay', encodeURIComponent('https://auth.example.com?x=1')), 'relay'],
    [replace('relay', '%E0%A4%A'), 'relay'],
    [replace('relay', encodeURIComponent('wss://auth.example.com')), 'relay'],
    [replace('pk', 'AAAA'), 'pk'],
    [replace('pk', `${'A'.repeat(42)}B`), 'pk'],
    [replace('exp', '12x'), 'exp'],
    [replace('exp', '0123'), 'exp'],
    [replace('exp', String(Math.floor(NOW / 1000) + 3601 + 300)), 'exp'],
    [`${good}&${'x'.repeat(1100)}=1`, 'uri'],
  ])('refuses %s naming field %s', (uri, field) => {
    const e = refusal(uri);
    expect(e.code).toBe('CONNECT_URI_INVALID');
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`${field}:`)).toBe(true);
  });

  it('refuses a low-order public key (a zero shared secret)', () => {
    const lowOrder = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'; // u = 0
    expect(refusal(replace('pk', lowOrder)).field).toBe('pk');
  });

  it('ignores parameters it does not know (later optional additions)', () => {
    expect(parseConnectUri(`${good}&name=Demo`, { now: NOW }).uuid).toBe(uuid);
  });

  it('allows plain http only on loopback and canonicalises relay URLs', () => {
    expect(normalizeRelayUrl('http://localhost:3000')).toBe('http://localhost:3000');
    expect(normalizeRelayUrl('http://[::1]:3000/')).toBe('http://[::1]:3000');
    expect(normalizeRelayUrl('https://Auth.Example.com:443/x/')).toBe('https://auth.example.com/x');
    expect(() => normalizeRelayUrl('http://10.0.0.1')).toThrow(ConnectError);
    expect(() => normalizeRelayUrl('https://auth.example.com#frag')).toThrow(ConnectError);
    expect(() => normalizeRelayUrl('https://auth example.com')).toThrow(ConnectError);
  });

  it('makes v4 channel ids from random bytes', () => {
    const ids = new Set(Array.from({ length: 200 }, randomChannelId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(isChannelId(id)).toBe(true);
  });
});
