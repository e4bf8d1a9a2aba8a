// §7 relay transport (socket.io client).
import { io, type Socket } from 'socket.io-client';
import { fail, IndependentConnectError } from './errors.js';
import { relaySocketTarget } from './uri.js';

export interface Envelope {
  uuid: string;
  publicKey?: string;
  nonce?: string;
  data?: string;
  seq?: number;
}
export interface MissedMessage extends Envelope {
  event: string;
}
export interface JoinAck {
  ok: true;
  channel: { uuid: string; expiresAt: number; peerConnected: boolean };
  missed: MissedMessage[];
}

export async function connectRelay(relay: string, timeoutMs = 10_000): Promise<Socket> {
  const { url, path } = relaySocketTarget(relay);
  const socket = io(url, { path, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new IndependentConnectError('RELAY_UNAVAILABLE'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', () => {
      clearTimeout(timer);
      socket.close();
      reject(new IndependentConnectError('RELAY_UNAVAILABLE'));
    });
  });
  return socket;
}

type Ack = { ok: true; [k: string]: unknown } | { ok: false; error: { code: string; message: string } };

export async function emitWithAck<T>(socket: Socket, event: string, payload: object, timeoutMs = 10_000): Promise<T> {
  let ack: Ack;
  try {
    ack = (await socket.timeout(timeoutMs).emitWithAck(event, payload)) as Ack;
  } catch {
    return fail('RELAY_UNAVAILABLE');
  }
  if (!ack.ok) throw new IndependentConnectError(ack.error.code, ack.error.message);
  return ack as T;
}

/** §7.2: drop anything whose seq is not above the highest processed; keep arrival order. */
export class SeqFilter {
  last: number | undefined;
  accept(seq: unknown): boolean {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return false;
    if (this.last !== undefined && seq <= this.last) return false;
    this.last = seq;
    return true;
  }
}

export const randomRejoinKey = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
