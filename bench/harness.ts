/**
 * The scaffolding the server benches (http, stamps, relay) share: a run id and the Redis key prefix and
 * temp directory named after it, an ioredis client, this process pinned to CPU 1 and targets to CPU 0
 * (taskset, when there are two CPUs, unless LATCHKEY_BENCH_PIN=0), children killed on exit, clean-up on
 * SIGINT/SIGTERM and after an overall time limit, and the run's Redis keys deleted.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';

export const REDIS_URL = 'redis://127.0.0.1:6379';

export interface SpawnTargetOptions<T> {
  /** Arguments to `node`. */
  args: string[];
  /** Called with each stdout line until it returns something other than undefined: that is the ready value. */
  ready: (line: string) => T | undefined;
  timeoutMs: number;
  /** The error when the target is not ready in time (`stderr`: its last output, when captured). */
  notReady: (stderr: string) => string;
  /** The error when the target exits before it is ready. */
  exited: (code: number | null, signal: NodeJS.Signals | null, stderr: string) => string;
  cwd?: string;
  /** 'inherit' (default): stdin piped, stderr shown; 'capture': stdin ignored, stderr kept for the errors above. */
  stderr?: 'inherit' | 'capture';
  /** Keep reading stdout once ready (default: stop reading). */
  keepReading?: boolean;
}

export interface BenchRun {
  runId: string;
  keyPrefix: string;
  directory: string;
  redis: Redis;
  /** Whether this process is pinned to CPU 1, and targets go to CPU 0. */
  pinned: boolean;
  children: Set<ChildProcess>;
  /** Spawns `node args` (pinned to CPU 0 when `pinned`) and resolves once `ready` finds its ready line. */
  spawnTarget<T>(options: SpawnTargetOptions<T>): Promise<{ child: ChildProcess; ready: T }>;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the child has exited. */
  stopChild(child: ChildProcess): Promise<void>;
  /** Deletes every Redis key under `keyPrefix`; resolves with how many. */
  deleteKeys(): Promise<number>;
  /** Stops the children, deletes the keys, disconnects Redis and removes the directory (once). */
  cleanUp(): Promise<void>;
  /** Bounds the whole run: after `ms`, cleans up and exits with 1. */
  limit(ms: number): void;
}

/**
 * `name` names the key prefix (`lkbench-<name>:<run id>:`) and the temp directory
 * (`latchkey-bench-<name>-…`). `announceSignals` prints `<signal>: stopping` on SIGINT/SIGTERM.
 */
export function createBenchRun(name: string, { announceSignals = true }: { announceSignals?: boolean } = {}): BenchRun {
  const runId = randomBytes(4).toString('hex');
  const keyPrefix = `lkbench-${name}:${runId}:`;
  const directory = mkdtempSync(join(tmpdir(), `latchkey-bench-${name}-`));
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });

  const canPin = process.platform === 'linux' && cpus().length >= 2 && process.env.LATCHKEY_BENCH_PIN !== '0';
  const pinned = canPin && spawnSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' }).status === 0;

  const children = new Set<ChildProcess>();
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });

  async function stopChild(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async function deleteKeys(): Promise<number> {
    let deleted = 0;
    for await (const keys of redis.scanStream({ match: `${keyPrefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    }
    return deleted;
  }

  let cleaning: Promise<void> | undefined;
  function cleanUp(): Promise<void> {
    cleaning ??= (async () => {
      setTimeout(() => process.exit(1), 20_000).unref();
      await Promise.all([...children].map(stopChild));
      try {
        await deleteKeys();
      } catch (error) {
        console.error(`could not delete Redis keys under ${keyPrefix}: ${String(error)}`);
      }
      redis.disconnect();
      rmSync(directory, { recursive: true, force: true });
    })();
    return cleaning;
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (announceSignals) console.error(`\n${signal}: stopping`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  function limit(ms: number): void {
    setTimeout(() => {
      console.error(`time limit of ${Math.round(ms / 1000)} s reached: stopping`);
      void cleanUp().finally(() => process.exit(1));
    }, ms).unref();
  }

  async function spawnTarget<T>(options: SpawnTargetOptions<T>): Promise<{ child: ChildProcess; ready: T }> {
    const { args, cwd } = options;
    const capture = options.stderr === 'capture';
    const stdio = capture ? (['ignore', 'pipe', 'pipe'] as const) : (['pipe', 'pipe', 'inherit'] as const);
    const child = pinned
      ? spawn('taskset', ['-c', '0', process.execPath, ...args], { cwd, stdio: [...stdio] })
      : spawn(process.execPath, args, { cwd, stdio: [...stdio] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    let stderr = '';
    if (capture) {
      child.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d).slice(-4000);
      });
    }
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(options.notReady(stderr))), options.timeoutMs);
      const onLine = (line: string): void => {
        const found = options.ready(line);
        if (found === undefined) return;
        lines.off('line', onLine);
        clearTimeout(timer);
        resolve(found);
      };
      lines.on('line', onLine);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(options.exited(code, signal, stderr)));
      });
    });
    if (!options.keepReading) lines.close();
    return { child, ready };
  }

  return { runId, keyPrefix, directory, redis, pinned, children, spawnTarget, stopChild, deleteKeys, cleanUp, limit };
}
