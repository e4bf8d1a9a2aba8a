/**
 * Validations and refreshes per second, in process, for each store, beside the bare operation a user
 * would otherwise run against the same backend (Map.get, one SQLite primary-key SELECT, one ioredis GET).
 * Bounded: each case runs LATCHKEY_BENCH_SECONDS (default 3) and the whole run stops by itself.
 * Redis must answer on 127.0.0.1:6379; the run uses its own key prefix and deletes it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IssuedSession, Latchkey, MemoryStore, type Store } from '@latchkey/core';
import { RedisStore } from '@latchkey/redis';
import { SqliteStore } from '@latchkey/sqlite';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';

const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.LATCHKEY_BENCH_CONCURRENCY ?? 32);
const SESSIONS = 1000;
const ACCOUNT = (i: number): string => `eip155:1:0x${i.toString(16).padStart(40, '0')}`;

interface Row {
  store: string;
  operation: string;
  opsPerSecond: number;
}
const rows: Row[] = [];

/** Runs `op` from CONCURRENCY workers until the time is up; returns completed operations per second. */
async function measure(op: (worker: number, i: number) => Promise<unknown> | unknown): Promise<number> {
  const warmUntil = performance.now() + 300;
  let w = 0;
  while (performance.now() < warmUntil) await op(0, w++);
  let done = 0;
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      let i = 0;
      while (performance.now() < end) {
        await op(worker, i++);
        done += 1;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

function record(store: string, operation: string, opsPerSecond: number): void {
  rows.push({ store, operation, opsPerSecond });
  console.log(
    `${store.padEnd(8)} ${operation.padEnd(34)} ${Math.round(opsPerSecond).toLocaleString('en-US').padStart(10)} ops/s`,
  );
}

async function benchEngine(name: string, store: Store): Promise<void> {
  const latchkey = new Latchkey({ store, cleanupIntervalSeconds: 0, defaults: { maxSessionsPerWallet: 1000 } });
  const issued: IssuedSession[] = [];
  for (let i = 0; i < SESSIONS; i++) issued.push(await latchkey.createSession({ account: ACCOUNT(i), authMethod: 'siwe' }));
  record(
    name,
    'latchkey validateSession',
    await measure(async (worker, i) => {
      const r = await latchkey.validateSession(issued[(worker * 7919 + i) % SESSIONS]!.token);
      if (!r.valid) throw new Error(`validation failed: ${r.code}`);
    }),
  );
  const chains = issued.slice(0, CONCURRENCY).map((s) => s.refreshToken);
  record(
    name,
    'latchkey refreshSession',
    await measure(async (worker) => {
      const next = await latchkey.refreshSession(chains[worker]!);
      chains[worker] = next.refreshToken;
    }),
  );
  latchkey.close();
}

async function main(): Promise<void> {
  console.log(`Latchkey bench: ${SECONDS}s per case, ${CONCURRENCY} concurrent callers, ${SESSIONS} sessions`);
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, node ${process.version}\n`);

  // memory
  const map = new Map(Array.from({ length: SESSIONS }, (_, i) => [String(i), { id: i }]));
  record('memory', 'baseline Map.get', await measure((worker, i) => map.get(String((worker * 7919 + i) % SESSIONS))));
  await benchEngine('memory', new MemoryStore());

  // sqlite
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  try {
    const db = new Database(join(dir, 'baseline.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE s (id TEXT PRIMARY KEY, body TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO s VALUES (?, ?)');
    const body = 'x'.repeat(600);
    db.transaction(() => {
      for (let i = 0; i < SESSIONS; i++) insert.run(String(i), body);
    })();
    const select = db.prepare('SELECT body FROM s WHERE id = ?');
    record(
      'sqlite',
      'baseline SELECT by primary key',
      await measure((worker, i) => select.get(String((worker * 7919 + i) % SESSIONS))),
    );
    db.close();
    const sqlite = new SqliteStore({ path: join(dir, 'latchkey.db') });
    await benchEngine('sqlite', sqlite);
    await sqlite.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // redis
  const prefix = `lkbench:${randomBytes(4).toString('hex')}:`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const body = 'x'.repeat(600);
    for (let i = 0; i < SESSIONS; i++) await redis.set(`${prefix}get:${i}`, body);
    record(
      'redis',
      'baseline ioredis GET',
      await measure((worker, i) => redis.get(`${prefix}get:${(worker * 7919 + i) % SESSIONS}`)),
    );
    // The store's own client batches the commands of one tick into one socket write; so can a bare loop.
    const piped = new Redis({ host: '127.0.0.1', port: 6379, enableAutoPipelining: true, maxRetriesPerRequest: 1 });
    record(
      'redis',
      'baseline ioredis GET, auto-pipelined',
      await measure((worker, i) => piped.get(`${prefix}get:${(worker * 7919 + i) % SESSIONS}`)),
    );
    piped.disconnect();
    const store = new RedisStore({ keyPrefix: prefix });
    await benchEngine('redis', store);
    await store.close();
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  }

  const get = (store: string, op: string): number =>
    rows.find((r) => r.store === store && r.operation.startsWith(op))?.opsPerSecond ?? Number.NaN;
  const validate = get('redis', 'latchkey validateSession');
  const percent = (baseline: string): string => `${((validate / get('redis', baseline)) * 100).toFixed(0)}%`;
  console.log(`\nredis validateSession / bare GET: ${percent('baseline ioredis GET')} (goal: at least 80%)`);
  console.log(`redis validateSession / auto-pipelined GET: ${percent('baseline ioredis GET, auto')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
