import type { Cluster, Redis } from 'ioredis';
import { asArray } from './codec.js';

/** A standalone Redis or a Cluster: every internal module works with either. */
export type Client = Redis | Cluster;

/**
 * Runs one store method on a ready client and turns any failure into STORE_UNAVAILABLE (the
 * store's `#call`), handed to the internal modules so that they fail exactly as the store does.
 */
export type Call = <T>(run: (client: Client) => Promise<T>) => Promise<T>;

/** Keys per burst of independent reads (stats, cleanup, audit pages): bounded memory and reply size. */
export const READ_CHUNK = 500;

/**
 * The most keys, ids, members or fields any one command or script call carries, besides a few fixed
 * arguments. A longer list is sent in several calls. An unbounded one would eventually fail inside
 * ioredis: past some tens of thousands of arguments, spreading them overflows the call stack, and
 * with auto-pipelining that failure also throws outside any promise and ends the process.
 */
export const MAX_ITEMS_PER_COMMAND = 500;

/** `items` in consecutive slices of at most `size`. */
export function chunked<T>(items: readonly T[], size = MAX_ITEMS_PER_COMMAND): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Snapshot retries before a wallet operation gives up; each retry means the wallet changed meanwhile. */
const MAX_SNAPSHOT_ATTEMPTS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a snapshot script (see scripts/) until it stops answering 'retry'. Each retry means the
 * index changed between the read and the script, so it backs off a little after the first few.
 */
export async function untilSnapshotHolds(what: string, attempt: () => Promise<unknown>): Promise<unknown[]> {
  for (let n = 0; n < MAX_SNAPSHOT_ATTEMPTS; n++) {
    const reply = asArray(await attempt(), what);
    if (reply[0] !== 'retry') return reply;
    if (n >= 2) await sleep(Math.random() * 2 ** Math.min(n, 6));
  }
  throw new Error(`${what}: the index kept changing; gave up after ${MAX_SNAPSHOT_ATTEMPTS} attempts`);
}
