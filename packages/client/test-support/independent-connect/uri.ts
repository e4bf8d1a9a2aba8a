// §3 Connect URI and §3.1 relay URL.
import { isLowOrderPublicKey } from './crypto.js';
import { b64uDecode } from './encoding.js';
import { fail, IndependentConnectError } from './errors.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PREFIX = 'latchkey:connect?';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const HOUR_MS = 3_600_000;

const invalid = (field: string, reason: string): never => fail('CONNECT_URI_INVALID', field, `${field}: ${reason}`);

export function randomUuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** §3.1: canonical relay URL, or throws CONNECT_URI_INVALID (field relay). */
export function normalizeRelayUrl(input: string): string {
  if (typeof input !== 'string' || input.length < 1 || input.length > 512 || !/^[\x21-\x7e]+$/.test(input)) {
    return invalid('relay', 'must be 1-512 printable ASCII characters without spaces');
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return invalid('relay', 'not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    return invalid('relay', 'must be https (http only for loopback)');
  }
  // GUESS: "with trailing / removed" — we remove every trailing slash, so the result never ends in '/'.
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

export function relaySocketTarget(relay: string): { url: string; path: string } {
  const u = new URL(relay);
  const pathname = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
  return { url: `${u.origin}/connect`, path: `${pathname}/v1/relay` };
}

export interface ConnectUri {
  uuid: string;
  relay: string;
  /** base64url X25519 key */
  pk: string;
  pkBytes: Uint8Array;
  /** unix seconds */
  exp: number;
}

export function formatConnectUri(p: { uuid: string; relay: string; pk: string; exp: number }): string {
  return `${PREFIX}v=1&id=${p.uuid}&relay=${encodeURIComponent(p.relay)}&pk=${p.pk}&exp=${p.exp}`;
}

export function parseConnectUri(input: string, now: number = Date.now()): ConnectUri {
  if (typeof input !== 'string') return invalid('uri', 'not a string');
  const s = input.trim();
  if (s.length > 1024) return invalid('uri', 'too long');
  if (!s.startsWith(PREFIX)) return invalid('uri', `must start with ${PREFIX}`);
  const params = new Map<string, string>();
  for (const part of s.slice(PREFIX.length).split('&')) {
    if (part === '') return invalid('uri', 'empty parameter');
    const eq = part.indexOf('=');
    if (eq < 0) return invalid('uri', 'parameter without =');
    const name = part.slice(0, eq);
    // GUESS: a repeated parameter is reported under field `uri` (the doc does not say which field).
    if (params.has(name)) return invalid('uri', `repeated parameter ${name}`);
    params.set(name, part.slice(eq + 1));
  }
  const v = params.get('v');
  if (v !== '1') return invalid('v', v === undefined ? 'missing' : 'unsupported version');
  const uuid = params.get('id');
  if (uuid === undefined || !UUID_RE.test(uuid)) return invalid('id', 'not a lowercase v4 UUID');
  const relayRaw = params.get('relay');
  if (relayRaw === undefined) return invalid('relay', 'missing');
  let relay: string;
  try {
    relay = decodeURIComponent(relayRaw);
  } catch {
    return invalid('relay', 'bad percent-encoding');
  }
  let canonical: string;
  try {
    canonical = normalizeRelayUrl(relay);
  } catch (e) {
    if (e instanceof IndependentConnectError) throw e;
    return invalid('relay', 'invalid');
  }
  if (canonical !== relay) return invalid('relay', 'not in canonical form');
  const pk = params.get('pk');
  const pkBytes = pk !== undefined && pk.length === 43 ? b64uDecode(pk) : null;
  if (pk === undefined || pkBytes === null || pkBytes.length !== 32) return invalid('pk', 'not a 32-byte base64url key');
  if (isLowOrderPublicKey(pkBytes)) return invalid('pk', 'low-order key');
  const expRaw = params.get('exp');
  if (expRaw === undefined || !/^[1-9][0-9]{0,10}$/.test(expRaw)) return invalid('exp', 'not unix seconds');
  const exp = Number(expRaw);
  if (now >= exp * 1000) fail('CONNECT_URI_EXPIRED', 'exp', 'exp: expired');
  if (exp * 1000 > now + HOUR_MS) return invalid('exp', 'more than 1 hour ahead');
  return { uuid, relay, pk, pkBytes, exp };
}
