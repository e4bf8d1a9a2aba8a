import { x25519 } from '@noble/curves/ed25519';
import { randomBytes } from '@noble/hashes/utils';
import { fromBase64Url, toBase64Url, toHex } from '../encoding.js';
import { CONNECT_LIMITS, CONNECT_PROTOCOL_VERSION, CONNECT_URI_PREFIX, RELAY_NAMESPACE, RELAY_PATH } from './constants.js';
import { ConnectError, uriInvalid } from './errors.js';

/** What a connect URI (the QR code) carries. */
export interface ConnectUri {
  version: typeof CONNECT_PROTOCOL_VERSION;
  /** The channel id: an RFC 4122 version 4 UUID, lowercase. */
  uuid: string;
  /** The relay's base URL, canonical form (see {@link normalizeRelayUrl}). */
  relay: string;
  /** The dApp's X25519 public key, 32 bytes. */
  dappPublicKey: Uint8Array;
  /** When the channel stops accepting a wallet, ms since the epoch (the URI carries whole seconds). */
  expiresAt: number;
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const KEY_B64URL = /^[A-Za-z0-9_-]{43}$/;
const EXP = /^[1-9][0-9]{0,10}$/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
// A clamped scalar for the low-order check: x25519 with any clamped scalar yields zero only for low-order points.
const PROBE_SCALAR = new Uint8Array(32).fill(0x42);

/** True when `value` is an RFC 4122 version 4 UUID in lowercase, the only form a channel id takes. */
export function isChannelId(value: unknown): value is string {
  return typeof value === 'string' && UUID_V4.test(value);
}

/** A fresh channel id: 122 random bits as an RFC 4122 version 4 UUID (no `crypto.randomUUID`, which needs a secure context). */
export function randomChannelId(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The canonical form of a relay URL: `https://host[:port][/path]` with no trailing slash, query,
 * fragment or credentials; plain `http` only for loopback (localhost, 127.0.0.1, [::1]). Every party
 * compares relay URLs byte for byte, so each relay has exactly one accepted spelling.
 *
 * @throws ConnectError `CONNECT_URI_INVALID` (field `relay`) when the URL is not allowed.
 * @example normalizeRelayUrl('https://Auth.Example.com:443/') // 'https://auth.example.com'
 */
export function normalizeRelayUrl(input: string): string {
  if (typeof input !== 'string' || input.length === 0 || input.length > CONNECT_LIMITS.maxRelayLength) {
    throw uriInvalid('relay', `expected a URL of 1..${CONNECT_LIMITS.maxRelayLength} characters`);
  }
  if (!/^[\x21-\x7e]+$/.test(input)) throw uriInvalid('relay', 'expected printable ASCII without spaces');
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw uriInvalid('relay', 'not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw uriInvalid('relay', 'expected https (plain http only for a loopback host)');
  }
  if (url.username !== '' || url.password !== '') throw uriInvalid('relay', 'credentials are not allowed');
  if (url.search !== '' || url.hash !== '' || input.includes('?') || input.includes('#')) {
    throw uriInvalid('relay', 'query and fragment are not allowed');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Where a socket.io client reaches the relay: `url` (origin + the `/connect` namespace) and the
 * engine `path` (the relay URL's path + `/v1/relay`).
 *
 * @example relaySocketTarget('https://example.com/auth') // { url: 'https://example.com/connect', path: '/auth/v1/relay' }
 */
export function relaySocketTarget(relay: string): { url: string; path: string } {
  const canonical = normalizeRelayUrl(relay);
  const url = new URL(canonical);
  return { url: `${url.origin}${RELAY_NAMESPACE}`, path: `${url.pathname.replace(/\/+$/, '')}${RELAY_PATH}` };
}

/** True when `publicKey` is 32 bytes and not a low-order X25519 point (which would make every shared secret zero). */
export function isUsableX25519PublicKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  try {
    x25519.getSharedSecret(PROBE_SCALAR, publicKey);
    return true;
  } catch {
    return false;
  }
}

/**
 * The connect URI a dApp puts in its QR code:
 * `latchkey:connect?v=1&id=<uuid>&relay=<percent-encoded URL>&pk=<base64url key>&exp=<unix seconds>`.
 * `expiresAt` (ms) is rounded down to whole seconds.
 *
 * @example
 * ```ts
 * const uri = formatConnectUri({ uuid, relay: 'https://auth.example.com', dappPublicKey, expiresAt: Date.now() + 300_000 });
 * ```
 */
export function formatConnectUri(input: { uuid: string; relay: string; dappPublicKey: Uint8Array; expiresAt: number }): string {
  if (!isChannelId(input.uuid)) throw new TypeError('uuid: expected an RFC 4122 v4 UUID in lowercase');
  if (!isUsableX25519PublicKey(input.dappPublicKey)) throw new TypeError('dappPublicKey: expected a 32-byte X25519 public key');
  if (!Number.isSafeInteger(input.expiresAt) || input.expiresAt < 1000)
    throw new TypeError('expiresAt: expected ms since the epoch');
  const relay = normalizeRelayUrl(input.relay);
  const exp = Math.floor(input.expiresAt / 1000);
  return `${CONNECT_URI_PREFIX}v=${CONNECT_PROTOCOL_VERSION}&id=${input.uuid}&relay=${encodeURIComponent(relay)}&pk=${toBase64Url(input.dappPublicKey)}&exp=${exp}`;
}

/**
 * Parses and checks a scanned connect URI. Unknown parameters are ignored (later minor additions);
 * an unknown `v` is refused.
 *
 * @throws ConnectError `CONNECT_URI_INVALID` naming the field (`uri`, `v`, `id`, `relay`, `pk`, `exp`),
 *   or `CONNECT_URI_EXPIRED` when `now` is at or past `exp`.
 * @example
 * ```ts
 * const { uuid, relay, dappPublicKey, expiresAt } = parseConnectUri(scanned, { now: Date.now() });
 * ```
 */
export function parseConnectUri(uri: string, options: { now: number }): ConnectUri {
  if (typeof uri !== 'string') throw uriInvalid('uri', 'expected a string');
  const text = uri.trim();
  if (text.length > CONNECT_LIMITS.maxUriLength) throw uriInvalid('uri', `longer than ${CONNECT_LIMITS.maxUriLength} characters`);
  if (!text.startsWith(CONNECT_URI_PREFIX)) throw uriInvalid('uri', `expected a URI starting with ${CONNECT_URI_PREFIX}`);
  const fields = new Map<string, string>();
  for (const part of text.slice(CONNECT_URI_PREFIX.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw uriInvalid('uri', 'expected name=value parameters separated by &');
    const name = part.slice(0, eq);
    if (fields.has(name)) throw uriInvalid(name, 'appears more than once');
    fields.set(name, part.slice(eq + 1));
  }
  const field = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined || value === '') throw uriInvalid(name, 'missing');
    return value;
  };

  const version = field('v');
  if (version !== String(CONNECT_PROTOCOL_VERSION)) {
    throw uriInvalid(
      'v',
      `unsupported protocol version ${JSON.stringify(version.slice(0, 8))} (this side speaks ${CONNECT_PROTOCOL_VERSION})`,
    );
  }
  const uuid = field('id');
  if (!isChannelId(uuid)) throw uriInvalid('id', 'expected an RFC 4122 v4 UUID in lowercase');

  let relayText: string;
  try {
    relayText = decodeURIComponent(field('relay'));
  } catch (e) {
    if (e instanceof ConnectError) throw e;
    throw uriInvalid('relay', 'bad percent-encoding');
  }
  const relay = normalizeRelayUrl(relayText);
  if (relay !== relayText) throw uriInvalid('relay', `not in canonical form (expected ${relay})`);

  const pk = field('pk');
  if (!KEY_B64URL.test(pk)) throw uriInvalid('pk', 'expected 43 base64url characters (a 32-byte X25519 key)');
  let dappPublicKey: Uint8Array;
  try {
    dappPublicKey = fromBase64Url(pk);
  } catch {
    throw uriInvalid('pk', 'not canonical base64url');
  }
  if (!isUsableX25519PublicKey(dappPublicKey)) throw uriInvalid('pk', 'not a usable X25519 public key');

  const exp = field('exp');
  if (!EXP.test(exp)) throw uriInvalid('exp', 'expected unix seconds as a decimal integer');
  const expiresAt = Number(exp) * 1000;
  if (options.now >= expiresAt) throw new ConnectError('CONNECT_URI_EXPIRED', { field: 'exp' });
  if (expiresAt - options.now > CONNECT_LIMITS.maxChannelTtlMs) throw uriInvalid('exp', 'more than 1 hour ahead');

  return { version: CONNECT_PROTOCOL_VERSION, uuid, relay, dappPublicKey, expiresAt };
}
