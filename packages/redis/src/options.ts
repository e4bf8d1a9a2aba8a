import { LatchkeyError } from '@latchkey/core';
import { Cluster, Redis } from 'ioredis';

/** What `new RedisStore(options)` accepts. Validated once, at construction; bad options throw. */
export interface RedisStoreOptions {
  /**
   * A client to use (standalone `Redis` or `Cluster`). The store never quits it; its owner does.
   * Leave its ioredis `keyPrefix` unset and use `keyPrefix` here instead. A `Cluster` must keep
   * ioredis' default `scaleReads: 'master'`: validation is a plain HMGET, and a replica that lags
   * would still answer for a session that was just revoked or rotated.
   * Default: none; the store creates a client from `url`.
   */
  client?: Redis | Cluster;
  /** Where to connect when no `client` is given. Default `'redis://127.0.0.1:6379'`. */
  url?: string;
  /** Prepended to every key; must not contain `{` or `}` (they would move the Cluster hash tag). Default `'lk:'`. */
  keyPrefix?: string;
  /**
   * Milliseconds a command (or waiting for a connection) may take before the method throws.
   * Applied to the client the store creates; a passed-in client keeps its own settings.
   * Default `1000`.
   */
  commandTimeoutMs?: number;
  /**
   * Milliseconds a session's hash outlives its expiry before Redis drops it by TTL, so that
   * `cleanupExpired` can still return (and audit) it. Reads treat it as expired all along.
   * `0` lets Redis drop a session the moment it expires. Default `3_600_000` (one hour).
   */
  expiredRetentionMs?: number;
}

export interface ResolvedRedisStoreOptions {
  readonly client: Redis | Cluster | undefined;
  readonly url: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly expiredRetentionMs: number;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_KEY_PREFIX = 'lk:';
const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
const DEFAULT_EXPIRED_RETENTION_MS = 3_600_000;

/** `got` is echoed only for values that cannot hold a secret (a URL may carry a password). */
function fail(name: string, expected: string, got: unknown): never {
  const shown = name === 'url' || name === 'client' ? typeof got : (JSON.stringify(got) ?? String(got));
  throw new LatchkeyError('CONFIG_INVALID', {
    message: `RedisStore option ${name}: expected ${expected}, got ${shown}`,
    field: name,
  });
}

export function resolveOptions(options: RedisStoreOptions = {}): ResolvedRedisStoreOptions {
  const { client, url, keyPrefix = DEFAULT_KEY_PREFIX } = options;
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const expiredRetentionMs = options.expiredRetentionMs ?? DEFAULT_EXPIRED_RETENTION_MS;
  if (client !== undefined && !(client instanceof Redis) && !(client instanceof Cluster)) {
    fail('client', 'an ioredis Redis or Cluster', typeof client);
  }
  if (client instanceof Cluster && client.options.scaleReads !== 'master') {
    // Reads sent to replicas could see a session after its revocation, or a refresh hash after its rotation.
    throw new LatchkeyError('CONFIG_INVALID', {
      message: "RedisStore option client: a Cluster must read from masters only (scaleReads: 'master')",
      field: 'client',
    });
  }
  if (client !== undefined && url !== undefined) fail('url', 'no url when a client is given', url);
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url)))
    fail('url', 'a redis:// or rediss:// URL', url);
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix)) fail('keyPrefix', 'a string without { or }', keyPrefix);
  if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs <= 0) {
    fail('commandTimeoutMs', 'a positive integer (milliseconds)', commandTimeoutMs);
  }
  if (!Number.isSafeInteger(expiredRetentionMs) || expiredRetentionMs < 0) {
    fail('expiredRetentionMs', 'a non-negative integer (milliseconds)', expiredRetentionMs);
  }
  return Object.freeze({ client, url: url ?? DEFAULT_URL, keyPrefix, commandTimeoutMs, expiredRetentionMs });
}
