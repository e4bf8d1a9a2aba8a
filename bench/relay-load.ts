/**
 * The load bench/relay.bench.ts puts on a forwarder: pairs of clients (a dApp and a wallet per channel)
 * playing closed-loop ping-pong, one message in flight per pair: the dApp sends `request`, the wallet
 * answers `response` when it arrives, the dApp sends the next request when the response arrives. Every
 * message carries a 1 KB payload (`data`: 1,024 base64url characters) and a 16-character `nonce`. Latency
 * is one way, sender to recipient, both ends in this process on one clock.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';

export type Flavor = 'ws' | 'socketio' | 'latchkey';

export interface LoadResult {
  /** Messages delivered per second (requests and responses together). */
  messagesPerSecond: number;
  messages: number;
  /** One-way latency, milliseconds. */
  p50: number;
  p99: number;
}

export const PAYLOAD = randomBytes(768).toString('base64url');
/** Refusals the relay sent without an ack (there should be none). */
export const relayErrors: string[] = [];
const NONCE = randomBytes(12).toString('base64url');

/** One end of a channel, the same calls whatever the transport. */
interface End {
  send(event: 'request' | 'response', uuid: string): void;
  on(event: 'request' | 'response', listener: (message: { uuid: string; data: string; seq?: number }) => void): void;
  close(): void;
}

function socketIoEnd(socket: Socket): End {
  return {
    send: (event, uuid) => {
      socket.emit(event, { uuid, nonce: NONCE, data: PAYLOAD });
    },
    on: (event, listener) => {
      socket.on(event, listener);
    },
    close: () => socket.disconnect(),
  };
}

function connectSocketIo(url: string, flavor: 'socketio' | 'latchkey'): Promise<Socket> {
  const socket = io(flavor === 'latchkey' ? `${url}/connect` : url, {
    path: flavor === 'latchkey' ? '/v1/relay' : '/socket.io',
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 20_000,
  });
  socket.on('relay_error', (e: unknown) => relayErrors.push(JSON.stringify(e).slice(0, 200)));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function joinSocketIo(
  socket: Socket,
  flavor: 'socketio' | 'latchkey',
  uuid: string,
  role: 'dapp' | 'wallet',
): Promise<void> {
  if (flavor === 'socketio') {
    await socket.timeout(20_000).emitWithAck('join', uuid);
    return;
  }
  const answer = (await socket
    .timeout(20_000)
    .emitWithAck('join', { uuid, role, rejoinKey: randomBytes(24).toString('base64url') })) as { ok: boolean; error?: unknown };
  if (!answer.ok) throw new Error(`join refused: ${JSON.stringify(answer.error)}`);
}

/** Opens a channel's two ends on `dappUrl` and `walletUrl` (the same URL on one node). */
export async function openPair(
  flavor: Flavor,
  dappUrl: string,
  walletUrl: string,
): Promise<{ uuid: string; dapp: End; wallet: End }> {
  const uuid = randomUUID();
  if (flavor === 'ws') {
    const open = async (url: string, role: string): Promise<End & { paired: Promise<void> }> => {
      const socket = new WebSocket(url.replace(/^http/, 'ws'));
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      const listeners = new Map<string, (m: { uuid: string; data: string }) => void>();
      const paired = new Promise<void>((resolve) => {
        socket.on('message', (raw) => {
          const message = JSON.parse(String(raw)) as { paired?: true; event: string; uuid: string; data: string };
          if (message.paired) resolve();
          else listeners.get(message.event)?.(message);
        });
      });
      socket.send(JSON.stringify({ uuid, role }));
      return {
        paired,
        send: (event, id) => socket.send(JSON.stringify({ event, uuid: id, nonce: NONCE, data: PAYLOAD })),
        on: (event, listener) => listeners.set(event, listener),
        close: () => socket.close(),
      };
    };
    const dapp = await open(dappUrl, 'dapp');
    const wallet = await open(walletUrl, 'wallet');
    await Promise.all([dapp.paired, wallet.paired]);
    return { uuid, dapp, wallet };
  }
  const dapp = await connectSocketIo(dappUrl, flavor);
  await joinSocketIo(dapp, flavor, uuid, 'dapp');
  const wallet = await connectSocketIo(walletUrl, flavor);
  await joinSocketIo(wallet, flavor, uuid, 'wallet');
  return { uuid, dapp: socketIoEnd(dapp), wallet: socketIoEnd(wallet) };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/**
 * Runs `pairs` ping-pong loops for `warmupSeconds` (not counted) and then `seconds`. Fails when a message
 * arrives with the wrong payload, or (Latchkey) out of sequence.
 */
export async function pingPong(options: {
  flavor: Flavor;
  dappUrl: string;
  walletUrl: string;
  pairs: number;
  warmupSeconds: number;
  seconds: number;
  /** Called between the warm-up and the measured part (to read CPU counters). */
  onMeasureStart?: () => Promise<void>;
}): Promise<LoadResult> {
  const opened = [];
  for (let i = 0; i < options.pairs; i++) opened.push(await openPair(options.flavor, options.dappUrl, options.walletUrl));
  const latencies: number[] = [];
  let isMeasuring = false;
  let isRunning = true;
  let messages = 0;
  let failure: Error | null = null;
  const loops = opened.map(({ uuid, dapp, wallet }) => {
    let sentAt = 0;
    let expectedSeq = 1;
    let seqToDapp = 1;
    const arrived = (message: { uuid: string; data: string; seq?: number }, expected: number | null): void => {
      const ms = performance.now() - sentAt;
      if (message.uuid !== uuid || message.data !== PAYLOAD) failure ??= new Error('a message arrived altered');
      if (expected !== null && message.seq !== expected) failure ??= new Error(`seq ${message.seq}, expected ${expected}`);
      if (isMeasuring) {
        messages += 1;
        latencies.push(ms);
      }
    };
    return new Promise<void>((done) => {
      wallet.on('request', (message) => {
        arrived(message, options.flavor === 'latchkey' ? expectedSeq++ : null);
        sentAt = performance.now();
        wallet.send('response', uuid);
      });
      dapp.on('response', (message) => {
        arrived(message, options.flavor === 'latchkey' ? seqToDapp++ : null);
        if (!isRunning || failure) return done();
        sentAt = performance.now();
        dapp.send('request', uuid);
      });
      sentAt = performance.now();
      dapp.send('request', uuid);
    });
  });
  await new Promise((r) => setTimeout(r, options.warmupSeconds * 1000));
  await options.onMeasureStart?.();
  isMeasuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, options.seconds * 1000));
  isMeasuring = false;
  const elapsed = (performance.now() - start) / 1000;
  isRunning = false;
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5000))]);
  for (const { dapp, wallet } of opened) {
    dapp.close();
    wallet.close();
  }
  if (failure) throw failure;
  if (relayErrors.length > 0) throw new Error(`the relay refused messages: ${relayErrors.slice(0, 3).join('; ')}`);
  const sorted = Float64Array.from(latencies).sort();
  return { messagesPerSecond: messages / elapsed, messages, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

export { percentile };
