import { LatchkeyClient, type LatchkeyClientOptions, type LatchkeyStorage, MemoryStorage } from '../src/index.js';
import { SIWE, STORAGE_KEY, type TestServer, WALLETS } from './server.js';

export interface TestClient {
  client: LatchkeyClient;
  storage: LatchkeyStorage;
  /** The private key the client stored (to check what it keeps), or undefined. */
  storedKey(): Promise<CryptoKey | undefined>;
}

/** A client of the test server: its clock, a fresh MemoryStorage, no proactive timer unless asked. */
export function testClient(server: TestServer, overrides: Partial<LatchkeyClientOptions> = {}): TestClient {
  const storage = overrides.storage ?? new MemoryStorage();
  const client = new LatchkeyClient({
    baseUrl: server.baseUrl,
    storage,
    storageKey: STORAGE_KEY,
    clock: server.clock,
    siwe: SIWE,
    autoRefresh: false,
    ...overrides,
  });
  return {
    client,
    storage,
    async storedKey() {
      const value = (await storage.get(STORAGE_KEY)) as { key?: { privateKey?: CryptoKey } | null } | undefined;
      return value?.key?.privateKey;
    },
  };
}

/** A signed-in test client (wallet 0 unless told). */
export async function signedInClient(
  server: TestServer,
  overrides: Partial<LatchkeyClientOptions> = {},
  wallet = WALLETS[0]!,
): Promise<TestClient> {
  const c = testClient(server, overrides);
  await c.client.signIn(wallet);
  return c;
}
