/**
 * What every target of bench/http.bench.ts provides, and the helpers they share. A target pre-creates
 * its sessions the way its stack would (its own store API), listens on a free loopback port, and
 * answers `GET /v1/session` with the caller's wallet: 2xx only for a credential naming a live session.
 */
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

export const HOST = '127.0.0.1';
export const REDIS_URL = 'redis://127.0.0.1:6379';
/** Cookie sessions live 7 days, as long as a Latchkey session's absolute lifetime. */
export const COOKIE_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** How many session writes are in flight while pre-creating. */
const CREATE_CONCURRENCY = 64;

export interface TargetContext {
  /** Every Redis key the target writes starts with this; the parent deletes them afterwards. */
  readonly keyPrefix: string;
  /** A directory of the parent's that the target may write files into. */
  readonly directory: string;
  /** How many sessions to pre-create. */
  readonly sessions: number;
}

export interface RunningTarget {
  readonly port: number;
  /** The request header that carries the credential, and one value per pre-created session. */
  readonly credentialHeader: string;
  readonly credentials: readonly string[];
  close(): Promise<void>;
}

export type TargetBuilder = (context: TargetContext) => Promise<RunningTarget>;

/** A distinct wallet per session, as a CAIP-10 account (10,000 users, one session each). */
export const walletOf = (i: number): string => `eip155:1:0x${(i + 1).toString(16).padStart(40, '0')}`;

/** Runs `create(i)` for every i below `count`, CREATE_CONCURRENCY at a time, keeping the order. */
export async function createAll<T>(count: number, create: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: CREATE_CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await create(i);
      }
    }),
  );
  return out;
}

/** cookie-signature's scheme, which express-session and @fastify/cookie both use: value.HMAC-SHA256 (base64, unpadded). */
export function signCookieValue(value: string, secret: string): string {
  return `${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`;
}

const portOf = (server: Server): number => (server.address() as AddressInfo).port;

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  return portOf(server);
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function listenFastify(app: FastifyInstance): Promise<number> {
  await app.listen({ host: HOST, port: 0 });
  return portOf(app.server);
}
