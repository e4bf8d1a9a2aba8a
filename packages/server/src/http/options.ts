import { isIP } from 'node:net';
import { type Clock, type DataKeyRing, type Latchkey, LatchkeyError, type Store, systemClock } from '@latchkey/core';
import type { Logger } from 'pino';
import { type RelayOptions, type ResolvedRelayOptions, resolveRelayOptions } from '../relay/options.js';

/**
 * Which proxies in front may tell the client address (`X-Forwarded-For`): their addresses and CIDRs
 * (`['10.0.0.5']`, `'10.0.0.0/8, fd00::/8'`, also `loopback`, `linklocal`, `uniquelocal`), or a function
 * of (address, hop index) that says whether that hop is one of them. Never every hop (`true`): the left of
 * the header is whatever the client wrote. Never a hop count: it trusts whoever connects directly.
 */
export type TrustProxy = false | string | readonly string[] | ((address: string, hop: number) => boolean);

/** What `createServer` accepts. Validated once, at construction; bad options throw `CONFIG_INVALID`. */
export interface ServerOptions {
  /** The engine: apps, sign-in and access tokens are configured on it. */
  latchkey: Latchkey;
  /** The store the engine uses; the server keeps API keys, rate-limit counters and run-time apps in it too. */
  store: Store;
  /** Default: pino to stdout at `info`. `false`: no logs at all. A given logger gets the redaction rules as a child. */
  logger?: Logger | false;
  /**
   * Cookies are `Secure` with the `__Host-` prefix, decided from the server's own settings, never from the
   * request: always for an app whose `signIn.origin` is `https:`; for other apps too unless `secure` is
   * `false` (plain HTTP on localhost, where browsers refuse `Secure` cookies). Only the name the server
   * sets is ever read.
   */
  cookies?: { secure?: boolean };
  /**
   * Fixed windows of `windowSeconds` (default 60), aligned to the epoch, counted in the store so every node
   * shares them. Each limit applies per client address (an IPv6 client by its /64); `0` turns a limit off.
   * Defaults: `nonce` 30, `signIn` 10, `refresh` 30 requests per window.
   */
  rateLimits?: { windowSeconds?: number; nonce?: number; signIn?: number; refresh?: number };
  /** Take the client address from `X-Forwarded-For` set by these proxies (see `TrustProxy`). Default `false`. */
  trustProxy?: TrustProxy;
  /** `/metrics`: the active-sessions gauge is re-read from the store at most every `statsIntervalSeconds` (1-3600, default 15). */
  metrics?: { statsIntervalSeconds?: number };
  /**
   * The engine's data keys. Needed to open app settings that `latchkey apps create` stored with their
   * secrets sealed (an HS256 `accessTokens.secret`); without them such an app does not load.
   */
  dataKeys?: DataKeyRing;
  /** Time for rate-limit windows, API-key caches and app reloads. Default: the system clock. */
  clock?: Clock;
  /**
   * The path prefix a proxy in front strips before passing requests on (`/latchkey` when clients call
   * `https://example.com/latchkey/v1/…` and the server receives `/v1/…`). A stamp signs the path the
   * client sent, so stamps are verified over `basePath` + the path received. Default `''` (no prefix):
   * `/`, then path characters, no trailing `/`.
   */
  basePath?: string;
  /**
   * The QR-connect relay (socket.io at `/v1/relay`, namespace `/connect`) on this server's listener, with
   * these settings (`{}`: the defaults, channels in memory). Default: off. See docs/relay.md.
   */
  relay?: RelayOptions | false;
}

export interface RateLimitSettings {
  readonly windowMs: number;
  readonly nonce: number;
  readonly signIn: number;
  readonly refresh: number;
}

export interface ResolvedServerOptions {
  readonly latchkey: Latchkey;
  readonly store: Store;
  readonly logger: Logger | false | undefined;
  /** As given: only `false` lets an app that is not served over https have cookies without `Secure`. */
  readonly secureCookies: boolean | undefined;
  readonly rateLimits: RateLimitSettings;
  readonly trustProxy: false | string[] | ((address: string, hop: number) => boolean);
  readonly statsIntervalMs: number;
  readonly dataKeys: DataKeyRing | undefined;
  readonly clock: Clock;
  /** `''`, or `/prefix` without a trailing slash. */
  readonly basePath: string;
  /** null: no relay. */
  readonly relay: ResolvedRelayOptions | null;
}

/** Request bodies above this many bytes get 413. Sign-in messages are at most 16 KiB. */
export const BODY_LIMIT_BYTES = 64 * 1024;
/** How long a loaded list of an app's API keys is trusted, in milliseconds. */
export const API_KEY_CACHE_MS = 5_000;
/** Unknown app ids or API key ids re-read the store at most this often, in milliseconds. */
export const RELOAD_INTERVAL_MS = 1_000;

const DEFAULT_RATE_LIMITS = { windowSeconds: 60, nonce: 30, signIn: 10, refresh: 30 } as const;
/** Seconds between two store reads of the active-sessions gauge. */
const DEFAULT_STATS_INTERVAL_SECONDS = 15;

/** A path prefix: `/` and segments of RFC 3986 path characters (no `?`, `#`, spaces), no trailing `/`. */
const BASE_PATH_PATTERN = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;

/** `''` or a path prefix (see BASE_PATH_PATTERN); null when fine, else what is wrong. */
export function basePathProblem(value: unknown): string | null {
  if (value === '' || (typeof value === 'string' && value.length <= 256 && BASE_PATH_PATTERN.test(value))) return null;
  return "'' or a path that starts with / and does not end with one, e.g. /latchkey";
}

/** proxy-addr's names for address ranges. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An address, a CIDR (`10.0.0.0/8`, `fd00::/8`) or a range name; null when fine, else what is wrong. */
function proxyEntryProblem(entry: string): string | null {
  if (PROXY_RANGE_NAMES.has(entry)) return null;
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `"${entry.slice(0, 64)}" is not an IP address, a CIDR or loopback/linklocal/uniquelocal`;
  if (slash < 0) return null;
  const bits = entry.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${entry.slice(0, 64)}": the prefix length is 0-${max}`;
  return null;
}

/**
 * Checks a `trustProxy` value and answers it in the form Fastify takes; a message naming what is wrong
 * otherwise. `true` is refused: it trusts every hop, so the client-written left end of `X-Forwarded-For`
 * would become the client address. A hop count is refused too: it cannot tell the proxy from a client
 * that connects directly and writes the header itself (Fastify 5 trusts nothing for one).
 */
export function checkTrustProxy(value: unknown): { trustProxy: ResolvedServerOptions['trustProxy'] } | { problem: string } {
  if (value === undefined || value === false) return { trustProxy: false };
  if (value === true || typeof value === 'number') {
    return {
      problem: `${value === true ? 'true trusts every hop' : 'a hop count trusts any direct client'}, so a client could write its own address; name the proxies in front by address or CIDR (e.g. ["127.0.0.1"], "loopback", ["10.0.0.0/8"])`,
    };
  }
  if (typeof value === 'function') return { trustProxy: value as (address: string, hop: number) => boolean };
  const entries = typeof value === 'string' ? value.split(',').map((e) => e.trim()) : value;
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > 256)
    return { problem: 'false, or 1-256 proxy addresses/CIDRs' };
  for (const entry of entries) {
    if (typeof entry !== 'string') return { problem: 'proxy addresses are strings' };
    const problem = proxyEntryProblem(entry);
    if (problem) return { problem };
  }
  return { trustProxy: [...(entries as string[])] };
}

function invalid(field: string, message: string): never {
  throw new LatchkeyError('CONFIG_INVALID', { message: `${field}: ${message}`, field });
}

function count(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) invalid(field, 'a whole number, 0 or more');
  return value;
}

export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (typeof options !== 'object' || options === null) invalid('options', 'an object');
  // Duck-typed: an engine from another copy of @latchkey/core (a bundler, a test) is still an engine.
  if (typeof options.latchkey?.validateSession !== 'function' || typeof options.latchkey.addApp !== 'function')
    invalid('latchkey', 'a Latchkey engine');
  const store = options.store;
  for (const method of ['ping', 'incrementEntry', 'listEntries', 'addEntry'] as const) {
    if (typeof store?.[method] !== 'function') invalid('store', `a Store (with ${method})`);
  }
  const logger = options.logger;
  if (logger !== undefined && logger !== false && typeof logger?.child !== 'function')
    invalid('logger', 'a pino logger or false');
  const secure = options.cookies?.secure;
  if (secure !== undefined && typeof secure !== 'boolean') invalid('cookies.secure', 'a boolean');
  const limits = options.rateLimits ?? {};
  const windowSeconds = count('rateLimits.windowSeconds', limits.windowSeconds, DEFAULT_RATE_LIMITS.windowSeconds);
  if (windowSeconds < 1 || windowSeconds > 86_400) invalid('rateLimits.windowSeconds', 'between 1 and 86400 seconds');
  const trust = checkTrustProxy(options.trustProxy);
  if ('problem' in trust) invalid('trustProxy', trust.problem);
  const statsIntervalSeconds = count(
    'metrics.statsIntervalSeconds',
    options.metrics?.statsIntervalSeconds,
    DEFAULT_STATS_INTERVAL_SECONDS,
  );
  if (statsIntervalSeconds < 1 || statsIntervalSeconds > 3600)
    invalid('metrics.statsIntervalSeconds', 'between 1 and 3600 seconds');
  const dataKeys = options.dataKeys;
  if (
    dataKeys !== undefined &&
    (typeof dataKeys?.current !== 'string' || typeof dataKeys.keys !== 'object' || dataKeys.keys === null)
  )
    invalid('dataKeys', 'a data key ring { current, keys }');
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== 'function') invalid('clock', 'an object with now()');
  const basePath = options.basePath ?? '';
  const basePathFault = basePathProblem(basePath);
  if (basePathFault) invalid('basePath', basePathFault);
  return Object.freeze({
    latchkey: options.latchkey,
    store,
    logger,
    secureCookies: secure,
    rateLimits: Object.freeze({
      windowMs: windowSeconds * 1000,
      nonce: count('rateLimits.nonce', limits.nonce, DEFAULT_RATE_LIMITS.nonce),
      signIn: count('rateLimits.signIn', limits.signIn, DEFAULT_RATE_LIMITS.signIn),
      refresh: count('rateLimits.refresh', limits.refresh, DEFAULT_RATE_LIMITS.refresh),
    }),
    trustProxy: trust.trustProxy,
    statsIntervalMs: statsIntervalSeconds * 1000,
    dataKeys,
    clock,
    basePath,
    relay: resolveRelayOptions(options.relay),
  });
}
