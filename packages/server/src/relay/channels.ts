import type { MessageEvent, Role, SequencedEnvelope } from './envelope.js';

/** A message kept for a peer that was away, as its `join` ack's `missed` lists it. */
export type MissedMessage = { event: MessageEvent } & SequencedEnvelope;

/** Whether a role's peer holds its slot now; `epoch` grows with every join and leave of that role. */
export interface Presence {
  isConnected: boolean;
  epoch: number;
}

export interface JoinInput {
  uuid: string;
  role: Role;
  /** SHA-256 of the connection's rejoin key, lowercase hex. The key itself never reaches the store. */
  keyHash: string;
  /** The socket.io id of the joining connection: the slot's holder from now on. */
  connectionId: string;
  now: number;
  /** The dApp's requested expiry (first join only); capped by the join window. */
  expiresAt?: number;
  /** The last `seq` the joiner received; kept messages at or below it are not handed out again. */
  lastSeq?: number;
}

export type JoinOutcome =
  | {
      kind: 'joined';
      expiresAt: number;
      /** A wallet has joined the channel at least once. */
      isPaired: boolean;
      /** The connection that held this slot until now (a rejoin that took the slot over), else null. */
      replaced: string | null;
      /** This role's presence epoch after the join. */
      epoch: number;
      peer: Presence;
      /** The `seq` after which this connection numbers what it sends to its peer. */
      seqBase: number;
      /** What was kept for this role while it was away, oldest first, then dropped from the store. */
      missed: MissedMessage[];
    }
  /** The slot belongs to another rejoin key. */
  | { kind: 'full' }
  /** Creating the channel would pass `maxChannels`: nothing was created. */
  | { kind: 'capacity' }
  /** No such channel, or it expired; for a wallet, also a channel no dApp created. */
  | { kind: 'expired' };

export interface LeaveInput {
  uuid: string;
  role: Role;
  connectionId: string;
  /** The last `seq` this connection sent to its peer, so the next holder of the slot continues after it. */
  lastSeq: number;
}

export type LeaveOutcome = { wasCurrent: false } | { wasCurrent: true; epoch: number };

export interface BufferInput {
  uuid: string;
  /** Whom the message is for. */
  recipient: Role;
  now: number;
  message: MissedMessage;
  /** The message's size as the payload limit counts it. */
  bytes: number;
}

export type BufferOutcome =
  | { kind: 'buffered' }
  /** The recipient holds its slot after all: forward the message live. */
  | { kind: 'present'; epoch: number }
  /** Keeping it would pass the seat's count or byte bound: nothing was kept. */
  | { kind: 'full' }
  /** Keeping it would pass `maxBufferedBytes`, all channels together: nothing was kept. */
  | { kind: 'capacity' }
  /** No one ever joined the recipient's seat (a wallet that never came): nothing is kept for it. */
  | { kind: 'unclaimed' }
  /** The channel expired or never was. */
  | { kind: 'gone' };

/** What every channel store is built with. */
export interface ChannelLimits {
  joinWindowMs: number;
  pairedTtlMs: number;
  bufferMessages: number;
  bufferBytes: number;
  bufferTtlMs: number;
  /** The most channels held at once (memory store; the Redis store bounds each channel and relies on TTLs). */
  maxChannels: number;
  /** The most bytes kept for absent peers, all channels together (memory store, as `maxChannels`). */
  maxBufferedBytes: number;
}

/** What a store holds now, for the limits and the metrics. */
export interface ChannelHoldings {
  /** Channels, connected or not (expired ones the next sweep deletes included). */
  channels: number;
  /** Bytes kept for absent peers, counted as the payload limit counts them. */
  bufferedBytes: number;
}

/**
 * Where the relay keeps channels: the holders of the two slots, the hashes of their rejoin keys, the
 * channel's expiry, sequence high-water marks and the messages kept for an absent peer. Every method is
 * atomic per channel (one critical section in memory, one Lua script on Redis). A store that cannot answer
 * rejects; the relay then refuses the join or the message (fails closed).
 */
export interface ChannelStore {
  /**
   * Creates the channel (a dApp's first join), claims an empty slot, or hands a slot back to the holder of
   * its rejoin key (compared in constant time), replacing whichever connection held it. A wallet's first join
   * pairs the channel and moves its expiry to `now + pairedTtlMs`. Drains the joiner's buffer.
   */
  join(input: JoinInput): Promise<JoinOutcome>;
  /** Frees the slot if `connectionId` still holds it, and records the last `seq` it sent. */
  leave(input: LeaveInput): Promise<LeaveOutcome>;
  /**
   * Keeps a message for an absent recipient, first dropping kept messages older than the buffer TTL. Keeps
   * nothing when the recipient is present, when its seat was never claimed, or when the count or byte bound
   * would be passed (no message is ever dropped to make room).
   */
  buffer(input: BufferInput): Promise<BufferOutcome>;
  /** Deletes the channel if it has expired (answers null, also when it is gone already), else answers its expiry. */
  expire(uuid: string, now: number): Promise<number | null>;
  /**
   * Drops every kept message older than the buffer TTL and deletes every expired channel, so that what a
   * store holds shrinks with time even on channels nobody touches again. The relay calls it on a timer.
   * A store whose entries expire by themselves (Redis TTLs) does nothing.
   */
  sweep(now: number): Promise<void>;
  /** What the store holds on this node now; null when it cannot tell cheaply (Redis). */
  held(): ChannelHoldings | null;
  close(): Promise<void>;
}

/**
 * How far a slot's `seq` jumps when a connection takes it over from another that never left: the old one
 * may have forwarded messages the store never counted, and a recipient must never see a number twice.
 */
export const TAKEOVER_SEQ_GAP = 2 ** 20;
