import { STATS_COUNTERS, type StatsCounter, type StoreStats, zeroCounters } from '@latchkey/core';
import type Database from 'better-sqlite3';
import { LIVE } from './sql.js';

/** The counters and the live-session tallies of one connection. */
export class Stats {
  readonly #increment: Database.Transaction<(appId: string, deltas: [string, number][]) => void>;
  readonly #read: Database.Transaction<(appId: string, now: number) => StoreStats>;

  constructor(db: Database.Database) {
    const sql = prepareStatements(db);
    this.#increment = db.transaction((appId: string, deltas: [string, number][]): void => {
      for (const [name, delta] of deltas) sql.addCounter.run(appId, name, delta);
    });
    this.#read = db.transaction((appId: string, now: number): StoreStats => {
      const counters = zeroCounters();
      for (const { name, value } of sql.readCounters.all(appId)) {
        if ((STATS_COUNTERS as readonly string[]).includes(name)) counters[name as StatsCounter] = value;
      }
      const stats: StoreStats = { active: 0, byChain: {}, byAuthMethod: {}, counters };
      for (const { chain_type, auth_method, n } of sql.liveGroups.all(appId, now)) {
        stats.active += n;
        stats.byChain[chain_type] = (stats.byChain[chain_type] ?? 0) + n;
        stats.byAuthMethod[auth_method] = (stats.byAuthMethod[auth_method] ?? 0) + n;
      }
      return stats;
    });
  }

  /** Adds every delta in one `.immediate` transaction, so they land together. */
  increment(appId: string, deltas: [string, number][]): void {
    this.#increment.immediate(appId, deltas);
  }

  /** Deferred: a read snapshot, so the live counts and the counters come from one moment. */
  read(appId: string, now: number): StoreStats {
    return this.#read.deferred(appId, now);
  }
}

function prepareStatements(db: Database.Database) {
  return {
    liveGroups: db.prepare<[string, number], { chain_type: string; auth_method: string; n: number }>(
      `SELECT chain_type, auth_method, count(*) AS n FROM sessions WHERE app_id = ? AND ${LIVE} GROUP BY chain_type, auth_method`,
    ),
    addCounter: db.prepare<[string, string, number]>(
      'INSERT INTO counters (app_id, name, value) VALUES (?, ?, ?) ON CONFLICT (app_id, name) DO UPDATE SET value = value + excluded.value',
    ),
    readCounters: db.prepare<[string], { name: string; value: number }>('SELECT name, value FROM counters WHERE app_id = ?'),
  };
}
