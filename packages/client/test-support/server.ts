/**
 * A real Latchkey server for the client's tests: the engine on a MemoryStore and a ManualClock,
 * `createServer` from @latchkey/server, listening on 127.0.0.1 on a free port. Every request the
 * server sees is logged (method, URL, whether it carried a stamp, status), so tests can count them.
 */
import { type AppSettingsInput, Latchkey, ManualClock, MemoryStore } from '@latchkey/core';
import { createServer } from '@latchkey/server';
import type { FastifyInstance } from 'fastify';
import type { Hex } from 'viem';
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';

// Well-known local-devnet keys: public test values, never funded anywhere real.
export const WALLETS: readonly PrivateKeyAccount[] = [
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
].map((key) => privateKeyToAccount(key as Hex));

export const CHAIN_ID = 8453;
export const APP_ORIGIN = 'https://app.example.com';
/** What the client's `siwe` option must say for the fixture's sign-in settings. */
export const SIWE = { domain: 'app.example.com', uri: `${APP_ORIGIN}/login`, chainId: CHAIN_ID } as const;
export const T0 = Date.UTC(2026, 0, 1, 12);

export interface SeenRequest {
  method: string;
  url: string;
  stamped: boolean;
  status?: number;
}

export interface TestServer {
  app: FastifyInstance;
  latchkey: Latchkey;
  store: MemoryStore;
  clock: ManualClock;
  baseUrl: string;
  /** Every request in arrival order. */
  seen: SeenRequest[];
  /** `METHOD /path` of the requests seen since `mark()` (or since the start). */
  since(mark: number): string[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** App settings for the default app, on top of sign-in (domain/origin/chain as `SIWE`). */
  settings?: AppSettingsInput & Record<string, unknown>;
  /** Called with the Fastify instance before it listens (extra routes for a test). */
  beforeListen?: (app: FastifyInstance, server: Omit<TestServer, 'baseUrl' | 'close' | 'app'>) => void | Promise<void>;
  clock?: ManualClock;
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const store = new MemoryStore();
  const clock = options.clock ?? new ManualClock(T0);
  const latchkey = new Latchkey({
    store,
    clock,
    cleanupIntervalSeconds: 0,
    defaults: {
      signIn: { domain: SIWE.domain, origin: APP_ORIGIN, chainIds: [CHAIN_ID] },
      ...options.settings,
    } as AppSettingsInput,
  });
  const app = await createServer({ latchkey, store, clock, logger: false, rateLimits: { nonce: 0, signIn: 0, refresh: 0 } });
  const seen: SeenRequest[] = [];
  const entries = new WeakMap<object, SeenRequest>();
  app.addHook('onRequest', (request, _reply, done) => {
    const entry: SeenRequest = {
      method: request.method,
      url: request.url,
      stamped: typeof request.headers['latchkey-signature'] === 'string',
    };
    seen.push(entry);
    entries.set(request, entry);
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    const entry = entries.get(request);
    if (entry) entry.status = reply.statusCode;
    done(null, payload);
  });
  await options.beforeListen?.(app, { latchkey, store, clock, seen, since: (mark) => describe(seen.slice(mark)) });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    latchkey,
    store,
    clock,
    baseUrl,
    seen,
    since: (mark) => describe(seen.slice(mark)),
    close: async () => {
      await app.close();
      latchkey.close();
    },
  };
}

function describe(requests: SeenRequest[]): string[] {
  return requests.map((r) => `${r.method} ${r.url.split('?', 1)[0]}`);
}

/** The storage key tests pass, so they can read what the client stored. */
export const STORAGE_KEY = 'test-client';
