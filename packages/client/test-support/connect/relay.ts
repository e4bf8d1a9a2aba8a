import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isChannelId } from '@latchkey/protocol/connect';
import { Server, type Socket } from 'socket.io';

// A minimal relay for SDK tests: the contract's join / forward / rejoin semantics (docs/connect-protocol.md §9)
// on 127.0.0.1:0, plus a tamper hook that plays a hostile relay. The real one is packages/server/src/relay.

export type Role = 'dapp' | 'wallet';
export type MessageEvent = 'connected_uuid' | 'request' | 'response';
export type Envelope = Record<string, unknown>;

/** What a hostile relay does with one message: the envelopes to deliver instead (none drops it). May wait (a delay). */
export type TamperHook = (message: { event: MessageEvent; envelope: Envelope; from: Role }) => Envelope[] | Promise<Envelope[]>;

interface Slot {
  rejoinKey: string;
  socket: Socket | null;
  /** The last seq given to this role. */
  seq: number;
  kept: (Envelope & { event: MessageEvent; seq: number })[];
}

interface Channel {
  expiresAt: number;
  slots: Partial<Record<Role, Slot>>;
}

const SENDER: Record<MessageEvent, Role> = { connected_uuid: 'wallet', request: 'dapp', response: 'wallet' };
const PEER: Record<Role, Role> = { dapp: 'wallet', wallet: 'dapp' };

export interface TestRelay {
  /** The relay URL to put in a connect URI (`http://127.0.0.1:<port>`). */
  readonly url: string;
  readonly io: Server;
  /** Every message the relay accepted, in order, as sent. */
  readonly log: { event: MessageEvent; envelope: Envelope; from: Role }[];
  tamper: TamperHook | null;
  /** Expires a channel now: `channel_expired`, then disconnects its sockets. */
  expire(uuid: string): void;
  /** Closes a role's transport under it, as a network failure would (the client reconnects by itself). */
  dropTransport(uuid: string, role: Role): boolean;
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 with a random port. */
export async function startTestRelay(options: { joinWindowMs?: number; pairedTtlMs?: number } = {}): Promise<TestRelay> {
  const http: HttpServer = createServer();
  const io = new Server(http, { path: '/v1/relay', serveClient: false });
  const channels = new Map<string, Channel>();
  const joinWindowMs = options.joinWindowMs ?? 600_000;
  const pairedTtlMs = options.pairedTtlMs ?? 86_400_000;
  const relay: TestRelay = {
    url: '',
    io,
    log: [],
    tamper: null,
    expire(uuid) {
      channels.delete(uuid);
      nsp.to(uuid).emit('channel_expired', { uuid });
      nsp.in(uuid).disconnectSockets(true);
    },
    dropTransport(uuid, role) {
      const socket = channels.get(uuid)?.slots[role]?.socket;
      socket?.conn.close();
      return !!socket;
    },
    async close() {
      io.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };

  const nsp = io.of('/connect');
  nsp.on('connection', (socket: Socket) => {
    let joined: { uuid: string; role: Role } | null = null;
    socket.on('join', (request: Record<string, unknown>, ack: (answer: unknown) => void) => {
      const refuse = (code: string) => ack({ ok: false, error: { code, message: code } });
      const { uuid, role, rejoinKey, expiresAt, lastSeq } = request ?? {};
      if (!isChannelId(uuid) || (role !== 'dapp' && role !== 'wallet') || typeof rejoinKey !== 'string')
        return refuse('RELAY_ENVELOPE_INVALID');
      const now = Date.now();
      let channel = channels.get(uuid);
      if (channel && now >= channel.expiresAt) {
        channels.delete(uuid);
        channel = undefined;
      }
      if (!channel) {
        if (role !== 'dapp') return refuse('CONNECT_CHANNEL_EXPIRED');
        const wanted = typeof expiresAt === 'number' ? expiresAt : now + joinWindowMs;
        channel = { expiresAt: Math.min(wanted, now + joinWindowMs), slots: {} };
        channels.set(uuid, channel);
      }
      let slot = channel.slots[role];
      if (slot && slot.rejoinKey !== rejoinKey) return refuse('CONNECT_CHANNEL_FULL');
      if (!slot) {
        slot = { rejoinKey, socket: null, seq: 0, kept: [] };
        channel.slots[role] = slot;
        if (role === 'wallet') channel.expiresAt = now + pairedTtlMs;
      }
      slot.socket?.disconnect(true);
      slot.socket = socket;
      joined = { uuid, role };
      void socket.join(uuid);
      const missed = slot.kept.filter((m) => typeof lastSeq !== 'number' || m.seq > lastSeq);
      slot.kept = [];
      socket.to(uuid).emit('peer_joined', { role });
      ack({
        ok: true,
        channel: { uuid, expiresAt: channel.expiresAt, peerConnected: !!channel.slots[PEER[role]]?.socket },
        missed,
      });
    });

    for (const event of ['connected_uuid', 'request', 'response'] as const) {
      socket.on(event, async (envelope: Envelope, ack?: (answer: unknown) => void) => {
        const refuse = (code: string) => ack?.({ ok: false, error: { code, message: code } });
        if (!joined || SENDER[event] !== joined.role || envelope?.uuid !== joined.uuid) return refuse('RELAY_ENVELOPE_INVALID');
        const channel = channels.get(joined.uuid);
        if (!channel) return refuse('CONNECT_CHANNEL_EXPIRED');
        relay.log.push({ event, envelope: { ...envelope }, from: joined.role });
        ack?.({ ok: true });
        const out = relay.tamper ? await relay.tamper({ event, envelope: { ...envelope }, from: joined.role }) : [envelope];
        const slot = channel.slots[PEER[joined.role]];
        if (!slot) return;
        for (const e of out) {
          slot.seq += 1;
          const sequenced = { ...e, seq: slot.seq };
          if (slot.socket?.connected) slot.socket.emit(event, sequenced);
          else slot.kept.push({ event, ...sequenced });
        }
      });
    }

    socket.on('disconnect', () => {
      if (!joined) return;
      const channel = channels.get(joined.uuid);
      const slot = channel?.slots[joined.role];
      if (slot?.socket === socket) {
        slot.socket = null;
        nsp.to(joined.uuid).emit('peer_left', { role: joined.role });
      }
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  (relay as { url: string }).url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return relay;
}
