import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MemoryStore, type Store } from '@latchkey/core';
import { RedisStore } from '@latchkey/redis';
import { openSqliteStore } from '@latchkey/sqlite';
import { UsageError } from './errors.js';

/** Where the data lives, as parsed from `--store`, `LATCHKEY_STORE` or the config file's `store`. */
export type StoreSpec =
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string; keyPrefix: string | undefined }
  | { kind: 'memory' };

/** The working-directory folder for the embedded defaults: the SQLite file and generated keys. */
export const LOCAL_DIR = '.latchkey';
export const DEFAULT_SQLITE_FILE = 'latchkey.db';

/**
 * `sqlite:PATH` (relative to `cwd`), `redis://…` / `rediss://…` (an optional `prefix` query
 * parameter sets the key prefix, default `lk:`), or `memory`. `source` names the flag, variable or
 * config field in the error.
 */
export function parseStoreSpec(text: string, options: { cwd: string; source: string }): StoreSpec {
  if (text === 'memory') return { kind: 'memory' };
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length);
    if (path === '' || path === ':memory:')
      throw new UsageError(options.source, 'sqlite: needs a file path, e.g. sqlite:./data/latchkey.db');
    return { kind: 'sqlite', path: resolve(options.cwd, path) };
  }
  if (/^rediss?:\/\//.test(text)) {
    if (!URL.canParse(text)) throw new UsageError(options.source, 'not a valid redis:// URL');
    const url = new URL(text);
    const keyPrefix = url.searchParams.get('prefix') ?? undefined;
    if (keyPrefix !== undefined && (keyPrefix === '' || /[{}]/.test(keyPrefix)))
      throw new UsageError(options.source, 'prefix must be non-empty and hold no { or }');
    // ioredis reads query parameters as client options; the prefix is ours, so it goes.
    url.searchParams.delete('prefix');
    return { kind: 'redis', url: url.toString(), keyPrefix };
  }
  throw new UsageError(options.source, `expected sqlite:PATH, redis://HOST:PORT or memory, got "${redactUrl(text)}"`);
}

/** The default store: `./.latchkey/latchkey.db`. */
export function defaultStoreSpec(cwd: string): StoreSpec {
  return { kind: 'sqlite', path: resolve(cwd, LOCAL_DIR, DEFAULT_SQLITE_FILE) };
}

/** A line for humans: never a password. */
export function describeStore(spec: StoreSpec): string {
  switch (spec.kind) {
    case 'memory':
      return 'memory (nothing survives a restart)';
    case 'sqlite':
      return `sqlite:${spec.path}`;
    case 'redis':
      return `${redactUrl(spec.url)} (key prefix ${spec.keyPrefix ?? 'lk:'})`;
  }
}

function redactUrl(text: string): string {
  if (!URL.canParse(text)) return text.replace(/\/\/[^@/]*@/, '//***@');
  const url = new URL(text);
  if (url.password) url.password = '***';
  return url.toString();
}

/** Opens the store and proves it answers (a Redis that is down fails here, not on the first request). */
export async function openStore(spec: StoreSpec): Promise<Store> {
  switch (spec.kind) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite': {
      const dir = dirname(spec.path);
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        chmodSync(dir, 0o700);
      }
      return openSqliteStore({ path: spec.path });
    }
    case 'redis': {
      const store = new RedisStore(
        spec.keyPrefix === undefined ? { url: spec.url } : { url: spec.url, keyPrefix: spec.keyPrefix },
      );
      try {
        await store.ping();
      } catch (error) {
        await store.close().catch(() => {});
        throw error;
      }
      return store;
    }
  }
}
