import { timingSafeEqual } from 'node:crypto';
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

/** Expired channels are swept at most this often, on the next join. */
const SWEEP_INTERVAL_MS = 10_000;

const emptySlot = (): Slot => ({ keyHash: null, connection: '', epoch: 0, seqTo: 0, kept: [], keptBytes: 0 });

/** Channels in this process: one relay node. Each method runs to completion before another starts. */
export class MemoryChannelStore implements ChannelStore {
  readonly #limits: ChannelLimits;
  readonly #channels = new Map<string, Channel>();
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(limits: ChannelLimits) {
    this.#limits = limits;
  }

  /** Channels held (expired ones not yet swept included). */
  get size(): number {
    return this.#channels.size;
  }

  async join(input: JoinInput): Promise<JoinOutcome> {
    const { uuid, role, now } = input;
    this.#sweep(now);
    let channel = this.#live(uuid, now);
    const keyHash = Buffer.from(input.keyHash, 'hex');
    if (!channel) {
      if (role !== 'dapp') return { kind: 'expired' };
      const window = now + this.#limits.joinWindowMs;
      const expiresAt = input.expiresAt === undefined ? window : Math.min(input.expiresAt, window);
      if (expiresAt <= now) return { kind: 'expired' };
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
    slot.kept = [];
    slot.keptBytes = 0;
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
    const cutoff = input.now - this.#limits.bufferTtlMs;
    while (slot.kept.length > 0 && slot.kept[0]!.at <= cutoff) slot.keptBytes -= slot.kept.shift()!.bytes;
    if (slot.kept.length >= this.#limits.bufferMessages || slot.keptBytes + input.bytes > this.#limits.bufferBytes)
      return { kind: 'full' };
    slot.kept.push({ at: input.now, bytes: input.bytes, message: input.message });
    slot.keptBytes += input.bytes;
    slot.seqTo = Math.max(slot.seqTo, input.message.seq);
    return { kind: 'buffered' };
  }

  async expire(uuid: string, now: number): Promise<number | null> {
    const channel = this.#live(uuid, now);
    return channel ? channel.expiresAt : null;
  }

  async close(): Promise<void> {
    this.#channels.clear();
  }

  /** The channel if it has not expired; an expired one is deleted on the way. */
  #live(uuid: string, now: number): Channel | undefined {
    const channel = this.#channels.get(uuid);
    if (channel && channel.expiresAt <= now) {
      this.#channels.delete(uuid);
      return undefined;
    }
    return channel;
  }

  #sweep(now: number): void {
    if (now - this.#sweptAt < SWEEP_INTERVAL_MS) return;
    this.#sweptAt = now;
    for (const [uuid, channel] of this.#channels) if (channel.expiresAt <= now) this.#channels.delete(uuid);
  }
}
