import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  type AppSettingsInput,
  cryptoRandom,
  type DataKeyRing,
  DEFAULT_APP_ID,
  isLatchkeyError,
  Latchkey,
  type LatchkeyOptions,
  SessionDataCipher,
  type SmartAccountVerifier,
  type Store,
} from '@latchkey/core';
import { normalizeRelayUrl } from '@latchkey/protocol/connect';
import { createPublicClient, http } from 'viem';
import type { TrustProxy } from '../http/options.js';
import { type RelayOptions, resolveRelayOptions } from '../relay/options.js';
import { loadStoredApps } from './apps.js';
import { type ResolvedDataKeys, resolveDataKeys } from './data-keys.js';
import { UsageError } from './errors.js';
import { type ConfigFile, readConfigFile } from './file.js';
import { defaultStoreSpec, describeStore, openStore, parseStoreSpec, type StoreSpec } from './store.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Defaults, each beaten by the config file, then the environment, then a flag. */
export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** The environment variables the CLI reads, by the flag they stand in for. */
export const ENV = {
  port: 'LATCHKEY_PORT',
  host: 'LATCHKEY_HOST',
  store: 'LATCHKEY_STORE',
  config: 'LATCHKEY_CONFIG',
  logLevel: 'LATCHKEY_LOG_LEVEL',
  relay: 'LATCHKEY_RELAY',
} as const;

export interface RuntimeRequest {
  /** Relative paths (`sqlite:PATH`, `--config`, `./.latchkey/`) resolve against this. */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Raw flag values as typed; each beats its environment variable. */
  flags?: { store?: string; config?: string; host?: string; port?: string; logLevel?: string; relay?: string };
}

/** What `createServer` takes beside the engine, the store, the logger and the data keys. */
export interface ServerSettings {
  cookies?: { secure?: boolean };
  rateLimits?: { windowSeconds?: number; nonce?: number; signIn?: number; refresh?: number };
  trustProxy?: TrustProxy;
  metrics?: { statsIntervalSeconds?: number };
  basePath?: string;
  relay?: RelayOptions;
}

/** Which conveniences the default app got because the config left them out. */
export interface LocalDefaults {
  signIn: boolean;
  accessTokens: boolean;
  /** The connect bridge accepts tokens naming this server's own relay (`POST /v1/auth/connect`). */
  connect: boolean;
}

/**
 * Everything a command works with: the engine and the store it was built on, and the server's
 * settings. `serve` and every other command get theirs from `openRuntime`, so they cannot disagree.
 */
export interface Runtime {
  readonly latchkey: Latchkey;
  readonly store: Store;
  /** The store for humans (never a password). */
  readonly storeLabel: string;
  readonly host: string;
  /** As configured; 0 means any free port (`serveAt` then names the real one). */
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly server: ServerSettings;
  /** Where the relay keeps its channels, for humans; null when the relay is off. */
  readonly relayLabel: string | null;
  /** Where the data keys came from (never the keys). */
  readonly dataKeys: Omit<ResolvedDataKeys, 'ring'>;
  /** The data keys themselves, for `createServer` (to open stored app secrets). Never print it. */
  readonly dataKeyRing: DataKeyRing;
  /** Seals and opens the secrets of stored app settings (`apps create`). */
  readonly cipher: SessionDataCipher;
  readonly localDefaults: LocalDefaults;
  /** Apps read from the store at start. */
  readonly storedApps: readonly string[];
  /** Lines worth a warning at start (local keys, unreadable stored apps). */
  readonly warnings: readonly string[];
  /** The URL of `host:port`, IPv6 in brackets. */
  urlFor(port: number): string;
  /** Points the default app's local sign-in and access-token audience at the URL actually served. */
  serveAt(url: string): void;
  /** Stops the engine's timers and closes the store. */
  close(): Promise<void>;
}

interface Settings {
  config: ConfigFile;
  store: StoreSpec;
  host: string;
  port: number;
  logLevel: LogLevel;
  isRelayOn: boolean;
}

/** Flags beat the environment, which beats the config file, which beats the defaults. */
function resolveSettings(request: RuntimeRequest): Settings {
  const { cwd, env } = request;
  const flags = request.flags ?? {};
  const pick = (flag: keyof typeof ENV): { value: string; source: string } | undefined => {
    const fromFlag = flags[flag];
    if (fromFlag !== undefined) return { value: fromFlag, source: `--${flag === 'logLevel' ? 'log-level' : flag}` };
    const fromEnv = env[ENV[flag]];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: ENV[flag] };
    return undefined;
  };

  const configPath = pick('config');
  const config: ConfigFile = configPath ? readConfigFile(resolve(cwd, configPath.value)) : {};

  const storeText = pick('store') ?? (config.store === undefined ? undefined : { value: config.store, source: 'config store' });
  const store = storeText ? parseStoreSpec(storeText.value, { cwd, source: storeText.source }) : defaultStoreSpec(cwd);

  const portText = pick('port');
  let port = config.server?.port ?? DEFAULT_PORT;
  if (portText) {
    if (!/^[0-9]{1,5}$/.test(portText.value) || Number(portText.value) > 65_535)
      throw new UsageError(portText.source, `expected a port number 0-65535 (0: any free port), got "${portText.value}"`);
    port = Number(portText.value);
  }

  const hostText = pick('host');
  const host = hostText?.value ?? config.server?.host ?? DEFAULT_HOST;
  if (hostText && !/^[A-Za-z0-9.:_-]{1,255}$/.test(hostText.value))
    throw new UsageError(hostText.source, `expected a host name or IP address, got "${hostText.value}"`);

  const levelText = pick('logLevel');
  let logLevel = config.server?.logLevel ?? DEFAULT_LOG_LEVEL;
  if (levelText) {
    if (!(LOG_LEVELS as readonly string[]).includes(levelText.value))
      throw new UsageError(levelText.source, `expected one of ${LOG_LEVELS.join(', ')}, got "${levelText.value}"`);
    logLevel = levelText.value as LogLevel;
  }
  const relayText = pick('relay');
  let isRelayOn = config.relay?.enabled ?? true;
  if (relayText) {
    if (relayText.value !== 'on' && relayText.value !== 'off')
      throw new UsageError(relayText.source, `expected on or off, got "${relayText.value}"`);
    isRelayOn = relayText.value === 'on';
  }
  return { config, store, host, port, logLevel, isRelayOn };
}

/**
 * The relay's options from the config file: its limits, and Redis when `relay.redisUrl` names one or the
 * store is Redis (channels shared by every node on it), else channels in memory. Checked here, so a bad
 * value is a UsageError naming the field before anything listens.
 */
function relaySettings(settings: Settings, cwd: string): { options: RelayOptions; label: string } | null {
  if (!settings.isRelayOn) return null;
  const { enabled: _enabled, redisUrl, ...limits } = settings.config.relay ?? {};
  const spec = redisUrl === undefined ? settings.store : parseStoreSpec(redisUrl, { cwd, source: 'config relay.redisUrl' });
  const options: RelayOptions = { ...limits };
  if (spec.kind === 'redis')
    options.redis = spec.keyPrefix === undefined ? { url: spec.url } : { url: spec.url, keyPrefix: spec.keyPrefix };
  try {
    resolveRelayOptions(options);
  } catch (error) {
    if (!isLatchkeyError(error, 'CONFIG_INVALID')) throw error;
    throw new UsageError(`config ${error.field ?? 'relay'}`, error.message.replace(/^relay\.[\w.]*: /, ''));
  }
  const label =
    spec.kind === 'redis'
      ? `channels in ${describeStore(spec)}, shared by every node on it`
      : 'channels in memory (this node only)';
  return { options, label };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function urlFor(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The URL as a relay URL connect tokens may name, or null (http on a host that is not loopback). */
function relayUrlOf(url: string): string | null {
  try {
    return normalizeRelayUrl(url);
  } catch {
    return null;
  }
}

/**
 * The default app's local conveniences, so a newcomer can sign in at once: Sign-In with Ethereum
 * for this server's own host:port (chain 1), EdDSA access tokens whose audience is its URL, and, with
 * the relay on, the connect bridge for tokens naming this server's relay (when its URL can be one).
 * Each applies only when the config leaves it out.
 */
function localAppSettings(
  config: ConfigFile,
  url: string,
  isRelayOn: boolean,
): { settings: AppSettingsInput; applied: LocalDefaults } {
  const defaults = (config.defaults ?? {}) as AppSettingsInput;
  const { host, origin } = new URL(url);
  const settings: AppSettingsInput = {};
  if (defaults.signIn === undefined) settings.signIn = { domain: host, origin, chainIds: [1] };
  if (defaults.accessTokens === undefined) settings.accessTokens = { audience: origin };
  const relayUrl = isRelayOn && defaults.connect === undefined ? relayUrlOf(url) : null;
  if (relayUrl !== null) settings.connect = { relayUrls: [relayUrl] };
  return {
    settings,
    applied: {
      signIn: defaults.signIn === undefined,
      accessTokens: defaults.accessTokens === undefined,
      connect: relayUrl !== null,
    },
  };
}

function smartAccountVerifiers(config: ConfigFile): LatchkeyOptions['smartAccounts'] {
  const smart = config.smartAccounts;
  if (!smart) return undefined;
  const timeoutMs = smart.timeoutMs ?? 5000;
  const verifiers: Record<number, SmartAccountVerifier> = {};
  for (const [chainId, url] of Object.entries(smart.rpcUrls)) {
    verifiers[Number(chainId)] = createPublicClient({ transport: http(url, { timeout: timeoutMs, retryCount: 0 }) });
  }
  return { verifiers, timeoutMs };
}

/**
 * The one place the engine options (store, keys, apps) and the server options are built, for
 * `serve` and for every other command. Reads and validates the config file once (UsageError naming
 * the field), resolves the data keys (generating local ones when none are given), opens the store,
 * builds the engine and adds the apps kept in the store.
 *
 * @example
 * const runtime = await openRuntime({ cwd: process.cwd(), env: process.env, flags: { store: 'memory' } });
 * const stats = await runtime.latchkey.getSessionStats();
 * await runtime.close();
 */
export async function openRuntime(request: RuntimeRequest): Promise<Runtime> {
  const settings = resolveSettings(request);
  const { config } = settings;
  const keys = resolveDataKeys({ cwd: request.cwd, env: request.env, config });
  const configuredUrl = urlFor(settings.host, settings.port);
  const local = localAppSettings(config, configuredUrl, settings.isRelayOn);

  const store = await openStore(settings.store);
  let latchkey: Latchkey;
  try {
    latchkey = new Latchkey({
      store,
      ...(config.defaults === undefined ? {} : { defaults: config.defaults as AppSettingsInput }),
      apps: { ...(config.apps as Record<string, AppSettingsInput> | undefined), [DEFAULT_APP_ID]: local.settings },
      dataKeys: keys.ring,
      ...(config.smartAccounts ? { smartAccounts: smartAccountVerifiers(config) } : {}),
    });
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  const cipher = new SessionDataCipher(keys.ring, cryptoRandom);
  let stored: { loaded: string[]; skipped: string[] };
  try {
    stored = await loadStoredApps(latchkey, store, cipher);
  } catch (error) {
    latchkey.close();
    await store.close().catch(() => {});
    throw error;
  }

  const server: ServerSettings = {};
  if (config.server?.cookies) server.cookies = config.server.cookies;
  // The local default: on a loopback address, plain-HTTP apps (http://127.0.0.1:8787) get cookies a browser
  // keeps. An https app's cookies stay Secure whatever this says (behind a proxy on 127.0.0.1 too).
  else if (isLoopback(settings.host)) server.cookies = { secure: false };
  if (config.server?.rateLimits) server.rateLimits = config.server.rateLimits;
  if (config.server?.trustProxy !== undefined) server.trustProxy = config.server.trustProxy;
  if (config.server?.metrics) server.metrics = config.server.metrics;
  if (config.server?.basePath !== undefined) server.basePath = config.server.basePath;
  const relay = relaySettings(settings, request.cwd);
  if (relay) server.relay = relay.options;

  const warnings = [...keys.warnings, ...stored.skipped.map((s) => `stored app skipped: ${s}`)];
  const { ring: _ring, ...dataKeys } = keys;
  let isClosed = false;
  return Object.freeze({
    latchkey,
    store,
    storeLabel: describeStore(settings.store),
    host: settings.host,
    port: settings.port,
    logLevel: settings.logLevel,
    server: Object.freeze(server),
    relayLabel: relay?.label ?? null,
    dataKeys: Object.freeze(dataKeys),
    dataKeyRing: keys.ring,
    cipher,
    localDefaults: Object.freeze(local.applied),
    storedApps: Object.freeze(stored.loaded),
    warnings: Object.freeze(warnings),
    urlFor: (port: number) => urlFor(settings.host, port),
    serveAt(url: string): void {
      if (url !== configuredUrl) latchkey.addApp(DEFAULT_APP_ID, localAppSettings(config, url, settings.isRelayOn).settings);
    },
    async close(): Promise<void> {
      if (isClosed) return;
      isClosed = true;
      latchkey.close();
      await store.close();
    },
  });
}
