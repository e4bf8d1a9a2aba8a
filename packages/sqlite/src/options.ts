import { LatchkeyError } from '@latchkey/core';

export interface SqliteStoreOptions {
  /**
   * Path of the database file. Created, with its schema, when absent; its directory must exist.
   * Several processes may open the same file: WAL lets readers run beside one writer, and writers
   * wait for each other (see `busyTimeoutMs`).
   */
  path: string;
  /** How long a statement waits for another connection's write lock before it fails, in milliseconds. Default 5000. */
  busyTimeoutMs?: number;
}

export interface ResolvedOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
}

export function resolveOptions(options: SqliteStoreOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new LatchkeyError('CONFIG_INVALID', { message: 'SqliteStore options must be an object.' });
  }
  const { path, busyTimeoutMs = 5000 } = options;
  if (typeof path !== 'string' || path.length === 0) {
    throw new LatchkeyError('CONFIG_INVALID', { field: 'path', message: 'path must be a non-empty string.' });
  }
  if (path === ':memory:' || path.startsWith('file:')) {
    // A private in-memory database cannot be shared with a second connection or survive a
    // restart, which is what this store promises; MemoryStore is the in-memory store.
    throw new LatchkeyError('CONFIG_INVALID', { field: 'path', message: 'path must name a file; use MemoryStore for memory.' });
  }
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new LatchkeyError('CONFIG_INVALID', {
      field: 'busyTimeoutMs',
      message: 'busyTimeoutMs must be a non-negative integer.',
    });
  }
  return Object.freeze({ path, busyTimeoutMs });
}
