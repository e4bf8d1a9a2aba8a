import type Database from 'better-sqlite3';

/** Stored in `PRAGMA user_version`. Bump it, and add a step to `MIGRATIONS`, for every schema change. */
export const SCHEMA_VERSION = 3;

/**
 * Step `i` takes a file from version `i` to `i + 1`. Every statement is idempotent so that two
 * processes opening the same fresh file cannot trip over each other.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE IF NOT EXISTS sessions (
    app_id              TEXT    NOT NULL,
    id                  TEXT    NOT NULL,
    subject             TEXT    NOT NULL,
    chain_type          TEXT    NOT NULL,
    user_id             TEXT,
    auth_method         TEXT    NOT NULL,
    scope               TEXT    NOT NULL,
    roles               TEXT    NOT NULL,
    device              TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    last_active_at      INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    -- Derived, so it can never disagree with the two expiries it summarises.
    expires_at          INTEGER GENERATED ALWAYS AS (min(idle_expires_at, absolute_expires_at)) VIRTUAL,
    token_hash          TEXT    NOT NULL,
    refresh             TEXT    NOT NULL,
    data                TEXT,
    PRIMARY KEY (app_id, id)
  );
  CREATE INDEX IF NOT EXISTS sessions_by_wallet ON sessions (app_id, subject, created_at, id);
  CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at, app_id, id);

  CREATE TABLE IF NOT EXISTS audit (
    app_id     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    session_id TEXT,
    subject    TEXT,
    details    TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    PRIMARY KEY (app_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS audit_by_subject ON audit (app_id, subject, at);

  -- The head lives apart from the entries so that deleting the newest entry cannot rewind the
  -- chain: the next append still links to the deleted hash, and verification sees the gap.
  CREATE TABLE IF NOT EXISTS audit_heads (
    app_id TEXT    NOT NULL PRIMARY KEY,
    seq    INTEGER NOT NULL,
    hash   TEXT    NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE IF NOT EXISTS counters (
    app_id TEXT    NOT NULL,
    name   TEXT    NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (app_id, name)
  ) WITHOUT ROWID;
  `,
  // 1 → 2: short-lived entries (nonces, replay caches, signing keys). A rowid table, so cleanup can
  // delete expired rows in bounded batches by rowid.
  `
  CREATE TABLE IF NOT EXISTS entries (
    app_id     TEXT    NOT NULL,
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, namespace, key)
  );
  CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (expires_at);
  `,
  // 2 → 3: `scanEntries` pages through one namespace by expiry. Without this index each page would
  // read the whole namespace (the primary key) or every app's entries (entries_by_expiry).
  `
  CREATE INDEX IF NOT EXISTS entries_by_namespace_expiry ON entries (app_id, namespace, expires_at);
  `,
];

/**
 * Brings the file to `SCHEMA_VERSION` inside one immediate transaction, so a second process opening
 * the same file waits for the first to finish instead of seeing half a schema. Refuses a file
 * written by a newer version rather than guessing at its layout.
 */
export function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`database schema version ${version} is newer than this @latchkey/sqlite supports (${SCHEMA_VERSION})`);
    }
    for (let v = version; v < SCHEMA_VERSION; v += 1) db.exec(MIGRATIONS[v]!);
    if (version !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
