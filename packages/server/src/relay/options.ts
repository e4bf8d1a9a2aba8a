import { LatchkeyError } from '@latchkey/core';
import { type RelayScheduler, systemScheduler } from './scheduler.js';

/**
 * The QR-connect relay's settings (`createServer({ relay })`). Every field has its default and unit here;
 * bad values throw `CONFIG_INVALID` once, at construction.
 */
export interface RelayOptions {
  /**
   * Seconds a new channel waits for its wallet, counted from the dApp's first join; the dApp may ask for
   * less (`join.expiresAt`). A channel no wallet joined by then expires: `channel_expired`, then disconnect.
   * 1-86400, default 600.
   */
  channelTtlSeconds?: number;
  /** Seconds a channel lives once its wallet joined (the pairing), then it expires the same way. 60-2592000, default 86400. */
  pairedTtlSeconds?: number;
  /**
   * The largest event: the characters of its strings (uuid, publicKey, nonce, data) added up. Above it the
   * event is refused (`RELAY_PAYLOAD_TOO_LARGE`); a socket.io packet above it plus 4 KiB closes the
   * connection before it is read. 16384-1048576 (the connect protocol counts on 16384), default 65536.
   */
  maxPayloadBytes?: number;
  /** Messages kept for a peer that is away; past it a sender gets `RELAY_RATE_LIMITED`. 0-10000 (0: none), default 100. */
  bufferMessages?: number;
  /** Bytes (as `maxPayloadBytes` counts them) kept for a peer that is away. At least `maxPayloadBytes`; default 1048576. */
  bufferBytes?: number;
  /** Seconds a kept message waits for its peer before it is dropped. 1-86400, default 300. */
  bufferTtlSeconds?: number;
  /** Per connection, every event: a bucket of `burst` tokens refilled at `perSecond`. `perSecond: 0` turns it off. Default 20/s, burst 60. */
  rateLimit?: { perSecond?: number; burst?: number };
  /**
   * The most channels this node holds; a dApp's join that would open one more is refused
   * (`RELAY_RATE_LIMITED`) until some expire. In memory: every live channel, connected or not. On Redis:
   * the channels with a connection on this node (Redis bounds each channel by its TTLs). 1-10000000,
   * default 10000.
   */
  maxChannels?: number;
  /**
   * Bytes (as `maxPayloadBytes` counts them) kept for absent peers on all channels together; past it a
   * message for an absent peer is refused (`RELAY_RATE_LIMITED`). Channels in memory only (on Redis each
   * seat's `bufferBytes` and TTLs bound it). At least `bufferBytes`, at most 16 GiB; default 64 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Open connections (engine.io, before any join) from one client address: an IPv4 address, an IPv6 /64,
   * as the server's `trustProxy` reports it. One more is refused at the handshake (HTTP 403). Per node.
   * 0 turns it off; 0-1000000, default 64.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Joins from one client address per minute (fixed windows aligned to the epoch), every connection
   * together; past it `RELAY_RATE_LIMITED`. Per node. 0 turns it off; 0-1000000, default 120.
   */
  joinsPerMinutePerAddress?: number;
  /**
   * Share channels between relay nodes: channel state and buffers in Redis, events through the socket.io
   * Redis adapter. Default: none, channels live in this process (one node).
   */
  redis?: {
    /** `redis://` or `rediss://`. */
    url: string;
    /** Prepended to the relay's keys and pub/sub channels. Default `'lk:'` (the store's default too). */
    keyPrefix?: string;
    /** Milliseconds a channel command may take before the join or message fails closed. Default 1000. */
    commandTimeoutMs?: number;
  };
  /** Time for expiry, buffer TTLs and rate limits. Default: the system clock and `setTimeout`. */
  scheduler?: RelayScheduler;
}

export interface ResolvedRelayOptions {
  readonly joinWindowMs: number;
  readonly pairedTtlMs: number;
  readonly maxPayloadBytes: number;
  readonly bufferMessages: number;
  readonly bufferBytes: number;
  readonly bufferTtlMs: number;
  /** `null`: no rate limit. */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number } | null;
  readonly maxChannels: number;
  readonly maxBufferedBytes: number;
  /** 0: no limit. */
  readonly maxConnectionsPerAddress: number;
  /** 0: no limit. */
  readonly joinsPerMinutePerAddress: number;
  readonly redis: { readonly url: string; readonly keyPrefix: string; readonly commandTimeoutMs: number } | null;
  readonly scheduler: RelayScheduler;
}

/** socket.io's path on the server's HTTP listener, and the namespace the relay answers on. */
export const RELAY_PATH = '/v1/relay';
export const RELAY_NAMESPACE = '/connect';
/** Room for the envelope around the payload in one socket.io packet (event name, keys, quotes, seq, ack id). */
export const PACKET_OVERHEAD_BYTES = 4096;
/** A connection that has not joined a channel this long after connecting is closed. */
export const JOIN_TIMEOUT_MS = 30_000;
/** `joinsPerMinutePerAddress` counts in fixed windows of this length, aligned to the epoch. */
export const JOIN_COUNT_WINDOW_MS = 60_000;
/** How often the relay asks its channel store to drop stale kept messages and expired channels. */
export const SWEEP_INTERVAL_MS = 10_000;

const DEFAULTS = {
  channelTtlSeconds: 600,
  pairedTtlSeconds: 86_400,
  maxPayloadBytes: 65_536,
  bufferMessages: 100,
  bufferBytes: 1_048_576,
  bufferTtlSeconds: 300,
  rateLimit: { perSecond: 20, burst: 60 },
  maxChannels: 10_000,
  maxBufferedBytes: 64 * 1_048_576,
  maxConnectionsPerAddress: 64,
  joinsPerMinutePerAddress: 120,
  keyPrefix: 'lk:',
  commandTimeoutMs: 1000,
} as const;

function invalid(field: string, message: string): never {
  throw new LatchkeyError('CONFIG_INVALID', { message: `relay.${field}: ${message}`, field: `relay.${field}` });
}

function whole(field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    invalid(field, `a whole number from ${min} to ${max}`);
  return value;
}

/** Checks relay options once; `false` (or nothing) means no relay. */
export function resolveRelayOptions(options: RelayOptions | false | undefined): ResolvedRelayOptions | null {
  if (options === undefined || options === false) return null;
  if (typeof options !== 'object' || options === null) invalid('', 'an object, or false');
  const maxPayloadBytes = whole('maxPayloadBytes', options.maxPayloadBytes, DEFAULTS.maxPayloadBytes, 16_384, 1_048_576);
  const bufferBytes = whole('bufferBytes', options.bufferBytes, DEFAULTS.bufferBytes, 0, 64 * 1_048_576);
  if (bufferBytes < maxPayloadBytes) invalid('bufferBytes', `at least maxPayloadBytes (${maxPayloadBytes})`);
  const maxBufferedBytes = whole(
    'maxBufferedBytes',
    options.maxBufferedBytes,
    DEFAULTS.maxBufferedBytes,
    0,
    16 * 1024 * 1_048_576,
  );
  if (maxBufferedBytes < bufferBytes) invalid('maxBufferedBytes', `at least bufferBytes (${bufferBytes})`);
  const limit = options.rateLimit ?? {};
  if (typeof limit !== 'object' || limit === null) invalid('rateLimit', 'an object { perSecond, burst }');
  const perSecond = whole('rateLimit.perSecond', limit.perSecond, DEFAULTS.rateLimit.perSecond, 0, 1_000_000);
  const burst = whole('rateLimit.burst', limit.burst, Math.max(DEFAULTS.rateLimit.burst, perSecond), 1, 1_000_000);
  let redis: ResolvedRelayOptions['redis'] = null;
  if (options.redis !== undefined) {
    const { url, keyPrefix = DEFAULTS.keyPrefix } = options.redis ?? {};
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) invalid('redis.url', 'a redis:// or rediss:// URL');
    if (typeof keyPrefix !== 'string' || keyPrefix === '' || /[{}]/.test(keyPrefix))
      invalid('redis.keyPrefix', 'a non-empty string without { or }');
    const commandTimeoutMs = whole(
      'redis.commandTimeoutMs',
      options.redis.commandTimeoutMs,
      DEFAULTS.commandTimeoutMs,
      1,
      60_000,
    );
    redis = Object.freeze({ url, keyPrefix, commandTimeoutMs });
  }
  const scheduler = options.scheduler ?? systemScheduler;
  if (typeof scheduler?.now !== 'function' || typeof scheduler.at !== 'function')
    invalid('scheduler', 'an object with now() and at()');
  return Object.freeze({
    joinWindowMs: whole('channelTtlSeconds', options.channelTtlSeconds, DEFAULTS.channelTtlSeconds, 1, 86_400) * 1000,
    pairedTtlMs: whole('pairedTtlSeconds', options.pairedTtlSeconds, DEFAULTS.pairedTtlSeconds, 60, 2_592_000) * 1000,
    maxPayloadBytes,
    bufferMessages: whole('bufferMessages', options.bufferMessages, DEFAULTS.bufferMessages, 0, 10_000),
    bufferBytes,
    bufferTtlMs: whole('bufferTtlSeconds', options.bufferTtlSeconds, DEFAULTS.bufferTtlSeconds, 1, 86_400) * 1000,
    rateLimit: perSecond === 0 ? null : Object.freeze({ perSecond, burst }),
    maxChannels: whole('maxChannels', options.maxChannels, DEFAULTS.maxChannels, 1, 10_000_000),
    maxBufferedBytes,
    maxConnectionsPerAddress: whole(
      'maxConnectionsPerAddress',
      options.maxConnectionsPerAddress,
      DEFAULTS.maxConnectionsPerAddress,
      0,
      1_000_000,
    ),
    joinsPerMinutePerAddress: whole(
      'joinsPerMinutePerAddress',
      options.joinsPerMinutePerAddress,
      DEFAULTS.joinsPerMinutePerAddress,
      0,
      1_000_000,
    ),
    redis,
    scheduler,
  });
}
