/**
 * Authenticated `GET /v1/session` requests per second and latency, side by side in one run: the
 * Latchkey server on Redis and on SQLite, Express 5 + express-session + connect-redis, Fastify +
 * @fastify/session on Redis, a bare Fastify route doing one raw Redis GET, and bare node:http.
 *
 * Each target runs alone in a child process (bench/http-server.ts) pinned to one core when taskset
 * exists; autocannon drives it from this process, pinned to another. Every target gets 10,000
 * pre-created sessions, and every request carries the next credential in one rotation shared by all
 * connections, so no two requests in flight present the same session. Any non-2xx answer, error or
 * timeout fails the run. Bounded: LATCHKEY_BENCH_SECONDS (default 10) per target plus a 1 s warm-up,
 * after waiting up to LATCHKEY_BENCH_QUIET_SECONDS (default 60) for other jobs on the machine to calm
 * down; a CPU table says where the time went and warns when other jobs still took a share. Its Redis
 * keys (one random prefix) and temp directory are deleted and its children killed on exit.
 * LATCHKEY_BENCH_TARGETS picks targets by name; LATCHKEY_BENCH_PIN=0 leaves CPU placement to the OS.
 *
 *   node --import tsx bench/http.bench.ts
 *   LATCHKEY_BENCH_SECONDS=3 LATCHKEY_BENCH_TARGETS=latchkey-redis,node-http node --import tsx bench/http.bench.ts
 */
import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import autocannon from 'autocannon';
import { createBenchRun } from './harness.js';
import { type CpuUse, cpuBetween, readCpu, waitForQuiet } from './http-cpu.js';
import type { TargetReady } from './http-server.js';
import { isTargetName, type TargetName } from './http-targets.js';

const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 1;
const CONNECTIONS = 50;
const SESSIONS = 10_000;
const STARTUP_TIMEOUT_MS = 120_000;
/** Above this share of one core used by other processes, the run says its figures are unreliable. */
const OTHER_JOBS_WARNING = 0.1;
/** Before each target, wait (at most this long) for the machine to fall below QUIET_CORES of CPU use. */
const QUIET_WAIT_SECONDS = Number(process.env.LATCHKEY_BENCH_QUIET_SECONDS ?? 60);
const QUIET_CORES = 0.15;

const LABELS: Record<TargetName, string> = {
  'latchkey-redis': 'Latchkey server, Redis',
  'latchkey-sqlite': 'Latchkey server, SQLite',
  'express-session': 'Express 5 + express-session + connect-redis',
  'fastify-session': 'Fastify + @fastify/session, Redis',
  'fastify-redis-get': 'Fastify route, one raw Redis GET',
  'node-http': 'bare node:http, no auth (ceiling)',
};
const requested = (process.env.LATCHKEY_BENCH_TARGETS ?? Object.keys(LABELS).join(',')).split(',').map((s) => s.trim());
const unknown = requested.filter((name) => !isTargetName(name));
if (!(SECONDS > 0) || !(QUIET_WAIT_SECONDS >= 0) || unknown.length > 0) {
  console.error(
    unknown.length > 0
      ? `LATCHKEY_BENCH_TARGETS: unknown ${unknown.join(', ')}; known: ${Object.keys(LABELS).join(', ')}`
      : 'LATCHKEY_BENCH_SECONDS must be a positive number and LATCHKEY_BENCH_QUIET_SECONDS a non-negative one',
  );
  process.exit(2);
}
const targets = requested.filter(isTargetName);

/** The part of autocannon's API used here beyond what bench/autocannon.d.ts declares (the package ships no types). */
interface RequestSpec {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** Called before every request this entry sends; returns the request to send. */
  setupRequest?: (request: RequestSpec) => RequestSpec;
}
interface LoadOptions {
  url: string;
  connections: number;
  duration: number;
  /** Each connection cycles through these. */
  requests: RequestSpec[];
}
interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
const runAutocannon = autocannon as unknown as (options: LoadOptions) => Promise<LoadResult>;

const run = createBenchRun('http');
const { keyPrefix, directory, redis, pinned } = run;
// One core for the server under test, another for autocannon (when there are two and taskset exists): see ./harness.ts.
// The whole run is bounded even if a target hangs while starting or stopping.
run.limit(targets.length * ((SECONDS + WARMUP_SECONDS + QUIET_WAIT_SECONDS + 20) * 1000 + STARTUP_TIMEOUT_MS));

async function startTarget(name: TargetName): Promise<{ child: ChildProcess; ready: TargetReady }> {
  const script = new URL('./http-server.ts', import.meta.url).pathname;
  const args = ['--import', 'tsx', script, '--target', name, '--key-prefix', `${keyPrefix}${name}:`];
  args.push('--directory', directory, '--sessions', String(SESSIONS));
  const started = await run.spawnTarget({
    args,
    ready: (text) => JSON.parse(text) as TargetReady,
    timeoutMs: STARTUP_TIMEOUT_MS,
    notReady: () => `${name}: not ready within ${STARTUP_TIMEOUT_MS / 1000} s`,
    exited: (code, signal) => `${name}: server exited before listening (code ${code}, signal ${signal})`,
  });
  const { ready } = started;
  if (ready.credentials.length !== SESSIONS) throw new Error(`${name}: ${ready.credentials.length} credentials, not ${SESSIONS}`);
  return started;
}

/** A credential that looks right but names no session: its last character changed. */
const tampered = (credential: string): string => credential.slice(0, -1) + (credential.endsWith('A') ? 'B' : 'A');

/** Before measuring: a real credential passes; none, and a tampered one, are refused (so 2xx means authenticated). */
async function checkRoute(name: TargetName, url: string, ready: TargetReady): Promise<void> {
  const status = async (headers: Record<string, string>): Promise<number> => (await fetch(url, { headers })).status;
  const header = ready.credentialHeader;
  const good = await status({ [header]: ready.credentials[0]! });
  if (good !== 200) throw new Error(`${name}: a pre-created credential got ${good}, not 200`);
  if (name === 'node-http') return;
  const missing = await status({});
  const forged = await status({ [header]: tampered(ready.credentials[1]!) });
  if (missing !== 401 || forged !== 401) {
    throw new Error(`${name}: no credential got ${missing}, a tampered one got ${forged}; both must be 401`);
  }
}

interface Measured {
  name: TargetName;
  result: LoadResult;
  cpu?: CpuUse;
}

/** Drives the target for `seconds`; every request takes the next credential of one shared rotation. */
async function load(name: TargetName, url: string, ready: TargetReady, seconds: number): Promise<Measured> {
  let sent = 0;
  const result = await runAutocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({
          ...request,
          headers: { ...request.headers, [ready.credentialHeader]: ready.credentials[sent++ % SESSIONS]! },
        }),
      },
    ],
  });
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0 || result['2xx'] === 0) {
    throw new Error(
      `${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts, ${result['2xx']} 2xx`,
    );
  }
  return { name, result };
}

async function measure(name: TargetName): Promise<Measured> {
  const quiet = await waitForQuiet(QUIET_WAIT_SECONDS, QUIET_CORES);
  if (quiet.busy >= QUIET_CORES) {
    console.log(
      `(${name}: the machine stayed busy, ${quiet.busy.toFixed(2)} cores, for ${quiet.waited.toFixed(0)} s; measuring anyway)`,
    );
  }
  const { child, ready } = await startTarget(name);
  try {
    const url = `http://127.0.0.1:${ready.port}/v1/session`;
    await checkRoute(name, url, ready);
    await load(name, url, ready, WARMUP_SECONDS);
    const before = await readCpu(child.pid!, redis);
    const measured = await load(name, url, ready, SECONDS);
    const after = await readCpu(child.pid!, redis);
    return before && after ? { ...measured, cpu: cpuBetween(before, after) } : measured;
  } finally {
    await run.stopChild(child);
  }
}

const number = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => `${n.toFixed(n < 10 ? 1 : 0)} ms`;

function printRow(m: Measured): void {
  const { result } = m;
  console.log(
    `${LABELS[m.name].padEnd(46)} ${number(result.requests.average).padStart(8)}  ${ms(result.latency.p50).padStart(7)}  ${ms(result.latency.p99).padStart(7)}  ${number(result['2xx']).padStart(9)}`,
  );
}

/** CPU per request in the server and in Redis, and how busy each party was (100% = one core). */
function printCpu(results: Map<TargetName, Measured>): void {
  const rows = [...results.values()].filter((m): m is Measured & { cpu: CpuUse } => m.cpu !== undefined);
  if (rows.length === 0) return;
  const us = (seconds: number, requests: number): string => `${((seconds * 1e6) / requests).toFixed(0)} µs`;
  const share = (seconds: number, wall: number): string => `${((seconds / wall) * 100).toFixed(0)}%`;
  console.log(
    `\nCPU while measured  ${'server/req'.padStart(10)} ${'Redis/req'.padStart(10)}   busy: ${'server'.padStart(6)} ${'Redis'.padStart(6)} ${'autocannon'.padStart(10)} ${'other jobs'.padStart(10)}`,
  );
  for (const { name, result, cpu } of rows) {
    const requests = result.requests.total;
    console.log(
      `${name.padEnd(19)} ${us(cpu.server, requests).padStart(10)} ${us(cpu.redis, requests).padStart(10)}         ${share(cpu.server, cpu.seconds).padStart(6)} ${share(cpu.redis, cpu.seconds).padStart(6)} ${share(cpu.autocannon, cpu.seconds).padStart(10)} ${share(cpu.other, cpu.seconds).padStart(10)}`,
    );
  }
  const busiest = Math.max(...rows.map(({ cpu }) => cpu.other / cpu.seconds));
  if (busiest > OTHER_JOBS_WARNING) {
    console.log(
      `WARNING: other jobs on this machine used up to ${(busiest * 100).toFixed(0)}% of a core while a target was measured; req/s and latency are not trustworthy, and CPU per request is inflated too (less so).`,
    );
  }
}

function printRatio(results: Map<TargetName, Measured>, a: TargetName, b: TargetName, goal: number, goalText: string): void {
  const x = results.get(a);
  const y = results.get(b);
  if (!x || !y) return;
  const shown = (ratio: number): string => (goal >= 1 ? `${ratio.toFixed(2)}x` : `${(ratio * 100).toFixed(0)}%`);
  const ratio = x.result.requests.average / y.result.requests.average;
  console.log(`${LABELS[a]} vs ${LABELS[b]}: ${shown(ratio)} (goal ${goalText}: ${ratio >= goal ? 'met' : 'NOT met'})`);
  if (x.cpu && y.cpu) {
    // The same comparison from CPU per request (server + Redis), which other jobs on the machine disturb less than req/s.
    const perRequest = (result: LoadResult, cpu: CpuUse): number => (cpu.server + cpu.redis) / result.requests.total;
    const cpuRatio = perRequest(y.result, y.cpu) / perRequest(x.result, x.cpu);
    console.log(`  by server + Redis CPU per request: ${shown(cpuRatio)}`);
  }
}

async function main(): Promise<void> {
  await redis.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  const cpu = cpus();
  console.log(
    `Authenticated GET /v1/session: ${CONNECTIONS} connections, ${SECONDS} s per target (+${WARMUP_SECONDS} s warm-up), ${number(SESSIONS)} sessions, credentials in rotation`,
  );
  console.log(
    `machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'} x${cpu.length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, node ${process.version}, Redis ${redisVersion} on 127.0.0.1`,
  );
  console.log(
    `placement: ${pinned ? 'server pinned to CPU 0, autocannon to CPU 1 (taskset)' : 'not pinned'}; load average before the run ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}\n`,
  );
  console.log(`${'target'.padEnd(46)} ${'req/s'.padStart(8)}  ${'p50'.padStart(7)}  ${'p99'.padStart(7)}  ${'2xx'.padStart(9)}`);

  const results = new Map<TargetName, Measured>();
  for (const name of targets) {
    const measured = await measure(name);
    results.set(name, measured);
    printRow(measured);
    await run.deleteKeys();
  }
  printCpu(results);
  console.log('');
  printRatio(results, 'latchkey-redis', 'express-session', 4, '>= 4x');
  printRatio(results, 'latchkey-redis', 'fastify-redis-get', 0.85, '>= 85%');
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await run.cleanUp();
}
