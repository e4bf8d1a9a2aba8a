/**
 * Where the CPU went while a target was measured: the server process, Redis, autocannon (this
 * process) and everything else on the machine (other jobs sharing it make a row less trustworthy).
 * Linux only (/proc); elsewhere `readCpu` returns undefined and the columns are left out.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** USER_HZ: /proc reports CPU time in these ticks; 100 on every Linux that Node supports. */
const TICKS_PER_SECOND = 100;

export interface CpuSnapshot {
  /** Seconds of CPU, since some fixed point, of each party. */
  readonly server: number;
  readonly redis: number;
  readonly autocannon: number;
  /** All cores together, busy (not idle or iowait). */
  readonly machine: number;
  readonly at: number;
}

/** Seconds of CPU each party used between two snapshots, and the wall-clock seconds between them. */
export interface CpuUse {
  readonly seconds: number;
  readonly server: number;
  readonly redis: number;
  readonly autocannon: number;
  readonly other: number;
}

function processSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function machineSeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS_PER_SECOND;
}

async function redisSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

export async function readCpu(serverPid: number, redis: Redis): Promise<CpuSnapshot | undefined> {
  if (process.platform !== 'linux') return undefined;
  const own = process.cpuUsage();
  return {
    server: processSeconds(serverPid),
    redis: await redisSeconds(redis),
    autocannon: (own.user + own.system) / 1e6,
    machine: machineSeconds(),
    at: performance.now() / 1000,
  };
}

export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const server = after.server - before.server;
  const redis = after.redis - before.redis;
  const autocannon = after.autocannon - before.autocannon;
  const machine = after.machine - before.machine;
  return {
    seconds: after.at - before.at,
    server,
    redis,
    autocannon,
    other: Math.max(0, machine - server - redis - autocannon),
  };
}

/** How many cores' worth of CPU the whole machine used over the next `ms` (undefined off Linux). */
export async function machineBusy(ms: number): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  const before = machineSeconds();
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (machineSeconds() - before) / ((performance.now() - start) / 1000);
}

/**
 * Waits, at most `limitSeconds`, until the machine (nothing of ours running) uses less than
 * `threshold` cores, so other jobs on a shared machine do not end up in the figures.
 * Returns the seconds waited and the last busy reading.
 */
export async function waitForQuiet(limitSeconds: number, threshold: number): Promise<{ waited: number; busy: number }> {
  const start = performance.now();
  for (;;) {
    const busy = await machineBusy(1000);
    const waited = (performance.now() - start) / 1000;
    if (busy === undefined || busy < threshold || waited >= limitSeconds) return { waited, busy: busy ?? 0 };
  }
}
