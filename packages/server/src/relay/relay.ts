import { createHash } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { ERROR_CODES } from '@latchkey/core';
import type { Registry } from 'prom-client';
import { type Namespace, Server, type ServerOptions, type Socket } from 'socket.io';
import { rateKey } from '../http/rate-limit.js';
import type { ChannelStore, JoinOutcome, Presence } from './channels.js';
import { clientAddressOf, type TrustedProxies, trustOf } from './client-address.js';
import {
  type Envelope,
  type MessageEvent,
  PEER,
  parseEnvelope,
  parseJoin,
  payloadSize,
  type Role,
  SENDER,
  type SequencedEnvelope,
  sequenced,
} from './envelope.js';
import { RelayMetrics, type RelayRefusal } from './metrics.js';
import {
  JOIN_COUNT_WINDOW_MS,
  JOIN_TIMEOUT_MS,
  PACKET_OVERHEAD_BYTES,
  RELAY_NAMESPACE,
  RELAY_PATH,
  type ResolvedRelayOptions,
  SWEEP_INTERVAL_MS,
} from './options.js';
import type { ScheduledTask } from './scheduler.js';
import { TokenBucket } from './token-bucket.js';

/** What the relay logs through: the server's pino logger. */
export interface RelayLog {
  error(object: object, message: string): void;
  warn(object: object, message: string): void;
  debug(object: object, message: string): void;
}

type Ack = (answer: unknown) => void;

/**
 * Runs `send` (an emit to a room) and answers the promise of the cross-node publish it made, null when it
 * made none. With channels shared through Redis, a message for a peer on another node is acked only once
 * Redis took it.
 */
export type PublishWatch = (send: () => void) => Promise<unknown> | null;

/** What the relay uses of an engine.io connection (before any namespace). */
interface Transport {
  readonly request: IncomingMessage;
  once(event: 'close', listener: () => void): unknown;
  close(): void;
}

/** One client connection to the relay namespace. */
interface Connection {
  readonly socket: Socket;
  /** What the per-address limits count it as: its address (an IPv6 one by its /64). */
  readonly address: string;
  readonly bucket: TokenBucket | null;
  channel: LocalChannel | null;
  role: Role | null;
  /** The last `seq` this connection gave a message to its peer. */
  sendSeq: number;
  isJoining: boolean;
  joinTimer: ScheduledTask | null;
}

/** A channel with at least one connection on this node, and what this node knows of both slots. */
interface LocalChannel {
  readonly uuid: string;
  expiresAt: number;
  presence: Record<Role, Presence>;
  local: Record<Role, Connection | null>;
  timer: ScheduledTask | null;
  timerAt: number;
}

/** Node-to-node notice (socket.io `serverSideEmit`) that a slot was taken or freed. */
const PRESENCE_EVENT = 'latchkey:presence';
/** A failed expiry check is tried again this much later. */
const EXPIRY_RETRY_MS = 1000;
const MESSAGE_EVENTS = new Set<string>(['connected_uuid', 'request', 'response']);

/**
 * The QR-connect relay: socket.io on the server's HTTP listener (path `/v1/relay`, namespace `/connect`).
 * It forwards `connected_uuid`, `request` and `response` between the dApp and the wallet of a channel
 * blindly: it checks each envelope's shape and size, never reads `nonce` or `data`. Forwarding to a peer
 * that holds its slot costs no store call; only a message for an absent peer goes to the channel store.
 */
export class Relay {
  readonly io: Server;
  readonly #nsp: Namespace;
  readonly #options: ResolvedRelayOptions;
  readonly #store: ChannelStore;
  readonly #log: RelayLog;
  readonly #metrics: RelayMetrics;
  readonly #channels = new Map<string, LocalChannel>();
  readonly #pending = new Set<Promise<unknown>>();
  /** Other nodes share the channels (an adapter was given): they hear of presence changes. */
  readonly #isShared: boolean;
  readonly #publishing: PublishWatch | null;
  readonly #isTrusted: (address: string, hop: number) => boolean;
  /** Open engine.io connections by client address. */
  readonly #transportsByAddress = new Map<string, number>();
  /** Joins by client address in the current window (`JOIN_COUNT_WINDOW_MS`, aligned to the epoch). */
  #joinsByAddress = new Map<string, number>();
  #joinWindow = Number.NaN;
  #sweepTask: ScheduledTask | null = null;
  #connections = 0;
  #isClosed = false;

  constructor(options: {
    httpServer: HttpServer;
    relay: ResolvedRelayOptions;
    store: ChannelStore;
    log: RelayLog;
    registry: Registry;
    adapter?: ServerOptions['adapter'];
    /** With `adapter`: how to learn whether a cross-node publish went through. */
    publishing?: PublishWatch;
    /** The server's `trustProxy`: whose `X-Forwarded-For` names the client. Default: nobody's. */
    trustProxy?: TrustedProxies;
  }) {
    this.#options = options.relay;
    this.#store = options.store;
    this.#log = options.log;
    this.#isShared = options.adapter !== undefined;
    this.#publishing = options.publishing ?? null;
    this.#isTrusted = trustOf(options.trustProxy ?? false);
    this.#metrics = new RelayMetrics({
      registry: options.registry,
      channelsOpen: () => this.#channels.size,
      connections: () => this.#connections,
      ...(options.store.held() ? { held: () => options.store.held() } : {}),
    });
    this.io = new Server(options.httpServer, {
      path: RELAY_PATH,
      serveClient: false,
      maxHttpBufferSize: options.relay.maxPayloadBytes + PACKET_OVERHEAD_BYTES,
      // The relay reads no cookie and no credential: a channel's UUID is its only capability, and what it
      // carries is end-to-end encrypted. A page on any origin may reach it, as it could over WebSocket anyway.
      cors: { origin: '*', credentials: false },
      allowRequest: (request, answer) => answer(null, this.#admits(request)),
      ...(options.adapter ? { adapter: options.adapter } : {}),
    });
    this.io.engine.on('connection', (transport: Transport) => this.#onTransport(transport));
    this.io.use((_socket, next) => next(new Error(`the relay namespace is ${RELAY_NAMESPACE}`)));
    this.#nsp = this.io.of(RELAY_NAMESPACE);
    this.#nsp.on('connection', (socket: Socket) => this.#onConnection(socket));
    this.#nsp.on(PRESENCE_EVENT, (...args: unknown[]) => this.#onPresenceNotice(args));
    this.#scheduleSweep();
  }

  /** Disconnects this node's relay connections, waits for their slots to be freed, and stops. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#sweepTask?.cancel();
    for (const channel of this.#channels.values()) channel.timer?.cancel();
    this.#nsp.local.disconnectSockets(true);
    await Promise.allSettled([...this.#pending]);
    this.io.engine.close();
    await this.#nsp.adapter.close();
    await this.#store.close();
  }

  /** Keeps a handler's promise until it settles (`close` waits for them); a bug in one is logged, never thrown. */
  #track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work
      .catch((error: unknown) => this.#log.error({ cause: String(error) }, 'relay handler failed'))
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Asks the store to give back what its TTLs no longer keep, every `SWEEP_INTERVAL_MS`. */
  #scheduleSweep(): void {
    const { scheduler } = this.#options;
    this.#sweepTask = scheduler.at(scheduler.now() + SWEEP_INTERVAL_MS, () => {
      if (this.#isClosed) return;
      this.#track(this.#store.sweep(scheduler.now()));
      this.#scheduleSweep();
    });
  }

  /** What the per-address limits count a request as: its client address, an IPv6 one by its /64. */
  #addressOf(request: IncomingMessage): string {
    return rateKey(clientAddressOf(request, this.#isTrusted));
  }

  /** At an engine.io handshake: whether the client's address may open one more connection. */
  #admits(request: IncomingMessage): boolean {
    const max = this.#options.maxConnectionsPerAddress;
    if (max === 0 || (this.#transportsByAddress.get(this.#addressOf(request)) ?? 0) < max) return true;
    this.#metrics.refused('RELAY_RATE_LIMITED');
    this.#log.debug({ code: 'RELAY_RATE_LIMITED' }, 'relay refused a connection: too many from its address');
    return false;
  }

  /** Counts an engine.io connection against its address until it closes (one past the limit is closed). */
  #onTransport(transport: Transport): void {
    const max = this.#options.maxConnectionsPerAddress;
    if (max === 0) return;
    const address = this.#addressOf(transport.request);
    const count = (this.#transportsByAddress.get(address) ?? 0) + 1;
    this.#transportsByAddress.set(address, count);
    transport.once('close', () => {
      const left = (this.#transportsByAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#transportsByAddress.set(address, left);
      else this.#transportsByAddress.delete(address);
    });
    // Handshakes that raced past `allowRequest` together.
    if (count > max) transport.close();
  }

  /** Counts a join against its address; answers the refusal's message past the limit, else null. */
  #overJoinLimit(conn: Connection): string | null {
    const max = this.#options.joinsPerMinutePerAddress;
    if (max === 0) return null;
    const now = this.#options.scheduler.now();
    const window = Math.floor(now / JOIN_COUNT_WINDOW_MS);
    if (window !== this.#joinWindow) {
      this.#joinWindow = window;
      this.#joinsByAddress = new Map();
    }
    const count = (this.#joinsByAddress.get(conn.address) ?? 0) + 1;
    this.#joinsByAddress.set(conn.address, count);
    if (count <= max) return null;
    const seconds = Math.max(1, Math.ceil(((window + 1) * JOIN_COUNT_WINDOW_MS - now) / 1000));
    return `too many joins from this address (${max} a minute); try again in ${seconds} s`;
  }

  #onConnection(socket: Socket): void {
    if (this.#isClosed) {
      socket.disconnect(true);
      return;
    }
    const { rateLimit, scheduler } = this.#options;
    const conn: Connection = {
      socket,
      address: this.#addressOf(socket.request),
      bucket: rateLimit ? new TokenBucket({ ...rateLimit, now: scheduler.now() }) : null,
      channel: null,
      role: null,
      sendSeq: 0,
      isJoining: false,
      joinTimer: null,
    };
    conn.joinTimer = scheduler.at(scheduler.now() + JOIN_TIMEOUT_MS, () => {
      if (!conn.channel) socket.disconnect(true);
    });
    socket.onAny((event: string, ...args: unknown[]) => this.#onEvent(conn, event, args));
    socket.on('disconnect', () => this.#onDisconnect(conn));
  }

  #onEvent(conn: Connection, event: string, args: unknown[]): void {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    const isKnown = event === 'join' || MESSAGE_EVENTS.has(event);
    if (conn.bucket && !conn.bucket.take(this.#options.scheduler.now())) this.#refuse(conn, event, ack, 'RELAY_RATE_LIMITED');
    else if (!isKnown)
      this.#refuse(conn, event, ack, 'RELAY_ENVELOPE_INVALID', 'unknown event (join, connected_uuid, request, response)');
    else if (args.length !== 1) this.#refuse(conn, event, ack, 'RELAY_ENVELOPE_INVALID', `${event}: one object argument`);
    else if (event === 'join') this.#track(this.#join(conn, args[0], ack));
    else this.#forward(conn, event as MessageEvent, args[0], ack);
  }

  #refuse(conn: Connection, event: string, ack: Ack | undefined, code: RelayRefusal, message?: string): void {
    this.#metrics.refused(code);
    const error = { code, message: message ?? ERROR_CODES[code].message };
    this.#log.debug({ code, event: event.slice(0, 32) }, 'relay refused');
    if (ack) ack({ ok: false, error });
    else conn.socket.emit('relay_error', { event: event.slice(0, 64), error });
  }

  #refuseCapacity(conn: Connection, ack: Ack | undefined): void {
    const message = `the relay holds as many channels as it may (${this.#options.maxChannels}); try again later`;
    this.#refuse(conn, 'join', ack, 'RELAY_RATE_LIMITED', message);
  }

  async #join(conn: Connection, payload: unknown, ack: Ack | undefined): Promise<void> {
    const parsed = parseJoin(payload);
    if (!parsed.ok) return this.#refuse(conn, 'join', ack, parsed.code, parsed.message);
    if (conn.channel || conn.isJoining)
      return this.#refuse(conn, 'join', ack, 'RELAY_ENVELOPE_INVALID', 'join: this connection already joined a channel');
    const overLimit = this.#overJoinLimit(conn);
    if (overLimit !== null) return this.#refuse(conn, 'join', ack, 'RELAY_RATE_LIMITED', overLimit);
    const { uuid, role, rejoinKey, expiresAt, lastSeq } = parsed.value;
    const { maxChannels } = this.#options;
    // What this node holds for its connections; a memory store also counts the channels nobody is connected to.
    if (this.#channels.size >= maxChannels && !this.#channels.has(uuid)) return this.#refuseCapacity(conn, ack);
    const { socket } = conn;
    conn.isJoining = true;
    let outcome: JoinOutcome;
    try {
      outcome = await this.#store.join({
        uuid,
        role,
        keyHash: createHash('sha256').update(rejoinKey).digest('hex'),
        connectionId: socket.id,
        now: this.#options.scheduler.now(),
        ...(role === 'dapp' && expiresAt !== undefined ? { expiresAt } : {}),
        ...(lastSeq !== undefined ? { lastSeq } : {}),
      });
    } catch (error) {
      conn.isJoining = false;
      this.#log.warn({ cause: String(error) }, 'relay channel store failed (join)');
      return this.#refuse(conn, 'join', ack, 'STORE_UNAVAILABLE');
    }
    conn.isJoining = false;
    if (outcome.kind === 'expired') return this.#refuse(conn, 'join', ack, 'CONNECT_CHANNEL_EXPIRED');
    if (outcome.kind === 'full') return this.#refuse(conn, 'join', ack, 'CONNECT_CHANNEL_FULL');
    if (outcome.kind === 'capacity') return this.#refuseCapacity(conn, ack);
    if (!socket.connected) {
      // It left while the store worked: free the slot it was just given.
      return this.#leave(uuid, role, socket.id, outcome.seqBase);
    }
    conn.joinTimer?.cancel();
    let channel = this.#channels.get(uuid);
    if (!channel) {
      channel = {
        uuid,
        expiresAt: outcome.expiresAt,
        presence: { dapp: { isConnected: false, epoch: 0 }, wallet: { isConnected: false, epoch: 0 } },
        local: { dapp: null, wallet: null },
        timer: null,
        timerAt: 0,
      };
      this.#channels.set(uuid, channel);
    }
    conn.channel = channel;
    conn.role = role;
    conn.sendSeq = outcome.seqBase;
    channel.local[role] = conn;
    this.#connections += 1;
    setPresence(channel, role, { isConnected: true, epoch: outcome.epoch });
    setPresence(channel, PEER[role], outcome.peer);
    channel.expiresAt = outcome.expiresAt;
    this.#schedule(channel);
    void socket.join(uuid);
    if (outcome.replaced !== null) this.#nsp.in(outcome.replaced).disconnectSockets(true);
    // Nodes hear of it before the peer does, so a message the peer sends in answer finds them up to date.
    if (this.#isShared) this.#nsp.serverSideEmit(PRESENCE_EVENT, uuid, role, true, outcome.epoch, outcome.expiresAt);
    socket.to(uuid).emit('peer_joined', { role });
    if (ack) {
      ack({
        ok: true,
        channel: { uuid, expiresAt: outcome.expiresAt, peerConnected: outcome.peer.isConnected },
        missed: outcome.missed,
      });
    } else {
      // Without an ack there is no answer to carry them: what was kept arrives as ordinary events.
      for (const { event, ...envelope } of outcome.missed) socket.emit(event, envelope);
    }
  }

  #forward(conn: Connection, event: MessageEvent, payload: unknown, ack: Ack | undefined): void {
    const checked = this.#check(conn, event, payload);
    if ('code' in checked) {
      this.#refuse(conn, event, ack, checked.code, checked.message);
      return;
    }
    const { channel, role, envelope } = checked;
    conn.sendSeq += 1;
    const out = sequenced(envelope, conn.sendSeq);
    const recipient = PEER[role];
    if (channel.presence[recipient].isConnected) {
      this.#send(conn, channel, recipient, event, out, ack);
      return;
    }
    this.#track(this.#keep(conn, channel, event, envelope, out, ack));
  }

  /**
   * Forwards to the recipient, connected here or on another node. A peer on another node gets it through
   * Redis: if that publish fails, the message did not go, and the sender is refused (STORE_UNAVAILABLE)
   * instead of acked.
   */
  #send(
    conn: Connection,
    channel: LocalChannel,
    recipient: Role,
    event: MessageEvent,
    out: SequencedEnvelope,
    ack: Ack | undefined,
  ): void {
    const emit = (): void => {
      conn.socket.to(channel.uuid).emit(event, out);
    };
    let published: Promise<unknown> | null = null;
    if (channel.local[recipient] === null && this.#publishing) published = this.#publishing(emit);
    else emit();
    if (published === null) {
      this.#metrics.forwarded(event);
      ack?.({ ok: true, seq: out.seq });
      return;
    }
    published.then(
      () => {
        this.#metrics.forwarded(event);
        ack?.({ ok: true, seq: out.seq });
      },
      (error: unknown) => {
        this.#log.warn({ cause: String(error) }, 'relay Redis publish failed (forward)');
        this.#refuse(conn, event, ack, 'STORE_UNAVAILABLE');
      },
    );
  }

  /** A message's checks before it goes anywhere: its envelope, then whether this connection may send it. */
  #check(
    conn: Connection,
    event: MessageEvent,
    payload: unknown,
  ): { code: RelayRefusal; message: string } | { channel: LocalChannel; role: Role; envelope: Envelope } {
    const parsed = parseEnvelope(event, payload, this.#options.maxPayloadBytes);
    if (!parsed.ok) return parsed;
    const { channel, role } = conn;
    if (!channel || !role) return { code: 'RELAY_ENVELOPE_INVALID', message: `${event}: join a channel first` };
    if (parsed.value.uuid !== channel.uuid)
      return { code: 'RELAY_ENVELOPE_INVALID', message: `${event} uuid: not the channel this connection joined` };
    if (SENDER[event] !== role)
      return { code: 'RELAY_ENVELOPE_INVALID', message: `${event}: only the ${SENDER[event]} sends it` };
    return { channel, role, envelope: parsed.value };
  }

  /** A message for a peer that is away: kept in the store, or forwarded after all if the peer came back. */
  async #keep(
    conn: Connection,
    channel: LocalChannel,
    event: MessageEvent,
    envelope: Envelope,
    out: SequencedEnvelope,
    ack: Ack | undefined,
  ): Promise<void> {
    const recipient = PEER[conn.role!];
    let outcome: Awaited<ReturnType<ChannelStore['buffer']>>;
    try {
      outcome = await this.#store.buffer({
        uuid: channel.uuid,
        recipient,
        now: this.#options.scheduler.now(),
        message: { event, ...out },
        bytes: payloadSize(envelope),
      });
    } catch (error) {
      this.#log.warn({ cause: String(error) }, 'relay channel store failed (buffer)');
      return this.#refuse(conn, event, ack, 'STORE_UNAVAILABLE');
    }
    switch (outcome.kind) {
      case 'present':
        setPresence(channel, recipient, { isConnected: true, epoch: outcome.epoch });
        this.#send(conn, channel, recipient, event, out, ack);
        return;
      case 'buffered':
        this.#metrics.buffered(event);
        ack?.({ ok: true, seq: out.seq, buffered: true });
        return;
      case 'full': {
        const { bufferMessages, bufferBytes } = this.#options;
        const message = `the ${recipient} is away and its buffer is full (${bufferMessages} messages, ${bufferBytes} bytes); try again later`;
        return this.#refuse(conn, event, ack, 'RELAY_RATE_LIMITED', message);
      }
      case 'capacity': {
        const message = `the ${recipient} is away and the relay's buffers are full (${this.#options.maxBufferedBytes} bytes for every channel); try again later`;
        return this.#refuse(conn, event, ack, 'RELAY_RATE_LIMITED', message);
      }
      case 'unclaimed': {
        const message = `${event}: the ${recipient} has not joined this channel; nothing is kept for it`;
        return this.#refuse(conn, event, ack, 'RELAY_ENVELOPE_INVALID', message);
      }
      case 'gone':
        this.#refuse(conn, event, ack, 'CONNECT_CHANNEL_EXPIRED');
        if (this.#channels.get(channel.uuid) === channel) this.#expireChannel(channel);
        return;
    }
  }

  #onDisconnect(conn: Connection): void {
    conn.joinTimer?.cancel();
    const { channel, role } = conn;
    if (!channel || !role) return;
    this.#connections -= 1;
    if (channel.local[role] === conn) {
      channel.local[role] = null;
      // Gone from here for sure, whatever the store says: messages for it are kept (or refused), never lost.
      channel.presence[role] = { isConnected: false, epoch: channel.presence[role].epoch };
    }
    if (!channel.local.dapp && !channel.local.wallet && this.#channels.get(channel.uuid) === channel) this.#drop(channel);
    this.#track(this.#leave(channel.uuid, role, conn.socket.id, conn.sendSeq));
  }

  async #leave(uuid: string, role: Role, connectionId: string, lastSeq: number): Promise<void> {
    let outcome: Awaited<ReturnType<ChannelStore['leave']>>;
    try {
      outcome = await this.#store.leave({ uuid, role, connectionId, lastSeq });
    } catch (error) {
      // The slot stays marked as held; the holder of its rejoin key takes it over.
      this.#log.warn({ cause: String(error) }, 'relay channel store failed (leave)');
      return;
    }
    if (!outcome.wasCurrent) return;
    const channel = this.#channels.get(uuid);
    if (channel) setPresence(channel, role, { isConnected: false, epoch: outcome.epoch });
    if (this.#isShared) this.#nsp.serverSideEmit(PRESENCE_EVENT, uuid, role, false, outcome.epoch, 0);
    this.#nsp.to(uuid).emit('peer_left', { role });
  }

  #onPresenceNotice(args: unknown[]): void {
    const [uuid, role, isConnected, epoch, expiresAt] = args;
    if (typeof uuid !== 'string' || (role !== 'dapp' && role !== 'wallet')) return;
    const channel = this.#channels.get(uuid);
    if (!channel || typeof isConnected !== 'boolean' || typeof epoch !== 'number') return;
    setPresence(channel, role, { isConnected, epoch });
    if (typeof expiresAt === 'number' && expiresAt > channel.expiresAt) {
      channel.expiresAt = expiresAt;
      this.#schedule(channel);
    }
  }

  #schedule(channel: LocalChannel): void {
    if (channel.timer && channel.timerAt === channel.expiresAt) return;
    channel.timer?.cancel();
    channel.timerAt = channel.expiresAt;
    channel.timer = this.#options.scheduler.at(channel.expiresAt, () => this.#track(this.#checkExpiry(channel)));
  }

  /** At its expiry time: asks the store (a pairing may have moved the expiry), then expires or reschedules. */
  async #checkExpiry(channel: LocalChannel): Promise<void> {
    channel.timer = null;
    const { scheduler } = this.#options;
    let expiresAt: number | null;
    try {
      expiresAt = await this.#store.expire(channel.uuid, scheduler.now());
    } catch (error) {
      this.#log.warn({ cause: String(error) }, 'relay channel store failed (expire)');
      if (this.#channels.get(channel.uuid) === channel && !this.#isClosed) {
        channel.timerAt = scheduler.now() + EXPIRY_RETRY_MS;
        channel.timer = scheduler.at(channel.timerAt, () => this.#track(this.#checkExpiry(channel)));
      }
      return;
    }
    if (this.#channels.get(channel.uuid) !== channel) return;
    if (expiresAt === null) return this.#expireChannel(channel);
    channel.expiresAt = expiresAt;
    this.#schedule(channel);
  }

  #expireChannel(channel: LocalChannel): void {
    this.#metrics.expired();
    this.#drop(channel);
    this.#nsp.to(channel.uuid).emit('channel_expired', { uuid: channel.uuid });
    this.#nsp.in(channel.uuid).disconnectSockets(true);
  }

  #drop(channel: LocalChannel): void {
    channel.timer?.cancel();
    channel.timer = null;
    this.#channels.delete(channel.uuid);
  }
}

/** Takes a presence report unless a newer one (a higher epoch) is already known. */
function setPresence(channel: LocalChannel, role: Role, presence: Presence): void {
  if (presence.epoch >= channel.presence[role].epoch) channel.presence[role] = presence;
}
