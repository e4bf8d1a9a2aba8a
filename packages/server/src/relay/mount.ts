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
  // A publish that hangs is refused like one that fails: the sender's ack waits for it.
  const pub = new Redis(url, { ...common, enableOfflineQueue: false, commandTimeout: commandTimeoutMs });
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
    watched?.push(sent);
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
        await Promise.allSettled(clients.map((c) => c.quit()));
        for (const c of clients) c.disconnect();
      }
    },
  };
}
