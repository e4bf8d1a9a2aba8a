import { ConnectError, isConnectErrorCode, relaySocketTarget, type SealedEventName } from '@latchkey/protocol/connect';
import { io, type Socket } from 'socket.io-client';

/** One side's seat in a channel. */
export type ConnectRole = 'dapp' | 'wallet';

/** How a link reaches the relay. Defaults: WebSocket only (no sticky sessions needed), 10 s to join, 10 s per ack. */
export interface RelayTransportOptions {
  /** socket.io transports, default `['websocket']`. */
  transports?: ('websocket' | 'polling' | 'webtransport')[];
  /** ms to reach the relay and join, default 10 000. */
  connectTimeoutMs?: number;
  /** ms the relay has to acknowledge an event, default 10 000. */
  ackTimeoutMs?: number;
}

export interface RelayLinkHandlers {
  /** A forwarded event, in order, each once (duplicates by `seq` are dropped here). */
  onEnvelope(event: SealedEventName, envelope: unknown): void;
  onPeer(event: 'peer_joined' | 'peer_left', role: ConnectRole): void;
  /** The relay expired the channel; the link is closed. */
  onExpired(): void;
  /** The relay dropped this link for good (a rejoin failed, or it closed the connection). */
  onClosed(error: ConnectError): void;
}

const EVENTS: readonly SealedEventName[] = ['connected_uuid', 'request', 'response'];

/**
 * One socket.io connection to a channel: joins, rejoins after a network drop with the same rejoin key
 * and the last `seq` it saw (so the relay hands over what it kept), and sends events with acks.
 */
export class RelayLink {
  readonly #socket: Socket;
  readonly #uuid: string;
  readonly #role: ConnectRole;
  readonly #rejoinKey: string;
  readonly #expiresAt: number | undefined;
  readonly #ackTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #handlers: RelayLinkHandlers;
  #lastSeq = 0;
  #hasJoined = false;
  #isClosed = false;

  constructor(options: {
    relay: string;
    uuid: string;
    role: ConnectRole;
    rejoinKey: string;
    expiresAt?: number;
    transport?: RelayTransportOptions;
    handlers: RelayLinkHandlers;
  }) {
    const target = relaySocketTarget(options.relay);
    this.#uuid = options.uuid;
    this.#role = options.role;
    this.#rejoinKey = options.rejoinKey;
    this.#expiresAt = options.expiresAt;
    this.#ackTimeoutMs = options.transport?.ackTimeoutMs ?? 10_000;
    this.#connectTimeoutMs = options.transport?.connectTimeoutMs ?? 10_000;
    this.#handlers = options.handlers;
    this.#socket = io(target.url, {
      path: target.path,
      transports: options.transport?.transports ?? ['websocket'],
      forceNew: true,
      autoConnect: false,
      reconnection: true,
      timeout: this.#connectTimeoutMs,
    });
    for (const event of EVENTS) this.#socket.on(event, (envelope: unknown) => this.#deliver(event, envelope));
    this.#socket.on('peer_joined', (p: { role?: unknown }) => this.#peer('peer_joined', p));
    this.#socket.on('peer_left', (p: { role?: unknown }) => this.#peer('peer_left', p));
    this.#socket.on('channel_expired', () => {
      if (this.#isClosed) return;
      this.close();
      this.#handlers.onExpired();
    });
    this.#socket.on('disconnect', (reason: string) => {
      // The relay ends a connection itself only when the channel expired or another connection took the seat.
      if (reason === 'io server disconnect' && !this.#isClosed)
        this.#fail(new ConnectError('RELAY_UNAVAILABLE', { message: 'The relay closed the connection.' }));
    });
    this.#socket.on('connect', () => {
      if (this.#hasJoined) void this.#rejoin();
    });
  }

  /** Connects and joins. Resolves with the channel's expiry (ms) as the relay set it. */
  async open(): Promise<{ expiresAt: number }> {
    this.#socket.connect();
    const joined = new Promise<{ expiresAt: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new ConnectError('RELAY_UNAVAILABLE'));
      }, this.#connectTimeoutMs);
      const onConnect = () => {
        cleanup();
        this.#join().then(resolve, reject);
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.#socket.off('connect', onConnect);
      };
      if (this.#socket.connected) onConnect();
      else this.#socket.on('connect', onConnect);
    });
    try {
      const channel = await joined;
      this.#hasJoined = true;
      return channel;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Sends one event and waits for the relay's ack. @throws ConnectError with the relay's code, or `RELAY_UNAVAILABLE`. */
  async send(event: SealedEventName, envelope: Record<string, string>): Promise<void> {
    if (this.#isClosed) throw new ConnectError('RELAY_UNAVAILABLE', { message: 'The relay connection is closed.' });
    let ack: unknown;
    try {
      ack = await this.#socket.timeout(this.#ackTimeoutMs).emitWithAck(event, envelope);
    } catch {
      throw new ConnectError('RELAY_UNAVAILABLE');
    }
    const refusal = refusalOf(ack);
    if (refusal) throw refusal;
  }

  close(): void {
    this.#isClosed = true;
    this.#socket.disconnect();
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  async #join(): Promise<{ expiresAt: number }> {
    const request: Record<string, unknown> = { uuid: this.#uuid, role: this.#role, rejoinKey: this.#rejoinKey };
    if (!this.#hasJoined && this.#expiresAt !== undefined) request.expiresAt = this.#expiresAt;
    if (this.#lastSeq > 0) request.lastSeq = this.#lastSeq;
    let ack: unknown;
    try {
      ack = await this.#socket.timeout(this.#ackTimeoutMs).emitWithAck('join', request);
    } catch {
      throw new ConnectError('RELAY_UNAVAILABLE');
    }
    const refusal = refusalOf(ack);
    if (refusal) throw refusal;
    const answer = ack as { channel?: { expiresAt?: unknown }; missed?: unknown };
    const expiresAt = typeof answer.channel?.expiresAt === 'number' ? answer.channel.expiresAt : (this.#expiresAt ?? 0);
    for (const kept of Array.isArray(answer.missed) ? answer.missed : []) {
      const { event, ...envelope } = (kept ?? {}) as { event?: unknown };
      if (EVENTS.includes(event as SealedEventName)) this.#deliver(event as SealedEventName, envelope);
    }
    return { expiresAt };
  }

  async #rejoin(): Promise<void> {
    try {
      await this.#join();
    } catch (error) {
      this.#fail(error instanceof ConnectError ? error : new ConnectError('RELAY_UNAVAILABLE'));
    }
  }

  #deliver(event: SealedEventName, envelope: unknown): void {
    if (this.#isClosed) return;
    const seq = (envelope as { seq?: unknown } | null)?.seq;
    if (typeof seq === 'number') {
      if (seq <= this.#lastSeq) return;
      this.#lastSeq = seq;
    }
    this.#handlers.onEnvelope(event, envelope);
  }

  #peer(event: 'peer_joined' | 'peer_left', payload: { role?: unknown }): void {
    const role = payload?.role;
    if (!this.#isClosed && (role === 'dapp' || role === 'wallet')) this.#handlers.onPeer(event, role);
  }

  #fail(error: ConnectError): void {
    if (this.#isClosed) return;
    this.close();
    this.#handlers.onClosed(error);
  }
}

/** The ConnectError an `{ok:false, error:{code,message}}` ack carries, or null for `{ok:true}`. */
function refusalOf(ack: unknown): ConnectError | null {
  const a = ack as { ok?: unknown; error?: { code?: unknown; message?: unknown } } | null;
  if (a?.ok === true) return null;
  const code = a?.error?.code;
  const message = typeof a?.error?.message === 'string' ? a.error.message.slice(0, 300) : undefined;
  if (isConnectErrorCode(code)) return new ConnectError(code, message === undefined ? {} : { message });
  return new ConnectError('RELAY_ENVELOPE_INVALID', { message: 'The relay answered with an unknown refusal.' });
}
