import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type BufferInput,
  type BufferOutcome,
  type ChannelLimits,
  type ChannelStore,
  type JoinInput,
  type JoinOutcome,
  type LeaveInput,
  type LeaveOutcome,
  type MissedMessage,
  TAKEOVER_SEQ_GAP,
} from './channels.js';
import type { Role } from './envelope.js';
import { BUFFER, EXPIRE, JOIN, LEAVE } from './redis-scripts.js';

const CODE: Readonly<Record<Role, string>> = { dapp: 'd', wallet: 'w' };

/** A script run with EVALSHA, falling back to EVAL when Redis has not cached it (NOSCRIPT). */
class Script {
  readonly #sha: string;
  constructor(readonly source: string) {
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown[]> {
    try {
      return (await client.evalsha(this.#sha, keys.length, ...keys, ...args)) as unknown[];
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await client.eval(this.source, keys.length, ...keys, ...args)) as unknown[];
    }
  }
}

const join = new Script(JOIN);
const leave = new Script(LEAVE);
const buffer = new Script(BUFFER);
const expire = new Script(EXPIRE);

/**
 * Channels in Redis, shared by every relay node on the same key prefix. Each channel is bounded as in
 * memory (per seat, by count, bytes and TTL); `maxChannels` and `maxBufferedBytes` are not counted here
 * (the relay bounds the channels with a connection on its node). The client is the caller's and is
 * left open by `close`; it should not queue commands while disconnected (`enableOfflineQueue: false`) and
 * should time out (`commandTimeout`), so that a Redis that is down makes every method reject at once.
 */
export class RedisChannelStore implements ChannelStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #limits: ChannelLimits;

  constructor(options: { client: Redis; keyPrefix: string; limits: ChannelLimits }) {
    this.#client = options.client;
    this.#prefix = options.keyPrefix;
    this.#limits = options.limits;
  }

  /** The channel hash; its buffers add `:to:dapp` / `:to:wallet`. The hash tag keeps all three in one slot. */
  channelKey(uuid: string): string {
    return `${this.#prefix}relay:{${uuid}}`;
  }

  async join(input: JoinInput): Promise<JoinOutcome> {
    const { uuid, role, now } = input;
    const key = this.channelKey(uuid);
    const window = now + this.#limits.joinWindowMs;
    const created = input.expiresAt === undefined ? window : Math.min(input.expiresAt, window);
    const paired = now + this.#limits.pairedTtlMs;
    const reply = await join.run(
      this.#client,
      [key, `${key}:to:${role}`, `${key}:to:${role === 'dapp' ? 'wallet' : 'dapp'}`],
      [
        CODE[role],
        input.keyHash,
        input.connectionId,
        String(now),
        String(created),
        String(Math.max(created - now, 1)),
        String(paired),
        String(this.#limits.pairedTtlMs),
        String(input.lastSeq ?? -1),
        String(now - this.#limits.bufferTtlMs),
        String(TAKEOVER_SEQ_GAP),
      ],
    );
    if (reply[0] === 'expired') return { kind: 'expired' };
    if (reply[0] === 'full') return { kind: 'full' };
    const [, expiresAt, isPaired, replaced, epoch, peerConnected, peerEpoch, seqBase, missed] = reply;
    return {
      kind: 'joined',
      expiresAt: Number(expiresAt),
      isPaired: Number(isPaired) === 1,
      replaced: replaced === '' ? null : String(replaced),
      epoch: Number(epoch),
      peer: { isConnected: Number(peerConnected) === 1, epoch: Number(peerEpoch) },
      seqBase: Number(seqBase),
      missed: (missed as string[]).map((json) => JSON.parse(json) as MissedMessage),
    };
  }

  async leave(input: LeaveInput): Promise<LeaveOutcome> {
    const reply = await leave.run(
      this.#client,
      [this.channelKey(input.uuid)],
      [CODE[input.role], input.connectionId, String(input.lastSeq)],
    );
    return Number(reply[0]) === 1 ? { wasCurrent: true, epoch: Number(reply[1]) } : { wasCurrent: false };
  }

  async buffer(input: BufferInput): Promise<BufferOutcome> {
    const key = this.channelKey(input.uuid);
    const { message, now } = input;
    const reply = await buffer.run(
      this.#client,
      [key, `${key}:to:${input.recipient}`],
      [
        CODE[input.recipient],
        String(now),
        String(now - this.#limits.bufferTtlMs),
        String(this.#limits.bufferMessages),
        String(this.#limits.bufferBytes),
        String(message.seq),
        String(input.bytes),
        `${now}:${message.seq}:${input.bytes}:${JSON.stringify(message)}`,
        String(this.#limits.bufferTtlMs),
      ],
    );
    switch (reply[0]) {
      case 'buffered':
        return { kind: 'buffered' };
      case 'present':
        return { kind: 'present', epoch: Number(reply[1]) };
      case 'full':
        return { kind: 'full' };
      case 'unclaimed':
        return { kind: 'unclaimed' };
      default:
        return { kind: 'gone' };
    }
  }

  async expire(uuid: string, now: number): Promise<number | null> {
    const key = this.channelKey(uuid);
    const reply = (await expire.run(this.#client, [key, `${key}:to:dapp`, `${key}:to:wallet`], [String(now)])) as unknown;
    const expiresAt = Number(reply);
    return expiresAt > 0 ? expiresAt : null;
  }

  /** Nothing to do: a channel's hash and its buffers carry TTLs, and a buffer's stale head is dropped on its next write. */
  async sweep(): Promise<void> {}

  /** Unknown here: counting would mean scanning keys that every node shares. */
  held(): null {
    return null;
  }

  async close(): Promise<void> {}
}
