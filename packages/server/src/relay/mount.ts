import type { Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis, type RedisOptions } from 'ioredis';
import type { Registry } from 'prom-client';
import type { ChannelLimits, ChannelStore } from './channels.js';
import type { TrustedProxies } from './client-address.js';
import { MemoryChannelStore } from './memory-channels.js';
import type { ResolvedRelayOptions } from './options.js';
import { RedisChannelStore } from './redis-channels.js';
import { type PublishWatch, Relay, type RelayLog } from './relay.js';

/** Log a Redis connection error at most this often per client: a Redis that is down fails every retry. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Rejects a Redis reply that takes longer than `timeoutMs`, like ioredis's `commandTimeout`, with one timer
 * for every reply in flight. A connection answers in order, so the oldest reply awaited expires first.
 */
class Deadlines {
  readonly #timeoutMs: number;
  #queue: { readonly deadline: number; fail: ((error: Error) => void) | null }[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** `reply`, or a rejection once `timeoutMs` passed without it. */
  bound<T>(reply: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending = { deadline: performance.now() + this.#timeoutMs, fail: reject as ((error: Error) => void) | null };
      reply.then(
        (value) => {
          pending.fail = null;
          resolve(value);
        },
        (error: unknown) => {
          pending.fail = null;
          reject(error);
        },
      );
      this.#queue.push(pending);
      if (this.#timer === null) this.#arm(this.#timeoutMs);
    });
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Unref'd: a reply still awaited keeps its connection, and so the process, alive. */
  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(1, Math.ceil(ms)));
    this.#timer.unref();
  }

  #expire(): void {
    this.#timer = null;
    const now = performance.now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const pending = queue[this.#head]!;
      if (pending.fail !== null && pending.deadline > now) break;
      this.#head += 1;
      pending.fail?.(new Error(`Redis did not answer within ${this.#timeoutMs} ms`));
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    this.#arm(this.#queue[this.#head]!.deadline - now);
  }
}

export interface MountedRelay {
  readonly relay: Relay;
  /** Stops the relay, then closes the Redis connections it opened. */
  close(): Promise<void>;
}

function limitsOf(options: ResolvedRelayOptions): ChannelLimits {
  const { joinWindowMs, pairedTtlMs, bufferMessages, bufferBytes, bufferTtlMs, maxChannels, maxBufferedBytes } = options;
  return { joinWindowMs, pairedTtlMs, bufferMessages, bufferBytes, bufferTtlMs, maxChannels, maxBufferedBytes };
}

/**
 * Attaches the relay to an HTTP server: channels in memory, or, with `options.redis`, channel state and
 * buffers in Redis and events through the socket.io Redis adapter so that every node on the same key prefix
 * shares every channel. Redis must answer at start (this rejects otherwise); later outages fail closed.
 */
export async function mountRelay(options: {
  httpServer: HttpServer;
  relay: ResolvedRelayOptions;
  registry: Registry;
  log: RelayLog;
  /** The server's `trustProxy`, so the per-address limits count the client the HTTP routes see. */
  trustProxy?: TrustedProxies;
}): Promise<MountedRelay> {
  const { relay: settings, log } = options;
  if (!settings.redis) {
    const relay = new Relay({ ...options, store: new MemoryChannelStore(limitsOf(settings)) });
    return { relay, close: () => relay.close() };
  }
  const { url, keyPrefix, commandTimeoutMs } = settings.redis;
  const common: RedisOptions = { lazyConnect: true, connectTimeout: commandTimeoutMs, maxRetriesPerRequest: 1 };
  // Commands never wait for a reconnect: a join or a kept message fails at once (STORE_UNAVAILABLE).
  const command = new Redis(url, { ...common, enableOfflineQueue: false, commandTimeout: commandTimeoutMs });
  // A publish that hangs is refused like one that fails: the sender's ack waits for it. No ioredis
  // `commandTimeout` here: its timer per command (cleared with a `delete` that leaves each command slow to
  // read) cost ~10 µs per forwarded message; `deadlines` bounds the watched publishes with one timer instead.
  const pub = new Redis(url, { ...common, enableOfflineQueue: false });
  const deadlines = new Deadlines(commandTimeoutMs);
  // The subscriber re-subscribes by itself after a reconnect.
  const sub = new Redis(url, { lazyConnect: true, connectTimeout: commandTimeoutMs });
  const clients = [command, pub, sub];
  for (const [name, client] of [
    ['command', command],
    ['publish', pub],
    ['subscribe', sub],
  ] as const) {
    let loggedAt = Number.NEGATIVE_INFINITY;
    client.on('error', (error: Error) => {
      if (Date.now() - loggedAt < ERROR_LOG_INTERVAL_MS) return;
      loggedAt = Date.now();
      log.error({ client: name, cause: error.message }, 'relay Redis connection failed');
    });
  }
  // The adapter publishes without awaiting; a rejected publish (Redis down) must not become an unhandled
  // rejection. The relay still learns of it: an emit it watches hands it the publish it made.
  const publish = pub.publish.bind(pub);
  let watched: Promise<unknown>[] | null = null;
  pub.publish = ((...args: Parameters<typeof publish>) => {
    const sent = publish(...args);
    sent.catch(() => {});
    watched?.push(deadlines.bound(sent));
    return sent;
  }) as typeof pub.publish;
  const publishing: PublishWatch = (send) => {
    const made: Promise<unknown>[] = [];
    watched = made;
    try {
      send();
    } finally {
      watched = null;
    }
    return made.length === 0 ? null : made.length === 1 ? made[0]! : Promise.all(made);
  };
  try {
    await Promise.all(clients.map((c) => c.connect()));
  } catch (error) {
    for (const c of clients) c.disconnect();
    throw error;
  }
  const store: ChannelStore = new RedisChannelStore({ client: command, keyPrefix, limits: limitsOf(settings) });
  const relay = new Relay({ ...options, store, adapter: createAdapter(pub, sub, { key: `${keyPrefix}relay` }), publishing });
  return {
    relay,
    async close(): Promise<void> {
      try {
        await relay.close();
      } finally {
        await Promise.allSettled([command.quit(), deadlines.bound(pub.quit()), sub.quit()]);
        for (const c of clients) c.disconnect();
        deadlines.stop();
      }
    },
  };
}
