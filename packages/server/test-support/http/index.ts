/**
 * Fixtures for the HTTP API tests: an engine with wallet sign-in, viem wallets, a store snapshot,
 * a seeded PRNG and a checker that holds answers against the OpenAPI document.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  type AppSettingsInput,
  type Clock,
  CONNECT_CHANNEL_NAMESPACE,
  formatSiwsMessage,
  Latchkey,
  type LatchkeyOptions,
  ManualClock,
  MemoryStore,
  NONCE_NAMESPACE,
  type Store,
} from '@latchkey/core';
import { base58 } from '@scure/base';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Logger } from 'pino';
import type { Hex } from 'viem';
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { createServer, type ServerOptions } from '../../src/index.js';

// Well-known local-devnet keys: public test values, never funded anywhere real.
export const WALLETS: readonly PrivateKeyAccount[] = [
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
].map((key) => privateKeyToAccount(key as Hex));

export const CHAIN_ID = 8453;
export const APP_ORIGIN = 'https://app.example.com';
export const SIGN_IN = {
  domain: 'app.example.com',
  origin: APP_ORIGIN,
  chainIds: [CHAIN_ID],
  solanaClusters: ['devnet'],
} as const;
export const T0 = Date.UTC(2026, 0, 1, 12);
/** The data keys of every fixture's engine, which its server gets too (to open sealed stored app settings). */
export const DATA_KEYS = { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } } as const;

export interface Fixture {
  app: FastifyInstance;
  latchkey: Latchkey;
  store: Store;
  clock: ManualClock;
}

export interface FixtureOptions {
  store?: Store;
  clock?: ManualClock;
  defaults?: AppSettingsInput;
  apps?: Record<string, AppSettingsInput>;
  engine?: Partial<LatchkeyOptions>;
  server?: Partial<ServerOptions>;
  logger?: Logger | false;
}

/** An engine (sign-in on, access tokens on) and a server over one store and one frozen clock. */
export async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const store = options.store ?? new MemoryStore();
  const clock = options.clock ?? new ManualClock(T0);
  const latchkey = new Latchkey({
    store,
    clock,
    cleanupIntervalSeconds: 0,
    dataKeys: { current: DATA_KEYS.current, keys: { ...DATA_KEYS.keys } },
    defaults: {
      signIn: { ...SIGN_IN, chainIds: [...SIGN_IN.chainIds], solanaClusters: [...SIGN_IN.solanaClusters] },
      ...options.defaults,
    },
    ...(options.apps ? { apps: options.apps } : {}),
    ...options.engine,
  });
  const app = await createServer({
    latchkey,
    store,
    clock,
    logger: options.logger ?? false,
    dataKeys: { current: DATA_KEYS.current, keys: { ...DATA_KEYS.keys } },
    ...options.server,
  });
  return { app, latchkey, store, clock };
}

export function siweMessage(
  address: Hex,
  nonce: string,
  clock: Clock,
  overrides: Partial<Parameters<typeof createSiweMessage>[0]> = {},
): string {
  return createSiweMessage({
    address,
    chainId: CHAIN_ID,
    domain: SIGN_IN.domain,
    uri: `${APP_ORIGIN}/login`,
    version: '1',
    nonce,
    issuedAt: new Date(clock.now()),
    ...overrides,
  });
}

export interface IssuedBody {
  session: { id: string; account: string };
  token: string;
  refreshToken: string;
  accessToken?: string;
}

/** Nonce, SIWE message, signature and sign-in over `inject`, in bearer mode. */
export async function signIn(
  fixture: Fixture,
  wallet: PrivateKeyAccount,
  options: { appId?: string; headers?: Record<string, string>; body?: Record<string, unknown> } = {},
): Promise<{ response: LightMyRequestResponse; issued: IssuedBody }> {
  const appHeader: Record<string, string> = options.appId ? { 'latchkey-app': options.appId } : {};
  const nonce = await fixture.app.inject({ method: 'POST', url: '/v1/auth/nonce', headers: appHeader });
  if (nonce.statusCode !== 200) throw new Error(`nonce: ${nonce.statusCode} ${nonce.body}`);
  const message = siweMessage(wallet.address, nonce.json().nonce, fixture.clock);
  const response = await fixture.app.inject({
    method: 'POST',
    url: '/v1/auth/siwe',
    headers: { ...appHeader, ...options.headers },
    payload: { message, signature: await wallet.signMessage({ message }), ...options.body },
  });
  return { response, issued: response.json() as IssuedBody };
}

/** mulberry32: a small seeded PRNG, so a failing fuzz run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Namespaces the server and the engine keep entries in. */
export const ENTRY_NAMESPACES = [
  'api-keys',
  'rate',
  NONCE_NAMESPACE,
  'signing-keys',
  'revoked-sessions',
  'audit-throttle',
  'session-key-challenges',
  'session-key-first',
  CONNECT_CHANNEL_NAMESPACE,
] as const;

/**
 * Everything stored that a request could change: per app, the stats (counters included), the whole audit
 * chain, the entries of every namespace and the full records of the given wallets' sessions; and the
 * run-time apps. Compared as JSON before and after.
 */
export async function storeSnapshot(
  store: Store,
  options: { apps: readonly string[]; wallets: readonly string[]; now: number },
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { apps: await store.listEntries('_system', 'apps', options.now) };
  for (const appId of options.apps) {
    const entries: Record<string, unknown> = {};
    for (const ns of ENTRY_NAMESPACES) entries[ns] = await store.listEntries(appId, ns, options.now);
    const sessions: Record<string, unknown> = {};
    for (const wallet of options.wallets) {
      const records = await store.listWalletSessions(appId, wallet, options.now);
      sessions[wallet] = await Promise.all(records.map((r) => store.getSession(appId, r.id)));
    }
    out[appId] = {
      stats: await store.readStats(appId, options.now),
      audit: await store.queryAudit(appId, { limit: 100_000 }),
      entries,
      sessions,
    };
  }
  return out;
}

type JsonSchema = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
}

/**
 * Holds answers against the OpenAPI document: the status must be documented for the operation, the
 * content type must be the documented one and the body must validate against its schema.
 */
export class OpenApiConformance {
  readonly #operations: { method: string; path: string; pattern: RegExp; operation: Operation }[] = [];
  readonly #ajv = new Ajv2020({ strict: false, allErrors: false });
  readonly #validators = new Map<string, (value: unknown) => boolean>();
  /** `METHOD path status` for every answer checked. */
  readonly seen = new Set<string>();

  constructor(document: { paths: Record<string, Record<string, Operation>> }) {
    for (const [path, methods] of Object.entries(document.paths)) {
      const pattern = new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`);
      for (const [method, operation] of Object.entries(methods)) {
        this.#operations.push({ method: method.toUpperCase(), path, pattern, operation });
      }
    }
  }

  /** The documented operation for a request, or undefined for a path and method the document does not have. */
  operation(method: string, url: string): { path: string; operation: Operation } | undefined {
    const path = url.split('?', 1)[0]!;
    return this.#operations.find((o) => o.method === method && o.pattern.test(path));
  }

  /** Throws, naming what is wrong, when the answer is not what the document says. */
  check(method: string, url: string, response: LightMyRequestResponse): void {
    const found = this.operation(method, url);
    if (!found) throw new Error(`${method} ${url}: not in the document`);
    const documented = found.operation.responses[String(response.statusCode)];
    const where = `${method} ${found.path} → ${response.statusCode}`;
    if (!documented) throw new Error(`${where}: status not documented (${response.body.slice(0, 200)})`);
    this.seen.add(`${method} ${found.path} ${response.statusCode}`);
    const content = documented.content;
    if (!content) {
      if (response.body.length !== 0) throw new Error(`${where}: documented without a body, answered one`);
      return;
    }
    const [mediaType, { schema }] = Object.entries(content)[0]!;
    const contentType = String(response.headers['content-type'] ?? '');
    if (contentType.split(';')[0] !== mediaType.split(';')[0])
      throw new Error(`${where}: content-type ${contentType}, documented ${mediaType}`);
    const body: unknown = mediaType.startsWith('application/json') ? response.json() : response.body;
    const key = `${where} ${mediaType}`;
    let validate = this.#validators.get(key);
    if (!validate) {
      validate = this.#ajv.compile(schema);
      this.#validators.set(key, validate);
    }
    if (!validate(body)) {
      throw new Error(
        `${where}: body does not match the document: ${this.#ajv.errorsText((validate as unknown as { errors: never }).errors)} in ${response.body.slice(0, 300)}`,
      );
    }
  }
}

/** An Ed25519 wallet for Sign-In with Solana. */
export function solanaWallet(): { address: string; sign(message: string): string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const address = base58.encode(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
  return { address, sign: (message) => base58.encode(sign(null, Buffer.from(message), privateKey)) };
}

export function siwsMessage(address: string, nonce: string, clock: Clock): string {
  return formatSiwsMessage({
    domain: SIGN_IN.domain,
    address,
    uri: `${APP_ORIGIN}/login`,
    chainId: 'devnet',
    nonce,
    issuedAt: new Date(clock.now()),
  });
}
