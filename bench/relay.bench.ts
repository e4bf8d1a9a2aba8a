/**
 * The QR-connect relay beside the forwarders a team would otherwise run, in one run: messages per second
 * and one-way latency for a raw ws forwarder, the origin document's plain socket.io room forward on one
 * node and on two nodes with the Redis adapter, and the Latchkey relay on one node (channels in memory) and
 * on two nodes (channels and events through Redis). 20 pairs, closed-loop ping-pong (one message in flight
 * per pair; bench/relay-load.ts), 1 KB payloads; on two nodes every dApp is on node A and every wallet on B.
 * Then 2,000 channels held open at once on one Latchkey node (4,000 sockets), and the handshake's latency,
 * scan → session_connected, with the connect SDK's real crypto.
 *
 * Servers run in child processes pinned to CPU 0 (taskset, when there are two CPUs), the clients here on
 * CPU 1. The Latchkey relay is the built CLI (`latchkey serve`), its per-connection rate limit raised out
 * of the way (the token bucket still runs) and its per-address limits off (every client is 127.0.0.1). Bounded: LATCHKEY_BENCH_SECONDS (default 5) per target plus a
 * 1 s warm-up, after waiting up to LATCHKEY_BENCH_QUIET_SECONDS (default 30) for the machine to calm down;
 * a time limit stops everything. Its Redis keys (one random prefix) and temp directory are deleted and its
 * children killed on exit. LATCHKEY_BENCH_TARGETS picks forwarding targets by name (ws, socketio-1,
 * socketio-2, latchkey-1, latchkey-2); LATCHKEY_BENCH_PARTS picks parts (forward, hold, handshake);
 * LATCHKEY_BENCH_PIN=0 leaves CPU placement to the OS.
 *
 *   npm run bench:relay
 *   LATCHKEY_BENCH_SECONDS=3 node --import tsx bench/relay.bench.ts
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { createBenchRun, REDIS_URL } from './harness.js';
import { type CpuSnapshot, readCpu, waitForQuiet } from './http-cpu.js';
import { handshakes, holdChannels } from './relay-channels.js';
import { type Flavor, type LoadResult, pingPong } from './relay-load.js';

const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 5);
const QUIET_WAIT_SECONDS = Number(process.env.LATCHKEY_BENCH_QUIET_SECONDS ?? 30);
const QUIET_CORES = 0.15;
const WARMUP_SECONDS = 1;
const PAIRS = 20;
const HELD_CHANNELS = 2000;
const HANDSHAKES = 300;
const MAIN = new URL('../packages/server/dist/cli/main.js', import.meta.url).pathname;
const BASELINES = new URL('./relay-baselines.ts', import.meta.url).pathname;
/** The repository, where `--import tsx` resolves. */
const ROOT = new URL('..', import.meta.url).pathname;

if (!(SECONDS > 0) || !(QUIET_WAIT_SECONDS >= 0)) {
  console.error('LATCHKEY_BENCH_SECONDS must be a positive number and LATCHKEY_BENCH_QUIET_SECONDS a non-negative one');
  process.exit(2);
}
if (!existsSync(MAIN)) {
  console.error(`${MAIN} is missing: npm run build (or npx tsc -b packages/server) first`);
  process.exit(2);
}

type TargetName = 'ws' | 'socketio-1' | 'socketio-2' | 'latchkey-1' | 'latchkey-2';
const TARGETS: { name: TargetName; label: string; flavor: Flavor; nodes: 1 | 2 }[] = [
  { name: 'ws', label: 'raw ws forwarder (ceiling)', flavor: 'ws', nodes: 1 },
  { name: 'socketio-1', label: 'plain socket.io room forward, one node', flavor: 'socketio', nodes: 1 },
  { name: 'socketio-2', label: 'plain socket.io, two nodes, Redis adapter', flavor: 'socketio', nodes: 2 },
  { name: 'latchkey-1', label: 'Latchkey relay, one node (memory)', flavor: 'latchkey', nodes: 1 },
  { name: 'latchkey-2', label: 'Latchkey relay, two nodes on Redis', flavor: 'latchkey', nodes: 2 },
];

const PARTS = new Set((process.env.LATCHKEY_BENCH_PARTS ?? 'forward,hold,handshake').split(',').map((p) => p.trim()));
const picked = (process.env.LATCHKEY_BENCH_TARGETS ?? TARGETS.map((t) => t.name).join(',')).split(',').map((t) => t.trim());
const unknownTargets = picked.filter((name) => !TARGETS.some((t) => t.name === name));
if (unknownTargets.length > 0) {
  console.error(`LATCHKEY_BENCH_TARGETS: unknown ${unknownTargets.join(', ')}; known: ${TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}

const run = createBenchRun('relay');
const { keyPrefix, directory, redis, pinned } = run;
run.limit(TARGETS.length * ((SECONDS + WARMUP_SECONDS + QUIET_WAIT_SECONDS + 30) * 1000) + 300_000);

interface Started {
  url: string;
  child: ChildProcess;
}

/** Spawns a server pinned to CPU 0 and resolves with its URL once `ready` finds it in a stdout line. */
async function start(args: string[], ready: (line: string) => string | undefined, cwd = ROOT): Promise<Started> {
  const started = await run.spawnTarget({
    args,
    ready,
    cwd,
    stderr: 'capture',
    keepReading: true,
    timeoutMs: 60_000,
    notReady: (stderr) => `${args.join(' ')}: not ready within 60 s\n${stderr}`,
    exited: (code, _signal, stderr) => `${args.join(' ')}: exited (${code}) before listening\n${stderr}`,
  });
  return { url: started.ready, child: started.child };
}

const stop = run.stopChild;

function startBaseline(target: 'ws' | 'socketio', redisKey?: string): Promise<Started> {
  const args = ['--import', 'tsx', BASELINES, '--target', target, ...(redisKey ? ['--redis-key', redisKey] : [])];
  return start(args, (line) => {
    const port = (JSON.parse(line) as { port?: number }).port;
    return port === undefined ? undefined : `http://127.0.0.1:${port}`;
  });
}

/** `latchkey serve` on a free port, in a directory of its own, with a config written for the bench. */
function startLatchkey(store: string): Promise<Started> {
  const cwd = mkdtempSync(join(directory, 'node-'));
  // The token bucket still runs on every event; 1,000,000/s keeps it from refusing the load. Every bench
  // client comes from 127.0.0.1: the per-address limits are off (0).
  const config = {
    store,
    relay: {
      rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
      maxConnectionsPerAddress: 0,
      joinsPerMinutePerAddress: 0,
    },
  };
  writeFileSync(join(cwd, 'latchkey.json'), JSON.stringify(config));
  const args = [MAIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--config', 'latchkey.json', '--log-level', 'warn'];
  return start(args, (line) => /Latchkey listening on (http:\/\/\S+)/.exec(line)?.[1], cwd);
}

async function startTarget(name: TargetName): Promise<Started[]> {
  switch (name) {
    case 'ws':
      return [await startBaseline('ws')];
    case 'socketio-1':
      return [await startBaseline('socketio')];
    case 'socketio-2':
      return Promise.all([startBaseline('socketio', `${keyPrefix}plain`), startBaseline('socketio', `${keyPrefix}plain`)]);
    case 'latchkey-1':
      return [await startLatchkey('memory')];
    case 'latchkey-2': {
      const store = `${REDIS_URL}/?prefix=${keyPrefix}`;
      return Promise.all([startLatchkey(store), startLatchkey(store)]);
    }
  }
}

interface Measured {
  result: LoadResult;
  /** Server processes' and Redis' CPU per message, µs, and the share other jobs took (cores). */
  cpuPerMessageUs?: number;
  otherCores?: number;
}

async function cpuOf(servers: Started[]): Promise<CpuSnapshot[] | undefined> {
  const snapshots = await Promise.all(servers.map((s) => readCpu(s.child.pid!, redis)));
  return snapshots.every((s): s is CpuSnapshot => s !== undefined) ? snapshots : undefined;
}

async function measure(target: (typeof TARGETS)[number]): Promise<Measured> {
  const quiet = await waitForQuiet(QUIET_WAIT_SECONDS, QUIET_CORES);
  if (quiet.busy >= QUIET_CORES)
    console.log(`(${target.name}: the machine stayed busy, ${quiet.busy.toFixed(2)} cores, for ${quiet.waited.toFixed(0)} s)`);
  const servers = await startTarget(target.name);
  try {
    let before: CpuSnapshot[] | undefined;
    const result = await pingPong({
      flavor: target.flavor,
      dappUrl: servers[0]!.url,
      walletUrl: servers[servers.length - 1]!.url,
      pairs: PAIRS,
      warmupSeconds: WARMUP_SECONDS,
      seconds: SECONDS,
      onMeasureStart: async () => {
        before = await cpuOf(servers);
      },
    });
    const after = await cpuOf(servers);
    if (!before || !after) return { result };
    const server = after.reduce((sum, s, i) => sum + s.server - before![i]!.server, 0);
    const first = [before[0]!, after[0]!] as const;
    const redisSeconds = first[1].redis - first[0].redis;
    const wall = first[1].at - first[0].at;
    const machine = first[1].machine - first[0].machine;
    const own = first[1].autocannon - first[0].autocannon;
    return {
      result,
      cpuPerMessageUs: ((server + redisSeconds) * 1e6) / result.messages,
      otherCores: Math.max(0, machine - server - redisSeconds - own) / wall,
    };
  } finally {
    await Promise.all(servers.map((s) => stop(s.child)));
    await run.deleteKeys();
  }
}

const number = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => `${n.toFixed(n < 10 ? 2 : 1)} ms`;

function ratio(results: Map<TargetName, Measured>, a: TargetName, b: TargetName, goal: number): string {
  const x = results.get(a);
  const y = results.get(b);
  if (!x || !y) return 'not measured';
  const r = x.result.messagesPerSecond / y.result.messagesPerSecond;
  let text = `${(r * 100).toFixed(0)}% (goal >= ${goal * 100}%: ${r >= goal ? 'met' : 'NOT met'})`;
  if (x.cpuPerMessageUs && y.cpuPerMessageUs)
    text += `; by server + Redis CPU per message: ${((y.cpuPerMessageUs / x.cpuPerMessageUs) * 100).toFixed(0)}%`;
  return text;
}

async function main(): Promise<void> {
  await redis.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  const fdLimit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  const cpu = cpus();
  console.log(
    `Relay forwarding: ${PAIRS} pairs, 1 KB payloads, closed-loop ping-pong (one message in flight per pair), ${SECONDS} s per target (+${WARMUP_SECONDS} s warm-up); latency is one way`,
  );
  console.log(
    `machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'} x${cpu.length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, node ${process.version}, Redis ${redisVersion} on 127.0.0.1, ulimit -n ${fdLimit}`,
  );
  console.log(
    `placement: ${pinned ? 'servers pinned to CPU 0, clients to CPU 1 (taskset)' : 'not pinned'}; load average before the run ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}\n`,
  );
  console.log(
    `${'target'.padEnd(44)} ${'msg/s'.padStart(8)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'CPU/msg'.padStart(9)} ${'other jobs'.padStart(10)}`,
  );
  const results = new Map<TargetName, Measured>();
  for (const target of PARTS.has('forward') ? TARGETS.filter((t) => picked.includes(t.name)) : []) {
    const m = await measure(target);
    results.set(target.name, m);
    const cpuText = m.cpuPerMessageUs === undefined ? '-' : `${m.cpuPerMessageUs.toFixed(0)} µs`;
    const other = m.otherCores === undefined ? '-' : `${(m.otherCores * 100).toFixed(0)}%`;
    console.log(
      `${target.label.padEnd(44)} ${number(m.result.messagesPerSecond).padStart(8)} ${ms(m.result.p50).padStart(9)} ${ms(m.result.p99).padStart(9)} ${cpuText.padStart(9)} ${other.padStart(10)}`,
    );
  }
  console.log(
    '\nCPU/msg: server processes + Redis CPU per delivered message; other jobs: CPU other processes took, in % of one core.',
  );
  console.log(`Latchkey relay vs plain socket.io, one node:  ${ratio(results, 'latchkey-1', 'socketio-1', 0.9)}`);
  console.log(`Latchkey relay vs plain socket.io, two nodes: ${ratio(results, 'latchkey-2', 'socketio-2', 0.9)}`);

  const needed = HELD_CHANNELS * 2 + 200;
  if (!PARTS.has('hold')) {
    // not asked for
  } else if (Number.isFinite(fdLimit) && fdLimit < needed) {
    console.log(`\n${HELD_CHANNELS} channels: skipped, ulimit -n is ${fdLimit} and this needs about ${needed} descriptors`);
  } else {
    const [node] = await startTarget('latchkey-1');
    try {
      const held = await holdChannels(node!.url, node!.child.pid!, HELD_CHANNELS);
      const rss =
        held.rssBeforeMb && held.rssAfterMb
          ? `; relay RSS ${held.rssBeforeMb.toFixed(0)} → ${held.rssAfterMb.toFixed(0)} MB`
          : '';
      console.log(
        `\n${number(held.channels)} channels held open at once on one Latchkey node (${number(held.channels * 2)} sockets): opened in ${held.openSeconds.toFixed(1)} s; /metrics said channels_open ${held.gaugeChannels}, connections ${held.gaugeConnections}${rss}`,
      );
      console.log(
        `  then every channel at once, request → response: ${number(held.answered)} of ${number(held.channels)} answered, round trip p50 ${ms(held.p50)}, p99 ${ms(held.p99)}`,
      );
      if (held.answered !== held.channels) process.exitCode = 1;
    } finally {
      await stop(node!.child);
    }
  }

  if (!PARTS.has('handshake')) return;
  const [node] = await startTarget('latchkey-1');
  try {
    console.log(`\nHandshake, scan → session_connected, ${HANDSHAKES} handshakes each, on one Latchkey node:`);
    // One at a time is the latency a user sees. Ten at a time shares this process's one core among ten
    // dApps and ten wallets, so it also measures the client crypto queueing behind itself.
    for (const [concurrency, level] of [
      [1, 'sdk'],
      [1, 'envelope'],
      [10, 'sdk'],
    ] as const) {
      const h = await handshakes(node!.url, HANDSHAKES, concurrency, level);
      const what =
        h.level === 'sdk'
          ? 'ConnectDapp/ConnectWallet, real protocol crypto (keys, signed session token, sealed, opened, checked)'
          : 'envelope level: wallet connects, joins, sends connected_uuid; the dApp receives it';
      const goal = h.level === 'sdk' && concurrency === 1 ? ` (goal p99 < 50 ms: ${h.p99 < 50 ? 'met' : 'NOT met'})` : '';
      console.log(
        `  ${concurrency === 1 ? 'one at a time' : `${concurrency} at a time`}, ${what}: p50 ${ms(h.p50)}, p99 ${ms(h.p99)}, max ${ms(h.max)}${goal}`,
      );
    }
  } finally {
    await stop(node!.child);
  }
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  console.error(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await run.cleanUp();
}
