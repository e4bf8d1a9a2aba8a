import { LatchkeyError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { type Clock, systemClock } from '../runtime.js';
import { APP_ID_PATTERN, DEFAULT_APP_ID } from '../session/config.js';
import type { Latchkey } from '../session/engine.js';

/** The `fetch` the remote and JWKS modes call; the global one unless a test or an agent-aware client is passed. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** Validate session tokens with the engine in this process (same store as the Latchkey server). */
export interface EngineModeOptions {
  engine: Latchkey;
  /** The app whose sessions are accepted. `'default'`. */
  appId?: string;
  remote?: never;
  jwt?: never;
}

/** Ask a Latchkey server (`POST /v1/sessions/introspect`) and remember its positive answers briefly. */
export interface RemoteModeOptions {
  remote: {
    /**
     * Base URL of the Latchkey server, e.g. `https://auth.example.com`. `http://` is refused (it would
     * send the API key in clear) unless the host is this machine (`127.0.0.0/8`, `[::1]`, `localhost`)
     * or `allowInsecureHttp` is true.
     */
    url: string;
    /** Accept an `http://` URL to a host other than this machine (a private network you trust). `false`. */
    allowInsecureHttp?: boolean;
    /** An app API key (`lka_…`); its app is the app whose sessions are accepted. */
    apiKey: string;
    /** Seconds a positive answer is reused. 5; at most 30; 0 asks on every request. */
    cacheSeconds?: number;
    /** Seconds to wait for the server before answering 503. 2. */
    timeoutSeconds?: number;
    /** Positive answers kept at most (oldest dropped first). 10 000. */
    maxCacheEntries?: number;
  };
  engine?: never;
  appId?: never;
  jwt?: never;
}

/** A public JWK as published in a JWKS; only Ed25519 (`EdDSA`) and P-256 (`ES256`) keys with a `kid` are used. */
export interface PublicJwkInput {
  readonly kid?: unknown;
  readonly alg?: unknown;
  readonly kty?: unknown;
  readonly crv?: unknown;
  readonly x?: unknown;
  readonly y?: unknown;
}

/** Verify JWT access tokens locally against the authority's public keys. */
export interface JwtModeOptions {
  jwt: {
    /** A JWKS document held in memory (e.g. from `latchkey.getJwks()`). Exactly one of `jwks`, `jwksUrl`. */
    jwks?: { keys: readonly PublicJwkInput[] };
    /** Where to fetch the JWKS (`https://auth.example.com/.well-known/jwks.json`). */
    jwksUrl?: string;
    /** The required `iss` claim. */
    issuer: string;
    /** The required `aud` claim. */
    audience: string;
    /** Role → permissions, as configured on the authority: a JWT carries roles, not permissions. `{}`. */
    roles?: Readonly<Record<string, readonly string[]>>;
    /** Seconds of clock difference tolerated on `exp` and `iat`. 30. */
    clockSkewSeconds?: number;
    /** Seconds a fetched JWKS is used before it is fetched again. 300. */
    jwksCacheSeconds?: number;
    /** Seconds between two fetches caused by an unknown key id (rate limit). 30. */
    jwksCooldownSeconds?: number;
    /**
     * Seconds a JWKS past `jwksCacheSeconds` is still trusted for the key ids it holds while it cannot be
     * fetched again; after that every token is answered 503 until a fetch succeeds. 600; 0 trusts no stale set.
     */
    jwksMaxStaleSeconds?: number;
    /** Seconds to wait for the JWKS before answering 503. 2. */
    timeoutSeconds?: number;
  };
  engine?: never;
  appId?: never;
  remote?: never;
}

/**
 * Where the credential may come from besides `Authorization: Bearer`. By default nowhere: no cookie is
 * read. Reading a cookie is opt-in and needs the origins your pages are served from, because a browser
 * attaches a cookie by itself (CSRF): a cookie-authenticated request whose method is not GET, HEAD or
 * OPTIONS must come with an `Origin` in `allowedOrigins` (or `Sec-Fetch-Site: same-origin`), else 403
 * `CSRF_REJECTED`.
 */
export type CookieOptions =
  | {
      /** No cookie is read (the default). */
      cookieName?: null;
      allowedOrigins?: never;
    }
  | {
      /**
       * Cookie that carries the session token when there is no `Authorization` header. The Latchkey
       * server's name for an app is `defaultCookieName(appId)`, `'__Host-latchkey-session-<appId>'`; over
       * a server run with `cookies.secure: false` drops the prefix: `'latchkey-session-<appId>'`.
       */
      cookieName: string;
      /**
       * Origins (`https://app.example.com`, scheme://host[:port], no path) whose pages may make
       * state-changing requests with the cookie. At least one; `*` and `null` are refused.
       */
      allowedOrigins: readonly string[];
    };

/**
 * How a guard treats stamps (`Latchkey-Signature`, docs/stamps.md) on session-authenticated requests:
 * - `'optional'`: a stamp that comes is verified, and a bad one is refused; a request without one passes.
 * - `'required'`: a request without one is refused too (401 `SIGNATURE_REQUIRED`).
 */
export type StampRequirement = 'optional' | 'required';

/**
 * Per-guard settings (`requireWalletAuthentication(latchkey, { stamps: 'required' })`,
 * `app.latchkey.require({ stamps: 'required' })`), validated when the guard is made.
 */
export interface GuardOptions {
  /** Overrides the authenticator's `stamps` for this guard. */
  stamps?: StampRequirement;
  /**
   * Whether the guarded route changes state, which a `read-only` session key may not sign (403
   * `SCOPE_READ_ONLY`). Default: decided per request, true for any method but GET, HEAD and OPTIONS.
   * `false` lets a read-only key sign, say, a POST search that changes nothing.
   */
  isWrite?: boolean;
}

/** Options every mode shares (with `CookieOptions`). */
export interface CommonOptions {
  /**
   * Stamps on session-authenticated requests, for every guard that does not say otherwise. `'optional'`.
   * JWT mode cannot verify stamps (it has no session keys): `'required'` there is a configuration
   * error, and a JWT request that carries a stamp is refused (401 `SIGNATURE_INVALID`).
   */
  stamps?: StampRequirement;
  /**
   * The path prefix a proxy in front strips before passing requests on (`/wallet` when clients call
   * `https://example.com/wallet/api/…` and this app receives `/api/…`). A stamp signs the path the client
   * sent, so stamps are verified over `basePath` + the path received, as the Latchkey server's own
   * `basePath`. `''` (no prefix), else `/` and path characters, no trailing `/`. Engine and remote mode
   * only (a JWT guard verifies no stamps).
   */
  basePath?: string;
  /** Time source for caches and JWT times. The system clock. */
  clock?: Clock;
  /** Where failures of the authority are reported (never with a token). Silent. */
  logger?: Logger;
  /** HTTP client for the remote and JWKS modes. `globalThis.fetch`. */
  fetch?: FetchFunction;
}

/** Exactly one of `engine`, `remote`, `jwt`, plus the common and cookie options. */
export type WalletAuthenticationOptions = CommonOptions &
  CookieOptions &
  (EngineModeOptions | RemoteModeOptions | JwtModeOptions);

/** The session cookie the Latchkey server sets (Secure, `__Host-`), by app: a value for `cookieName`. */
/** JWT mode's settings once resolved: shared by the resolved options and the JWT validator. */
export interface JwtSettings {
  jwks: { keys: readonly PublicJwkInput[] } | null;
  jwksUrl: string | null;
  issuer: string;
  audience: string;
  roles: Readonly<Record<string, readonly string[]>>;
  clockSkewSeconds: number;
  jwksCacheMs: number;
  jwksCooldownMs: number;
  jwksMaxStaleMs: number;
  timeoutMs: number;
}

export function defaultCookieName(appId: string): string {
  return `__Host-latchkey-session-${appId}`;
}
const DEFAULT_CACHE_SECONDS = 5;
const MAX_CACHE_SECONDS = 30;
const DEFAULT_TIMEOUT_SECONDS = 2;
const DEFAULT_MAX_CACHE_ENTRIES = 10_000;
const DEFAULT_CLOCK_SKEW_SECONDS = 30;
const DEFAULT_JWKS_CACHE_SECONDS = 300;
const DEFAULT_JWKS_COOLDOWN_SECONDS = 30;
const DEFAULT_JWKS_MAX_STALE_SECONDS = 600;

interface Common {
  stamps: StampRequirement;
  /** `''` or a path prefix, put before the request target a stamp is checked against. */
  basePath: string;
  cookieName: string | null;
  /** Empty when no cookie is read. */
  allowedOrigins: readonly string[];
  clock: Clock;
  logger: Logger;
  fetch: FetchFunction;
}

export type ResolvedOptions = Common &
  (
    | { mode: 'engine'; engine: Latchkey; appId: string }
    | {
        mode: 'remote';
        introspectUrl: string;
        apiKey: string;
        cacheMs: number;
        timeoutMs: number;
        maxCacheEntries: number;
      }
    | ({ mode: 'jwt' } & JwtSettings)
  );

function invalid(field: string, message: string): LatchkeyError {
  return new LatchkeyError('CONFIG_INVALID', { message: `${field}: ${message}`, field });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(field: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (value[key] !== undefined && !allowed.includes(key)) throw invalid(`${field}.${key}`, 'unknown option');
  }
}

function seconds(field: string, value: unknown, fallback: number, range: { min: number; max: number }): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < range.min || value > range.max) {
    throw invalid(field, `expected a number of seconds from ${range.min} to ${range.max}`);
  }
  return value;
}

function text(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) throw invalid(field, 'expected a non-empty string');
  return value;
}

function httpUrl(field: string, value: unknown): URL {
  const raw = text(field, value);
  if (!URL.canParse(raw)) throw invalid(field, 'expected an http(s) URL');
  const url = new URL(raw);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(field, 'expected an http(s) URL');
  if (url.username || url.password || url.search || url.hash)
    throw invalid(field, 'expected a URL without credentials, query or fragment');
  return url;
}

/** This machine: `127.0.0.0/8`, `::1`, `localhost` (the URL parser has already normalised and lowercased the host). */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;

/** The cookie to read (none by default) and, when there is one, the origins a state-changing cookie request may come from. */
function cookieOptions(options: Record<string, unknown>): { cookieName: string | null; allowedOrigins: readonly string[] } {
  const cookieName = options.cookieName ?? null;
  if (cookieName !== null && (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName))) {
    throw invalid('cookieName', 'expected a cookie name (RFC 6265 token) or null');
  }
  const origins = options.allowedOrigins;
  if (cookieName === null) {
    if (origins !== undefined) throw invalid('allowedOrigins', 'only with cookieName (no cookie is read without one)');
    return { cookieName, allowedOrigins: Object.freeze([]) };
  }
  if (origins === undefined) {
    throw invalid(
      'allowedOrigins',
      'required with cookieName: the origins that may send state-changing requests with the cookie',
    );
  }
  if (!Array.isArray(origins)) throw invalid('allowedOrigins', 'expected a list of origins (https://app.example.com)');
  if (origins.length === 0) throw invalid('allowedOrigins', 'expected at least one origin');
  origins.forEach((origin: unknown, i) => {
    const field = `allowedOrigins[${i}]`;
    const url = typeof origin === 'string' && URL.canParse(origin) ? new URL(origin) : null;
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin === 'null') {
      throw invalid(field, 'expected an http(s) origin such as https://app.example.com');
    }
    // Browsers send the serialised origin; anything else (a path, a default port, capitals) would never match.
    if (url.origin !== origin) throw invalid(field, `expected an origin, as browsers send it: "${url.origin}"`);
  });
  return { cookieName, allowedOrigins: Object.freeze([...(origins as string[])]) };
}

/** A path prefix: `/` and segments of RFC 3986 path characters (no `?`, `#`, spaces), no trailing `/` (as the server's). */
const BASE_PATH_PATTERN = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;

function basePathOption(value: unknown, mode: ResolvedOptions['mode']): string {
  if (value === undefined || value === '') return '';
  if (typeof value !== 'string' || value.length > 256 || !BASE_PATH_PATTERN.test(value)) {
    throw invalid('basePath', "'' or a path that starts with / and does not end with one, e.g. /latchkey");
  }
  if (mode === 'jwt') {
    throw invalid('basePath', 'has no use in JWT mode: it cannot verify stamps, which are what basePath is for');
  }
  return value;
}

function stampRequirement(field: string, value: unknown): StampRequirement {
  if (value !== 'optional' && value !== 'required') throw invalid(field, "expected 'optional' or 'required'");
  return value;
}

function jwtCannotStamp(field: string): LatchkeyError {
  return invalid(
    field,
    "'required' is not available in JWT mode: stamps are checked against the session keys, which only the engine " +
      'and remote modes can reach; guard the routes that require stamps with an engine or remote authenticator',
  );
}

/**
 * Validates a guard's own options when the guard is made: known keys, `stamps` and `isWrite` values,
 * and no `stamps: 'required'` in JWT mode. The result is frozen.
 */
export function resolveGuardOptions(options: GuardOptions | undefined, mode: ResolvedOptions['mode']): Readonly<GuardOptions> {
  if (options === undefined) return Object.freeze({});
  if (!isObject(options)) throw invalid('guard options', 'expected { stamps?, isWrite? }');
  onlyKeys('guard options', options, ['stamps', 'isWrite']);
  const resolved: GuardOptions = {};
  if (options.stamps !== undefined) resolved.stamps = stampRequirement('stamps', options.stamps);
  if (resolved.stamps === 'required' && mode === 'jwt') throw jwtCannotStamp('stamps');
  if (options.isWrite !== undefined) {
    if (typeof options.isWrite !== 'boolean') throw invalid('isWrite', 'expected true or false');
    resolved.isWrite = options.isWrite;
  }
  return Object.freeze(resolved);
}

/**
 * Validates middleware options once, when the middleware is created: exactly one mode, every value
 * in range, defaults filled in. Throws `CONFIG_INVALID` naming the option; the result is frozen.
 */
export function resolveOptions(options: WalletAuthenticationOptions): ResolvedOptions {
  if (!isObject(options)) throw invalid('options', 'expected an object with exactly one of engine, remote, jwt');
  const modes = (['engine', 'remote', 'jwt'] as const).filter((m) => options[m] !== undefined);
  if (modes.length !== 1) {
    throw invalid('options', `exactly one of engine, remote, jwt is required (got ${modes.length ? modes.join(', ') : 'none'})`);
  }
  const common = ['stamps', 'basePath', 'cookieName', 'allowedOrigins', 'clock', 'logger', 'fetch'];
  const { cookieName, allowedOrigins } = cookieOptions(options);
  const stamps = stampRequirement('stamps', options.stamps ?? 'optional');
  if (stamps === 'required' && options.jwt !== undefined) throw jwtCannotStamp('stamps');
  const basePath = basePathOption(options.basePath, modes[0]!);
  const clock = options.clock ?? systemClock;
  if (typeof clock.now !== 'function') throw invalid('clock', 'expected { now(): number }');
  const logger = options.logger ?? silentLogger;
  if (typeof logger.error !== 'function' || typeof logger.warn !== 'function') throw invalid('logger', 'expected a Logger');
  const fetchFunction = options.fetch ?? ((input: string, init: RequestInit) => globalThis.fetch(input, init));
  if (typeof fetchFunction !== 'function') throw invalid('fetch', 'expected a function');
  const base: Common = { stamps, basePath, cookieName, allowedOrigins, clock, logger, fetch: fetchFunction };

  if (options.engine !== undefined) {
    onlyKeys('options', options, [...common, 'engine', 'appId']);
    const engine = options.engine;
    const candidate = engine as Partial<Latchkey>;
    if (!isObject(engine) || typeof candidate.validateSession !== 'function' || typeof candidate.appIds !== 'function') {
      throw invalid('engine', 'expected a Latchkey instance');
    }
    const appId = options.appId ?? DEFAULT_APP_ID;
    if (typeof appId !== 'string' || !APP_ID_PATTERN.test(appId))
      throw invalid('appId', `expected an app id matching ${APP_ID_PATTERN}`);
    if (!engine.appIds().includes(appId)) throw invalid('appId', `the engine has no app "${appId}"`);
    return Object.freeze({ ...base, mode: 'engine', engine, appId });
  }

  if (options.remote !== undefined) {
    onlyKeys('options', options, [...common, 'remote']);
    const remote = options.remote;
    if (!isObject(remote)) throw invalid('remote', 'expected { url, apiKey, cacheSeconds? }');
    onlyKeys('remote', remote, ['url', 'apiKey', 'allowInsecureHttp', 'cacheSeconds', 'timeoutSeconds', 'maxCacheEntries']);
    const url = httpUrl('remote.url', remote.url);
    const allowInsecureHttp = remote.allowInsecureHttp ?? false;
    if (typeof allowInsecureHttp !== 'boolean') throw invalid('remote.allowInsecureHttp', 'expected true or false');
    if (url.protocol === 'http:' && !isLoopback(url.hostname) && !allowInsecureHttp) {
      throw invalid(
        'remote.url',
        `http:// to ${url.hostname} would send the API key in clear: use https://, a loopback host, or allowInsecureHttp: true`,
      );
    }
    const apiKey = text('remote.apiKey', remote.apiKey);
    if (!/^lka_[\x21-\x7e]+$/.test(apiKey)) throw invalid('remote.apiKey', 'expected an app API key (lka_…)');
    const cacheSeconds = seconds('remote.cacheSeconds', remote.cacheSeconds, DEFAULT_CACHE_SECONDS, {
      min: 0,
      max: MAX_CACHE_SECONDS,
    });
    const timeoutSeconds = seconds('remote.timeoutSeconds', remote.timeoutSeconds, DEFAULT_TIMEOUT_SECONDS, {
      min: 0.01,
      max: 60,
    });
    const maxCacheEntries = remote.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
    if (!Number.isInteger(maxCacheEntries) || maxCacheEntries < 1 || maxCacheEntries > 10_000_000) {
      throw invalid('remote.maxCacheEntries', 'expected an integer from 1 to 10000000');
    }
    return Object.freeze({
      ...base,
      mode: 'remote',
      introspectUrl: `${url.origin}${url.pathname.replace(/\/+$/, '')}/v1/sessions/introspect`,
      apiKey,
      cacheMs: cacheSeconds * 1000,
      timeoutMs: timeoutSeconds * 1000,
      maxCacheEntries,
    });
  }

  onlyKeys('options', options, [...common, 'jwt']);
  const jwt = options.jwt;
  if (!isObject(jwt)) throw invalid('jwt', 'expected { jwks | jwksUrl, issuer, audience }');
  onlyKeys('jwt', jwt, [
    'jwks',
    'jwksUrl',
    'issuer',
    'audience',
    'roles',
    'clockSkewSeconds',
    'jwksCacheSeconds',
    'jwksCooldownSeconds',
    'jwksMaxStaleSeconds',
    'timeoutSeconds',
  ]);
  if ((jwt.jwks === undefined) === (jwt.jwksUrl === undefined)) throw invalid('jwt', 'exactly one of jwks, jwksUrl is required');
  let jwks: { keys: readonly PublicJwkInput[] } | null = null;
  if (jwt.jwks !== undefined) {
    if (!isObject(jwt.jwks) || !Array.isArray(jwt.jwks.keys))
      throw invalid('jwt.jwks', 'expected a JWKS document { keys: [...] }');
    jwks = { keys: Object.freeze([...jwt.jwks.keys]) };
  }
  const jwksUrl = jwt.jwksUrl === undefined ? null : httpUrl('jwt.jwksUrl', jwt.jwksUrl).href;
  const roles = jwt.roles ?? {};
  if (!isObject(roles) || !Object.values(roles).every((p) => Array.isArray(p) && p.every((x) => typeof x === 'string'))) {
    throw invalid('jwt.roles', 'expected { role: [permission, …] }');
  }
  return Object.freeze({
    ...base,
    mode: 'jwt',
    jwks,
    jwksUrl,
    issuer: text('jwt.issuer', jwt.issuer),
    audience: text('jwt.audience', jwt.audience),
    roles,
    clockSkewSeconds: seconds('jwt.clockSkewSeconds', jwt.clockSkewSeconds, DEFAULT_CLOCK_SKEW_SECONDS, { min: 0, max: 300 }),
    jwksCacheMs:
      seconds('jwt.jwksCacheSeconds', jwt.jwksCacheSeconds, DEFAULT_JWKS_CACHE_SECONDS, { min: 1, max: 86_400 }) * 1000,
    jwksCooldownMs:
      seconds('jwt.jwksCooldownSeconds', jwt.jwksCooldownSeconds, DEFAULT_JWKS_COOLDOWN_SECONDS, { min: 0, max: 3600 }) * 1000,
    jwksMaxStaleMs:
      seconds('jwt.jwksMaxStaleSeconds', jwt.jwksMaxStaleSeconds, DEFAULT_JWKS_MAX_STALE_SECONDS, { min: 0, max: 86_400 }) * 1000,
    timeoutMs: seconds('jwt.timeoutSeconds', jwt.timeoutSeconds, DEFAULT_TIMEOUT_SECONDS, { min: 0.01, max: 60 }) * 1000,
  });
}
