/**
 * What a stamp costs: authenticated `GET /v1/session` through the Latchkey server as shipped, bearer
 * token alone vs bearer token + `Latchkey-Signature` stamp (a fresh nonce per request, so every one
 * spends a replay-cache entry and an ECDSA P-256 verification), on Redis and on SQLite, side by side in
 * one run.
 *
 * Each store's server runs alone in a child process (bench/stamps-server.ts) pinned to one core when
 * taskset exists; autocannon drives it from this process, pinned to the other. 1,000 pre-created
 * sessions, each with its own session key; every request carries the next session of one rotation and,
 * stamped, a stamp by that session's key. Stamps are signed before each measured phase with node:crypto
 * (so signing does not compete with autocannon for its core), and on the fly should a phase outrun
 * them; each is used once, well within the 60 s window. Any non-2xx answer fails the run. Bounded:
 * LATCHKEY_BENCH_SECONDS (default 10) per phase after a 1 s warm-up, each measured phase after waiting up
 * to LATCHKEY_BENCH_QUIET_SECONDS (default 60) for other jobs on the machine to calm down; Redis keys (one random prefix) and
 * the temp directory are deleted and the children killed on exit. LATCHKEY_BENCH_STORES picks stores
 * (redis,sqlite); LATCHKEY_BENCH_PIN=0 leaves CPU placement to the OS.
 *
 *   node --import tsx bench/stamps.bench.ts
 *   LATCHKEY_BENCH_SECONDS=3 LATCHKEY_BENCH_STORES=redis node --import tsx bench/stamps.bench.ts
 */
import type { ChildProcess } from 'node:child_process';
import { createPrivateKey, type KeyObject, randomBytes, sign } from 'node:crypto';
import { cpus, release } from 'node:os';
import { bodyDigest, fromBase64Url, p256PublicKey, stampPayload, toBase64Url } from '@latchkey/protocol';
import autocannon from 'autocannon';
import { createBenchRun } from './harness.js';
import { type CpuUse, cpuBetween, readCpu, waitForQuiet } from './http-cpu.js';
import type { StampTargetReady } from './stamps-server.js';

const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 1;
const CONNECTIONS = 50;
const SESSIONS = 1_000;
const STARTUP_TIMEOUT_MS = 180_000;
/** Stamps signed ahead per second of a phase: more than either store answers stamped on two cores. */
const STAMPS_PER_SECOND = 16_000;
/** Before each measured phase, wait (at most this long) for the machine to fall below QUIET_CORES of CPU use. */
const QUIET_WAIT_SECONDS = Number(process.env.LATCHKEY_BENCH_QUIET_SECONDS ?? 60);
const QUIET_CORES = 0.15;
const STORES = (process.env.LATCHKEY_BENCH_STORES ?? 'redis,sqlite').split(',').map((s) => s.trim());
if (!(SECONDS > 0) || SECONDS > 40 || STORES.some((s) => s !== 'redis' && s !== 'sqlite')) {
  console.error('LATCHKEY_BENCH_SECONDS: 1-40 (stamps must be used within 60 s of signing); LATCHKEY_BENCH_STORES: redis,sqlite');
  process.exit(2);
}

interface RequestSpec {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  setupRequest?: (request: RequestSpec) => RequestSpec;
}
interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
const runAutocannon = autocannon as unknown as (options: {
  url: string;
  connections: number;
  duration: number;
  requests: RequestSpec[];
}) => Promise<LoadResult>;

const run = createBenchRun('stamps', { announceSignals: false });
const { keyPrefix, directory, redis, pinned } = run;
run.limit(STORES.length * (STARTUP_TIMEOUT_MS + 2 * (SECONDS + WARMUP_SECONDS + QUIET_WAIT_SECONDS + 30) * 1000));

function startTarget(store: string): Promise<{ child: ChildProcess; ready: StampTargetReady }> {
  const script = new URL('./stamps-server.ts', import.meta.url).pathname;
  const args = ['--import', 'tsx', script, '--store', store, '--key-prefix', `${keyPrefix}${store}:`];
  args.push('--directory', directory, '--sessions', String(SESSIONS));
  return run.spawnTarget({
    args,
    ready: (text) => JSON.parse(text) as StampTargetReady,
    timeoutMs: STARTUP_TIMEOUT_MS,
    notReady: () => `${store}: not ready in time`,
    exited: (code) => `${store}: server exited before listening (code ${code})`,
  });
}

interface Signer {
  authorization: string;
  keyId: string;
  key: KeyObject;
}

function signersOf(ready: StampTargetReady): Signer[] {
  return ready.sessions.map(({ token, keyId, privateKey }) => {
    const d = fromBase64Url(privateKey);
    const point = p256PublicKey(d);
    const jwk = { kty: 'EC', crv: 'P-256', d: privateKey, x: toBase64Url(point.slice(1, 33)), y: toBase64Url(point.slice(33)) };
    return { authorization: `Bearer ${token}`, keyId, key: createPrivateKey({ key: jwk, format: 'jwk' }) };
  });
}

const PATH = '/v1/session';
const EMPTY_BODY = bodyDigest(null);

/** A stamp header for `GET /v1/session`, signed now with a fresh nonce (what @latchkey/protocol's createStamp makes). */
function stamp(signer: Signer): string {
  const timestamp = Date.now();
  const nonce = randomBytes(16).toString('base64url');
  const payload = stampPayload({
    version: 1,
    keyId: signer.keyId,
    method: 'GET',
    path: PATH,
    body: EMPTY_BODY,
    timestamp,
    nonce,
  });
  const sig = sign('sha256', payload, { key: signer.key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `v=1, keyId=${signer.keyId}, ts=${timestamp}, nonce=${nonce}, sig=${sig}`;
}

/** Headers for `count` requests in session rotation, stamped or not. */
function headersAhead(signers: Signer[], count: number, isStamped: boolean, start: number): Record<string, string>[] {
  const out: Record<string, string>[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const signer = signers[(start + i) % signers.length]!;
    out[i] = isStamped
      ? { authorization: signer.authorization, 'latchkey-signature': stamp(signer) }
      : { authorization: signer.authorization };
  }
  return out;
}

/** Before measuring: both modes pass, and a tampered, a replayed and a foreign stamp are refused (so 2xx means verified). */
async function checkRoute(url: string, signers: Signer[]): Promise<void> {
  const status = async (headers: Record<string, string>): Promise<number> => (await fetch(url, { headers })).status;
  const [a, b] = [signers[0]!, signers[1]!];
  const good = stamp(a);
  const results = {
    bearer: await status({ authorization: a.authorization }),
    stamped: await status({ authorization: a.authorization, 'latchkey-signature': good }),
    replayed: await status({ authorization: a.authorization, 'latchkey-signature': good }),
    tampered: await status({
      authorization: a.authorization,
      'latchkey-signature': good.replace(/ts=(\d+)/, (_, t) => `ts=${Number(t) - 1}`),
    }),
    foreign: await status({ authorization: a.authorization, 'latchkey-signature': stamp(b) }),
  };
  const expected = { bearer: 200, stamped: 200, replayed: 401, tampered: 401, foreign: 403 };
  if (JSON.stringify(results) !== JSON.stringify(expected)) {
    throw new Error(`route check: got ${JSON.stringify(results)}, expected ${JSON.stringify(expected)}`);
  }
}

interface Measured {
  result: LoadResult;
  cpu?: CpuUse;
  signedOnTheFly: number;
}

async function load(
  url: string,
  signers: Signer[],
  isStamped: boolean,
  seconds: number,
  child?: ChildProcess,
): Promise<Measured> {
  let next = 0;
  let signedOnTheFly = 0;
  if (child) await waitForQuiet(QUIET_WAIT_SECONDS, QUIET_CORES);
  const ahead = headersAhead(signers, isStamped ? STAMPS_PER_SECOND * seconds : signers.length, isStamped, 0);
  const before = child ? await readCpu(child.pid!, redis) : undefined;
  const result = await runAutocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => {
          const i = next++;
          let headers = ahead[isStamped ? i : i % ahead.length];
          if (headers === undefined) {
            signedOnTheFly++;
            headers = headersAhead(signers, 1, true, i)[0]!;
          }
          return { ...request, headers: { ...request.headers, ...headers } };
        },
      },
    ],
  });
  const after = child ? await readCpu(child.pid!, redis) : undefined;
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0 || result['2xx'] === 0) {
    throw new Error(
      `${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts, ${result['2xx']} 2xx`,
    );
  }
  return before && after ? { result, cpu: cpuBetween(before, after), signedOnTheFly } : { result, signedOnTheFly };
}

const number = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
const us = (m: Measured, part: 'server' | 'redis'): string =>
  m.cpu ? `${((m.cpu[part] * 1e6) / m.result.requests.total).toFixed(0)} µs` : '-';
/** Server + Redis CPU per request, in seconds (undefined off Linux). */
const cpuPerRequest = (m: Measured): number | undefined =>
  m.cpu ? (m.cpu.server + m.cpu.redis) / m.result.requests.total : undefined;
const otherJobs = (m: Measured): string => (m.cpu ? `${((m.cpu.other / m.cpu.seconds) * 100).toFixed(0)}%` : '-');

async function main(): Promise<void> {
  await redis.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  console.log(
    `GET /v1/session, bearer alone vs bearer + stamp: ${CONNECTIONS} connections, ${SECONDS} s per phase (+${WARMUP_SECONDS} s warm-up), ${number(SESSIONS)} sessions with one key each, in rotation`,
  );
  console.log(
    `machine: ${cpus()[0]?.model.trim() ?? 'unknown CPU'} x${cpus().length}, Linux ${release()}, node ${process.version}, Redis ${redisVersion}; ${pinned ? 'server on CPU 0, autocannon on CPU 1' : 'not pinned'}\n`,
  );
  console.log(
    `${'store'.padEnd(7)} ${'request'.padEnd(16)} ${'req/s'.padStart(8)}  ${'p50'.padStart(7)}  ${'p99'.padStart(7)}  ${'server CPU/req'.padStart(14)}  ${'Redis CPU/req'.padStart(13)}  ${'other jobs'.padStart(10)}`,
  );
  const ratios: string[] = [];
  for (const store of STORES) {
    const { child, ready } = await startTarget(store);
    try {
      const url = `http://127.0.0.1:${ready.port}${PATH}`;
      const signers = signersOf(ready);
      await checkRoute(url, signers);
      const rows: Measured[] = [];
      for (const isStamped of [false, true]) {
        await load(url, signers, isStamped, WARMUP_SECONDS);
        const m = await load(url, signers, isStamped, SECONDS, child);
        rows.push(m);
        const label = isStamped ? 'bearer + stamp' : 'bearer';
        const extra = m.signedOnTheFly > 0 ? `  (${number(m.signedOnTheFly)} stamps signed during the run)` : '';
        console.log(
          `${(store === 'redis' ? 'Redis' : 'SQLite').padEnd(7)} ${label.padEnd(16)} ${number(m.result.requests.average).padStart(8)}  ${ms(m.result.latency.p50).padStart(7)}  ${ms(m.result.latency.p99).padStart(7)}  ${us(m, 'server').padStart(14)}  ${(store === 'redis' ? us(m, 'redis') : '-').padStart(13)}  ${otherJobs(m).padStart(10)}${extra}`,
        );
      }
      const [plain, stamped] = rows as [Measured, Measured];
      const [cpuPlain, cpuStamped] = [cpuPerRequest(plain), cpuPerRequest(stamped)];
      const byCpu =
        cpuPlain && cpuStamped ? `; by server + Redis CPU per request ${((cpuPlain / cpuStamped) * 100).toFixed(0)}%` : '';
      ratios.push(
        `${store === 'redis' ? 'Redis' : 'SQLite'}: bearer + stamp runs at ${((stamped.result.requests.average / plain.result.requests.average) * 100).toFixed(0)}% of bearer-only requests/s${byCpu}`,
      );
    } finally {
      await run.stopChild(child);
    }
  }
  console.log('');
  for (const line of ratios) console.log(line);
  console.log(
    '("other jobs": CPU that other processes used meanwhile, in share of one core: figures from a busy machine are not trustworthy)',
  );
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await run.cleanUp();
}
