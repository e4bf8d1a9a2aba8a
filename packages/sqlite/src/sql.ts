/** SQL and statement plumbing that more than one concept's statements share. */

import type Database from 'better-sqlite3';

export type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

/** The condition for a live row; binds `now`. */
export const LIVE = 'expires_at > ?';

/** SQLite's LIMIT takes an integer, and -1 for none; callers may pass Infinity for "all". */
export const sqlLimit = (n: number): number => (Number.isFinite(n) ? n : -1);
