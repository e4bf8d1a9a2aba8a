/**
 * A relay peer for tests: a real socket.io-client 4 connection to `/v1/relay`, namespace `/connect`, that
 * records every event it receives and lets a test wait for the next one of a name.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { io, type Socket } from 'socket.io-client';
import type { ServerOptions } from '../../src/http/options.js';
import { ManualScheduler, type RelayOptions } from '../../src/relay/index.js';
import { startFixture } from '../http/index.js';

export interface RelayAnswer {
  ok: boolean;
  seq?: number;
  buffered?: boolean;
  channel?: { uuid: string; expiresAt: number; peerConnected: boolean };
  missed?: ({ event: string; seq: number } & Record<string, unknown>)[];
  error?: { code: string; message: string };
}

export interface RelayPeer {
  readonly socket: Socket;
  /** Every event received, in order. */
  readonly received: { event: string; payload: Record<string, unknown> }[];
  /** Emits with an ack callback and resolves with the answer (rejects after `timeoutMs`). */
  ask(event: string, payload: unknown, timeoutMs?: number): Promise<RelayAnswer>;
  /** Emits without an ack. */
  tell(event: string, payload: unknown): void;
  /** The next `event` received that no earlier `next` took (rejects after `timeoutMs`). */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves when the server closes the connection. */
  closed(): Promise<string>;
  close(): void;
}

/** A random unpadded base64url string of `bytes` random bytes. */
export const b64 = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** A fresh channel: its UUID and a rejoin key for each end. */
export function newChannel(): { uuid: string; dappKey: string; walletKey: string } {
  return { uuid: randomUUID(), dappKey: b64(24), walletKey: b64(24) };
}

/**
 * Connects a peer over WebSocket (polling off, so the tests exercise the transport real clients use).
 * `headers` go on the WebSocket upgrade request (`X-Forwarded-For`, as a proxy in front would set it).
 * Rejects with the `connect_error` when the relay refuses the connection.
 */
export async function connectPeer(
  url: string,
  options: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<RelayPeer> {
  const socket = io(`${url}/connect`, {
    path: '/v1/relay',
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: options.timeoutMs ?? 5000,
    ...(options.headers ? { extraHeaders: options.headers } : {}),
  });
  const received: RelayPeer['received'] = [];
  const taken = new Map<string, number>();
  const waiters = new Set<() => void>();
  socket.onAny((event: string, payload: Record<string, unknown>) => {
    received.push({ event, payload });
    for (const wake of [...waiters]) wake();
  });
  let closeReason: string | null = null;
  socket.on('disconnect', (reason) => {
    closeReason = reason;
    for (const wake of [...waiters]) wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });

  const waitFor = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const wake = (): void => {
        const value = check();
        if (value === undefined) return;
        waiters.delete(wake);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      waiters.add(wake);
      wake();
    });

  return {
    socket,
    received,
    ask: (event, payload, timeoutMs = 5000) => socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<RelayAnswer>,
    tell: (event, payload) => {
      socket.emit(event, payload);
    },
    next: (event, timeoutMs = 5000) =>
      waitFor(
        () => {
          const from = taken.get(event) ?? 0;
          const index = received.findIndex((r, i) => i >= from && r.event === event);
          if (index < 0) return undefined;
          taken.set(event, index + 1);
          return received[index]!.payload;
        },
        timeoutMs,
        `"${event}"`,
      ),
    closed: () => waitFor(() => closeReason ?? undefined, 5000, 'the connection to close'),
    close: () => {
      socket.disconnect();
    },
  };
}

/** Joins and expects success; answers the join's answer. */
export async function join(
  peer: RelayPeer,
  body: { uuid: string; role: 'dapp' | 'wallet'; rejoinKey: string; expiresAt?: number; lastSeq?: number },
): Promise<RelayAnswer> {
  const answer = await peer.ask('join', body);
  if (!answer.ok) throw new Error(`join refused: ${answer.error?.code} ${answer.error?.message}`);
  return answer;
}

export interface RelayServer {
  app: FastifyInstance;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `/metrics` as text. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A Latchkey server (memory store) with the relay on, listening on 127.0.0.1 on a free port; `server` adds
 * server options (`trustProxy`).
 */
export async function startRelayServer(
  relay: RelayOptions,
  options: { logger?: Logger; server?: Partial<ServerOptions> } = {},
): Promise<RelayServer> {
  const { app } = await startFixture({
    server: { ...options.server, relay },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    url,
    metrics: async () => (await app.inject({ method: 'GET', url: '/metrics' })).body,
    close: () => app.close(),
  };
}

export interface RelayFixture {
  server: RelayServer;
  /** The relay's time: `set`/`advance` it to reach expiries and refill rate limits. */
  time: ManualScheduler;
  /** A new connected peer, closed with the fixture; `headers` on its upgrade request. */
  peer(options?: { headers?: Record<string, string> }): Promise<RelayPeer>;
  /** A fresh channel with its dApp and wallet joined (the dApp has seen `peer_joined`). */
  paired(): Promise<{ uuid: string; dappKey: string; walletKey: string; dapp: RelayPeer; wallet: RelayPeer }>;
  close(): Promise<void>;
}

/** A relay server on a ManualScheduler at `start`, with helpers that track what they open; `server` adds server options. */
export async function relayFixture(
  options: RelayOptions = {},
  start = Date.UTC(2026, 0, 1, 12),
  extra: { server?: Partial<ServerOptions> } = {},
): Promise<RelayFixture> {
  const time = new ManualScheduler(start);
  const server = await startRelayServer({ scheduler: time, ...options }, extra);
  const peers = new Set<RelayPeer>();
  const peer = async (peerOptions: { headers?: Record<string, string> } = {}): Promise<RelayPeer> => {
    const p = await connectPeer(server.url, peerOptions);
    peers.add(p);
    return p;
  };
  return {
    server,
    time,
    peer,
    async paired() {
      const channel = newChannel();
      const dapp = await peer();
      const wallet = await peer();
      await join(dapp, { uuid: channel.uuid, role: 'dapp', rejoinKey: channel.dappKey });
      await join(wallet, { uuid: channel.uuid, role: 'wallet', rejoinKey: channel.walletKey });
      await dapp.next('peer_joined');
      return { ...channel, dapp, wallet };
    },
    async close() {
      for (const p of peers) p.close();
      await server.close();
    },
  };
}

/** Lets events in flight arrive (loopback), before asserting that something did NOT arrive. */
export const settle = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));
