import { type Clock, type Latchkey, LatchkeyError, type Store, systemClock } from '@latchkey/core';
import type { Logger } from 'pino';

/** What `createServer` accepts. Validated once, at construction; bad options throw `CONFIG_INVALID`. */
export interface ServerOptions {
  /** The engine: apps, sign-in and access tokens are configured on it. */
  latchkey: Latchkey;
  /** The store the engine uses; the server keeps API keys, rate-limit counters and run-time apps in it too. */
  store: Store;
  /** Default: pino to stdout at `info`. `false`: no logs at all. A given logger gets the redaction rules as a child. */
  logger?: Logger | false;
  /** Default: `Secure` (and the `__Host-` prefix) unless the request's host is localhost, 127.0.0.1 or ::1. */
  cookies?: { secure?: boolean };
  /**
   * Fixed windows of `windowSeconds` (default 60), aligned to the epoch, counted in the store so every node
   * shares them. Each limit applies per IP and, separately, per wallet; `0` turns a limit off.
   * Defaults: `nonce` 30, `signIn` 10, `refresh` 30 requests per window.
   */
  rateLimits?: { windowSeconds?: number; nonce?: number; signIn?: number; refresh?: number };
  /** Take the client address from `X-Forwarded-For` (behind a proxy you run). Default `false`. */
  trustProxy?: boolean;
  /** Time for rate-limit windows, API-key caches and app reloads. Default: the system clock. */
  clock?: Clock;
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
  /** Undefined: decided per request from the host. */
  readonly secureCookies: boolean | undefined;
  readonly rateLimits: RateLimitSettings;
  readonly trustProxy: boolean;
  readonly clock: Clock;
}

/** Request bodies above this many bytes get 413. Sign-in messages are at most 16 KiB. */
export const BODY_LIMIT_BYTES = 64 * 1024;
/** How long a loaded list of an app's API keys is trusted, in milliseconds. */
export const API_KEY_CACHE_MS = 5_000;
/** Unknown app ids or API key ids re-read the store at most this often, in milliseconds. */
export const RELOAD_INTERVAL_MS = 1_000;

const DEFAULT_RATE_LIMITS = { windowSeconds: 60, nonce: 30, signIn: 10, refresh: 30 } as const;

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
  if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean') invalid('trustProxy', 'a boolean');
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== 'function') invalid('clock', 'an object with now()');
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
    trustProxy: options.trustProxy ?? false,
    clock,
  });
}
