import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, type IssuedSession, Latchkey, MemoryStore, type SessionScope } from '@latchkey/core';
import { createApiKey, createServer } from '@latchkey/server';

/** What the example apps' roles grant: `member` may read and write its profile. */
export const ROLES = { member: ['read:profile', 'write:profile'] };
/** The access-token settings the JWT mode checks against. */
export const ACCESS = { issuer: 'https://auth.example.test', audience: 'api.example.test' };
export const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
export const ALICE_ADDRESS = '0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';

/** A wallet of its own (a random EVM address), for tests that must not share a wallet's session limit. */
export function freshAccount(): string {
  return `eip155:1:0x${Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(20))).toString('hex')}`;
}

/** An engine on a MemoryStore, issuing session tokens and EdDSA access tokens for `member`s. */
export class World {
  readonly store = new MemoryStore();
  readonly engine: Latchkey;

  /** `clock`: the engine's time (sessions, session keys, stamps); the system clock by default. */
  constructor(options: { clock?: Clock } = {}) {
    this.engine = new Latchkey({
      store: this.store,
      ...(options.clock ? { clock: options.clock } : {}),
      cleanupIntervalSeconds: 0,
      dataKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 9).toString('base64') } },
      defaults: { roles: ROLES, defaultRoles: ['member'], accessTokens: ACCESS },
    });
  }

  /** A session of `account` (Alice by default). */
  signIn(scope: SessionScope = 'read-write', account: string = ALICE): Promise<IssuedSession> {
    return this.engine.createSession({ account, authMethod: 'siwe', scope });
  }

  /** Closing the store makes every store call fail: the "store down" case. */
  async storeDown(): Promise<void> {
    await this.store.close();
  }

  close(): void {
    this.engine.close();
  }
}

export interface Listening {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** The real Latchkey server (`@latchkey/server`) over the world's engine and store, on 127.0.0.1, with an app API key. */
export async function startLatchkeyServer(world: World): Promise<Listening & { apiKey: string }> {
  const server = await createServer({ latchkey: world.engine, store: world.store, logger: false });
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  const { key } = await createApiKey(world.store, 'default', 'example app');
  return { url, apiKey: key, close: () => server.close() };
}

/** A tiny JWKS endpoint on 127.0.0.1 serving the engine's `getJwks()`; `isDown` makes it answer 503. */
export async function serveJwks(world: World): Promise<Listening & { isDown: boolean; fetches: number }> {
  const state = { isDown: false, fetches: 0 };
  const server = createHttpServer((_req, res) => {
    state.fetches++;
    if (state.isDown) return void res.writeHead(503).end();
    void world.engine
      .getJwks()
      .then((jwks) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  });
  const url = `${await listen(server)}/.well-known/jwks.json`;
  return Object.assign(state, { url, close: () => closeServer(server) });
}

/** A port with nothing listening on it any more. */
export async function deadUrl(): Promise<string> {
  const server = createHttpServer();
  const url = await listen(server);
  await closeServer(server);
  return url;
}

export { closeServer, listen };
