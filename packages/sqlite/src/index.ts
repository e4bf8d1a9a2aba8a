export { SCHEMA_VERSION } from './schema.js';
export { SqliteStore, type SqliteStoreOptions } from './store.js';

import { SqliteStore, type SqliteStoreOptions } from './store.js';

/**
 * Opens (creating when absent) the SQLite file at `options.path` as a Latchkey store.
 * Throws `LatchkeyError` (`CONFIG_INVALID` or `STORE_UNAVAILABLE`) when it cannot.
 *
 * @example
 * ```ts
 * const store = openSqliteStore({ path: '/var/lib/latchkey/sessions.db' });
 * ```
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
