/**
 * Runs state-changing tasks one at a time, and lets callers that need the same task share one run:
 * N requests that all failed on the same expired key cause one key creation, and when it fails they
 * all get its error (no retry storm).
 */
export class SingleFlight {
  #chain: Promise<unknown> = Promise.resolve();
  readonly #flights = new Map<string, Promise<void>>();

  /** Runs `task` after the tasks before it, or joins the run already queued or running under `id`. */
  once(id: string, task: () => Promise<void>): Promise<void> {
    const running = this.#flights.get(id);
    if (running) return running;
    const flight = this.#chain.then(task);
    this.#chain = flight.catch(() => undefined);
    this.#flights.set(id, flight);
    const forget = () => {
      if (this.#flights.get(id) === flight) this.#flights.delete(id);
    };
    flight.then(forget, forget);
    return flight;
  }

  /** Runs `task` after the tasks before it (never shared). */
  serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Settles when every task queued so far has (its outcome is not this caller's business). */
  async idle(): Promise<void> {
    await this.#chain;
  }
}

interface Locks {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/**
 * Holds the Web Locks API lock `name` (shared by every tab and worker of the origin) while `task`
 * runs, so two tabs never rotate the same refresh token at once. Where there is no `navigator.locks`
 * (Node, old browsers) the task runs as it is.
 */
export async function withCrossTabLock<T>(name: string, task: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  if (typeof locks?.request !== 'function') return task();
  return locks.request(name, task);
}
