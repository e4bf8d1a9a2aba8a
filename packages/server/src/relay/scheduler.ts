/** A task set to run later; `cancel` makes sure it never does. */
export interface ScheduledTask {
  cancel(): void;
}

/**
 * Time for the relay: the current time and "run this at that time". Channel expiry, buffer TTLs and the
 * per-connection rate limit read it; tests pass a `ManualScheduler` and move time themselves.
 */
export interface RelayScheduler {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `task` once `now()` has reached `time` (at once, on a later tick, when it already has). */
  at(time: number, task: () => void): ScheduledTask;
}

/** setTimeout's longest delay; a later time is reached in hops, each re-reading the clock. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** The system clock and `setTimeout`; timers never keep the process alive. */
export const systemScheduler: RelayScheduler = Object.freeze({
  now: () => Date.now(),
  at(time: number, task: () => void): ScheduledTask {
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      const delay = time - Date.now();
      timer = setTimeout(delay > MAX_DELAY_MS ? arm : task, Math.min(Math.max(delay, 0), MAX_DELAY_MS));
      timer.unref();
    };
    arm();
    return { cancel: () => clearTimeout(timer) };
  },
});

/**
 * A scheduler whose time stands still until `advance` or `set` moves it; due tasks then run in time
 * order. For tests and benchmarks.
 */
export class ManualScheduler implements RelayScheduler {
  #now: number;
  #tasks: { time: number; task: () => void; isCancelled: boolean }[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  at(time: number, task: () => void): ScheduledTask {
    const entry = { time, task, isCancelled: false };
    this.#tasks.push(entry);
    return {
      cancel: () => {
        entry.isCancelled = true;
      },
    };
  }

  /** How many tasks wait to run. */
  get pending(): number {
    return this.#tasks.filter((t) => !t.isCancelled).length;
  }

  advance(ms: number): void {
    this.set(this.#now + ms);
  }

  /** Moves time to `ms` and runs every task due by then, earliest first (tasks they schedule too). */
  set(ms: number): void {
    this.#now = ms;
    for (;;) {
      const due = this.#tasks.filter((t) => !t.isCancelled && t.time <= ms).sort((a, b) => a.time - b.time)[0];
      if (!due) break;
      due.isCancelled = true;
      due.task();
    }
    this.#tasks = this.#tasks.filter((t) => !t.isCancelled);
  }
}
