import { LatchkeyClientError } from './errors/index.js';
import type { Clock } from './session/agent.js';
import type { SiweOptions } from './signin/siwe.js';
import type { LatchkeyStorage } from './storage/index.js';

/** What `new LatchkeyClient()` takes. Checked once, in the constructor (CLIENT_OPTIONS_INVALID names the option). */
export interface LatchkeyClientOptions {
  /**
   * The Latchkey server, e.g. `https://auth.example.com`. A path prefix is kept (`https://example.com/latchkey/`)
   * and stamps sign it (`/latchkey/v1/…`): behind a proxy that strips it, start the server with `basePath: '/latchkey'`.
   */
  baseUrl: string | URL;
  /** The app (`Latchkey-App` header). Default: the server's `default` app (no header sent). */
  appId?: string;
  /**
   * Where the session and its key are kept. Default: `IndexedDbStorage` where IndexedDB exists (browsers),
   * else `MemoryStorage`. Node processes that must survive a restart: `FileStorage` from `@latchkey/client/node`.
   */
  storage?: LatchkeyStorage;
  /** Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Time for SIWE `issuedAt`, stamps and expiry checks. Default: `Date.now`. */
  clock?: Clock;
  /** The sign-in message's domain, URI and chain (defaults from the page: `location.host`, `location.origin`). */
  siwe?: SiweOptions;
  /** Default key mode for `createSessionKey` and `refreshUserSession`: `registered` unless set. */
  sessionKeys?: { mode?: 'registered' | 'bundle' };
  /**
   * Proactive refresh: a timer refreshes the session before its idle expiry and replaces the key before
   * it lapses, `leadSeconds` (default 60, capped at half the lifetime) ahead. Default on; `false` turns it
   * off (then call `refreshIfDue()` yourself, or rely on the reactive refresh).
   */
  autoRefresh?: boolean | { leadSeconds?: number };
  /** Other origins (your API servers behind Latchkey middleware) that `client.fetch` may send the session to. */
  trustedOrigins?: readonly string[];
  /** The storage key (and cross-tab lock name); default derived from the base URL and the app. */
  storageKey?: string;
}

export interface CheckedOptions {
  base: URL;
  appId: string | undefined;
  siwe: SiweOptions;
  keyMode: 'registered' | 'bundle';
  trustedOrigins: ReadonlySet<string>;
  autoRefresh: boolean;
  leadMs: number;
  storageKey: string;
}

/** The server's app id syntax (`APP_ID_PATTERN` in @latchkey/core). */
const APP_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const DEFAULT_LEAD_SECONDS = 60;

function invalid(field: string, message: string): never {
  throw new LatchkeyClientError('CLIENT_OPTIONS_INVALID', { message: `${field}: ${message}`, field });
}

function originOf(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid(field, 'an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') invalid(field, 'an http(s) URL');
  return url.origin;
}

export function checkOptions(options: LatchkeyClientOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null) invalid('options', 'an object');
  originOf(String(options.baseUrl), 'baseUrl');
  const base = new URL(String(options.baseUrl));
  if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`;
  base.search = '';
  base.hash = '';
  if (options.appId !== undefined && (typeof options.appId !== 'string' || !APP_ID.test(options.appId)))
    invalid('appId', 'lowercase letters, digits, _ and -, 1-64 characters');
  const storage = options.storage;
  if (storage !== undefined && (typeof storage?.get !== 'function' || typeof storage.set !== 'function'))
    invalid('storage', 'a LatchkeyStorage (get, set, delete)');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') invalid('fetch', 'a function');
  if (options.clock !== undefined && typeof options.clock?.now !== 'function') invalid('clock', 'an object with now()');
  const mode = options.sessionKeys?.mode ?? 'registered';
  if (mode !== 'registered' && mode !== 'bundle') invalid('sessionKeys.mode', "'registered' or 'bundle'");
  const auto = options.autoRefresh ?? true;
  const leadSeconds = typeof auto === 'object' ? (auto.leadSeconds ?? DEFAULT_LEAD_SECONDS) : DEFAULT_LEAD_SECONDS;
  if (typeof leadSeconds !== 'number' || !(leadSeconds >= 0) || leadSeconds > 86_400)
    invalid('autoRefresh.leadSeconds', 'a number of seconds, 0-86400');
  const trusted = new Set((options.trustedOrigins ?? []).map((o, i) => originOf(o, `trustedOrigins[${i}]`)));
  return Object.freeze({
    base,
    appId: options.appId,
    siwe: { ...options.siwe },
    keyMode: mode,
    trustedOrigins: trusted,
    autoRefresh: auto !== false,
    leadMs: leadSeconds * 1000,
    storageKey: options.storageKey ?? `latchkey:${base.href}:${options.appId ?? 'default'}`,
  });
}
