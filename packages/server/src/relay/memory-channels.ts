import { timingSafeEqual } from 'node:crypto';
import {
  type BufferInput,
  type BufferOutcome,
  type ChannelHoldings,
  type ChannelLimits,
  type ChannelStore,
  type JoinInput,
  type JoinOutcome,
  type LeaveInput,
  type LeaveOutcome,
  type MissedMessage,
  TAKEOVER_SEQ_GAP,
} from './channels.js';
import { PEER, type Role } from './envelope.js';

interface Kept {
  at: number;
  bytes: number;
  message: MissedMessage;
}

interface Slot {
  keyHash: Buffer | null;
  /** The holder's connection id, '' when away. */
  connection: string;
  epoch: number;
  /** The highest `seq` recorded for messages to this role. */
  seqTo: number;
  kept: Kept[];
  keptBytes: number;
}

interface Channel {
  expiresAt: number;
  isPaired: boolean;
  slots: Record<Role, Slot>;
}

/** Besides the relay's timer, a join sweeps at most this often. */
const SWEEP_INTERVAL_MS = 10_000;

const emptySlot = (): Slot => ({ keyHash: null, connection: '', epoch: 0, seqTo: 0, kept: [], keptBytes: 0 });

/**
 * Channels in this process: one relay node. Each method runs to completion before another starts. It
 * counts what it holds: at most `maxChannels` channels and `maxBufferedBytes` kept bytes, all channels
 * together; `sweep` gives back what the TTLs no longer keep.
 */
export class MemoryChannelStore implements ChannelStore {
  readonly #limits: ChannelLimits;
  readonly #channels = new Map<string, Channel>();
  #bufferedBytes = 0;
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(limits: ChannelLimits) {
    this.#limits = limits;
  }

  /** Channels held (expired ones not yet swept included). */
  get size(): number {
    return this.#channels.size;
  }

  held(): ChannelHoldings {
    return { channels: this.#channels.size, bufferedBytes: this.#bufferedBytes };
  }

  async join(input: JoinInput): Promise<JoinOutcome> {
    const { uuid, role, now } = input;
    if (now - this.#sweptAt >= SWEEP_INTERVAL_MS) this.#sweep(now);
    let channel = this.#live(uuid, now);
    const keyHash = Buffer.from(input.keyHash, 'hex');
    if (!channel) {
      if (role !== 'dapp') return { kind: 'expired' };
      const window = now + this.#limits.joinWindowMs;
      const expiresAt = input.expiresAt === undefined ? window : Math.min(input.expiresAt, window);
      if (expiresAt <= now) return { kind: 'expired' };
      if (this.#channels.size >= this.#limits.maxChannels) return { kind: 'capacity' };
      channel = { expiresAt, isPaired: false, slots: { dapp: emptySlot(), wallet: emptySlot() } };
      this.#channels.set(uuid, channel);
    }
    const slot = channel.slots[role];
    if (slot.keyHash === null) slot.keyHash = keyHash;
    else if (slot.keyHash.length !== keyHash.length || !timingSafeEqual(slot.keyHash, keyHash)) return { kind: 'full' };
    if (role === 'wallet' && !channel.isPaired) {
      channel.isPaired = true;
      channel.expiresAt = now + this.#limits.pairedTtlMs;
    }
    const replaced = slot.connection === '' ? null : slot.connection;
    slot.connection = input.connectionId;
    slot.epoch += 1;
    const peerSlot = channel.slots[PEER[role]];
    if (replaced !== null) peerSlot.seqTo += TAKEOVER_SEQ_GAP;
    const cutoff = now - this.#limits.bufferTtlMs;
    const lastSeq = input.lastSeq ?? -1;
    const missed = slot.kept.filter((k) => k.at > cutoff && k.message.seq > lastSeq).map((k) => k.message);
    this.#clear(slot);
    return {
      kind: 'joined',
      expiresAt: channel.expiresAt,
      isPaired: channel.isPaired,
      replaced,
      epoch: slot.epoch,
      peer: { isConnected: peerSlot.connection !== '', epoch: peerSlot.epoch },
      seqBase: peerSlot.seqTo,
      missed,
    };
  }

  async leave(input: LeaveInput): Promise<LeaveOutcome> {
    const channel = this.#channels.get(input.uuid);
    const slot = channel?.slots[input.role];
    if (!channel || !slot || slot.connection !== input.connectionId) return { wasCurrent: false };
    slot.connection = '';
    slot.epoch += 1;
    const peerSlot = channel.slots[PEER[input.role]];
    peerSlot.seqTo = Math.max(peerSlot.seqTo, input.lastSeq);
    return { wasCurrent: true, epoch: slot.epoch };
  }

  async buffer(input: BufferInput): Promise<BufferOutcome> {
    const channel = this.#live(input.uuid, input.now);
    if (!channel) return { kind: 'gone' };
    const slot = channel.slots[input.recipient];
    if (slot.connection !== '') return { kind: 'present', epoch: slot.epoch };
    if (slot.keyHash === null) return { kind: 'unclaimed' };
    this.#dropStale(slot, input.now - this.#limits.bufferTtlMs);
    if (slot.kept.length >= this.#limits.bufferMessages || slot.keptBytes + input.bytes > this.#limits.bufferBytes)
      return { kind: 'full' };
    if (this.#bufferedBytes + input.bytes > this.#limits.maxBufferedBytes) return { kind: 'capacity' };
    slot.kept.push({ at: input.now, bytes: input.bytes, message: input.message });
    slot.keptBytes += input.bytes;
    this.#bufferedBytes += input.bytes;
    slot.seqTo = Math.max(slot.seqTo, input.message.seq);
    return { kind: 'buffered' };
  }

  async expire(uuid: string, now: number): Promise<number | null> {
    const channel = this.#live(uuid, now);
    return channel ? channel.expiresAt : null;
  }

  async sweep(now: number): Promise<void> {
    this.#sweep(now);
  }

  async close(): Promise<void> {
    this.#channels.clear();
    this.#bufferedBytes = 0;
  }

  /** The channel if it has not expired; an expired one is deleted on the way. */
  #live(uuid: string, now: number): Channel | undefined {
    const channel = this.#channels.get(uuid);
    if (channel && channel.expiresAt <= now) {
      this.#delete(uuid, channel);
      return undefined;
    }
    return channel;
  }

  #delete(uuid: string, channel: Channel): void {
    this.#clear(channel.slots.dapp);
    this.#clear(channel.slots.wallet);
    this.#channels.delete(uuid);
  }

  #clear(slot: Slot): void {
    this.#bufferedBytes -= slot.keptBytes;
    slot.kept = [];
    slot.keptBytes = 0;
  }

  /** Drops the messages kept at or before `cutoff` (they are kept in time order). */
  #dropStale(slot: Slot, cutoff: number): void {
    let stale = 0;
    let bytes = 0;
    while (stale < slot.kept.length && slot.kept[stale]!.at <= cutoff) bytes += slot.kept[stale++]!.bytes;
    if (stale === 0) return;
    slot.kept.splice(0, stale);
    slot.keptBytes -= bytes;
    this.#bufferedBytes -= bytes;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    const cutoff = now - this.#limits.bufferTtlMs;
    for (const [uuid, channel] of this.#channels) {
      if (channel.expiresAt <= now) this.#delete(uuid, channel);
      else for (const slot of [channel.slots.dapp, channel.slots.wallet]) this.#dropStale(slot, cutoff);
    }
  }
}
