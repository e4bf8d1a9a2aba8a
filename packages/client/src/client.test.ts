import type { Hex } from 'viem';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SIWE, startServer, type TestServer, WALLETS } from '../test-support/server.js';
import { LatchkeyClient, LatchkeyClientError, type LatchkeyClientOptions, MemoryStorage } from './index.js';

const wallet = WALLETS[0]!;

/** An EIP-1193 provider over a viem account, as an injected wallet would answer. */
function provider(chainId: number = SIWE.chainId): {
  request(args: { method: string; params?: unknown }): Promise<unknown>;
  calls: string[];
} {
  const calls: string[] = [];
  return {
    calls,
    async request({ method, params }) {
      calls.push(method);
      if (method === 'eth_requestAccounts') return [wallet.address.toLowerCase()];
      if (method === 'eth_chainId') return `0x${chainId.toString(16)}`;
      if (method === 'personal_sign') {
        const [message, address] = params as [Hex, Hex];
        expect(address).toBe(wallet.address);
        return wallet.signMessage({ message: { raw: message } });
      }
      throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 });
    },
  };
}

describe('LatchkeyClient sessions against a real server', () => {
  let server: TestServer;
  const clients: LatchkeyClient[] = [];

  beforeEach(async () => {
    server = await startServer();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server.close();
  });

  function client(overrides: Partial<LatchkeyClientOptions> = {}): LatchkeyClient {
    const c = new LatchkeyClient({
      baseUrl: server.baseUrl,
      storage: new MemoryStorage(),
      clock: server.clock,
      siwe: SIWE,
      autoRefresh: false,
      ...overrides,
    });
    clients.push(c);
    return c;
  }

  it('signs in with a viem account: nonce, SIWE, a bearer session the server accepts', async () => {
    const c = client();
    await c.ready();
    expect(c.checkActiveUserSession()).toBe(false);
    const mark = server.seen.length;
    const session = await c.signIn(wallet, { deviceId: 'laptop' });
    expect(server.since(mark)).toEqual(['POST /v1/auth/nonce', 'POST /v1/auth/siwe']);
    expect(session).toMatchObject({ account: `eip155:${SIWE.chainId}:${wallet.address}`, scope: 'read-write' });
    expect(session.device.deviceId).toBe('laptop');
    expect(c.checkActiveUserSession()).toBe(true);
    expect((await c.validateUserSession())?.id).toBe(session.id);
    expect((await c.session()).id).toBe(session.id);
  });

  it('signs in with an EIP-1193 provider, taking the chain from eth_chainId', async () => {
    const wallet1193 = provider();
    const c = client({ siwe: { domain: SIWE.domain, uri: SIWE.uri } });
    const session = await c.signIn(wallet1193, { scope: 'read-only' });
    expect(wallet1193.calls).toEqual(['eth_requestAccounts', 'eth_chainId', 'personal_sign']);
    expect(session.account).toBe(`eip155:${SIWE.chainId}:${wallet.address}`);
    expect(session.scope).toBe('read-only');
    expect((await c.session()).id).toBe(session.id);
  });

  it("passes the server's refusal through as a typed error: a chain the app does not accept", async () => {
    const c = client({ siwe: { domain: SIWE.domain, uri: SIWE.uri } });
    const error = await c.signIn(provider(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LatchkeyClientError);
    expect((error as LatchkeyClientError).code).toBe('SIWE_CHAIN_NOT_ALLOWED');
    expect((error as LatchkeyClientError).status).toBe(401);
    expect(c.checkActiveUserSession()).toBe(false);
  });

  it('answers SIGNER_FAILED when the user rejects the signature, and sends no sign-in', async () => {
    const rejecting = {
      async request({ method }: { method: string }) {
        if (method === 'personal_sign') throw Object.assign(new Error('User rejected'), { code: 4001 });
        return provider().request({ method });
      },
    };
    const c = client();
    const mark = server.seen.length;
    const error = (await c.signIn(rejecting).catch((e: unknown) => e)) as LatchkeyClientError;
    expect([error.code, error.message]).toEqual(['SIGNER_FAILED', 'personal_sign: the user rejected the request']);
    expect(server.since(mark)).toEqual(['POST /v1/auth/nonce']);
  });

  it('lists sessions, revokes one, revokes all others, and signs out', async () => {
    const laptop = client();
    const phone = client();
    const tablet = client();
    const first = await laptop.signIn(wallet, { deviceId: 'laptop' });
    server.clock.advance(1000);
    const second = await phone.signIn(wallet, { deviceId: 'phone' });
    server.clock.advance(1000);
    await tablet.signIn(wallet, { deviceId: 'tablet' });

    const listed = await laptop.sessions();
    expect(listed.map((s) => [s.device.deviceId, s.current])).toEqual([
      ['laptop', true],
      ['phone', false],
      ['tablet', false],
    ]);
    expect(JSON.stringify(listed)).not.toContain('lks_');

    await laptop.revoke(second.id);
    expect(phone.checkActiveUserSession()).toBe(true); // local: it cannot know yet
    expect(await phone.validateUserSession()).toBeNull();
    expect(phone.checkActiveUserSession()).toBe(false); // the server said the session is gone: forgotten here too
    expect(await laptop.revokeAll({ keepCurrent: true })).toBe(1);
    expect(await tablet.validateUserSession()).toBeNull();
    expect((await laptop.validateUserSession())?.id).toBe(first.id);

    await laptop.signOut();
    expect(laptop.checkActiveUserSession()).toBe(false);
    await expect(laptop.session()).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' });
    // The server forgot it too: the old token no longer works.
    expect(await server.latchkey.getWalletSessions(`eip155:${SIWE.chainId}:${wallet.address}`)).toHaveLength(0);
  });

  it('revokeAll without keepCurrent ends this session too and signs the client out', async () => {
    const a = client();
    const b = client();
    await a.signIn(wallet);
    await b.signIn(wallet);
    expect(await a.revokeAll({ keepCurrent: false })).toBe(2);
    expect(a.checkActiveUserSession()).toBe(false);
    expect(await b.validateUserSession()).toBeNull();
  });

  it('revoking its own session by id signs the client out', async () => {
    const a = client();
    const session = await a.signIn(wallet);
    await a.revoke(session.id);
    expect(a.checkActiveUserSession()).toBe(false);
  });

  it('checkActiveUserSession is local: false once the session is past its expiry by the clock, with no request', async () => {
    const c = client();
    const session = await c.signIn(wallet);
    const mark = server.seen.length;
    server.clock.set(session.expiresAt - 1);
    expect(c.checkActiveUserSession()).toBe(true);
    server.clock.set(session.expiresAt);
    expect(c.checkActiveUserSession()).toBe(false);
    expect(server.seen.length).toBe(mark);
  });

  it('keeps the session in its storage: a second client over the same storage is signed in', async () => {
    const storage = new MemoryStorage();
    const first = client({ storage });
    const session = await first.signIn(wallet);
    const second = client({ storage });
    await second.ready();
    expect(second.checkActiveUserSession()).toBe(true);
    expect((await second.session()).id).toBe(session.id);
  });

  it('sends Latchkey-App for a named app, and the server signs in to that app', async () => {
    await server.latchkey.addApp('shop', {
      signIn: { domain: SIWE.domain, origin: 'https://app.example.com', chainIds: [SIWE.chainId] },
    });
    const c = client({ appId: 'shop' });
    const session = await c.signIn(wallet);
    expect(session.appId).toBe('shop');
    const unknown = client({ appId: 'nope' });
    await expect(unknown.signIn(wallet)).rejects.toMatchObject({ code: 'APP_UNKNOWN', status: 404 });
  });

  it('refuses bad options at construction with CLIENT_OPTIONS_INVALID naming the option', () => {
    for (const [options, field] of [
      [{ baseUrl: 'not a url' }, 'baseUrl'],
      [{ baseUrl: 'ftp://x.example' }, 'baseUrl'],
      [{ baseUrl: 'https://x.example', appId: 'Bad App' }, 'appId'],
      [{ baseUrl: 'https://x.example', trustedOrigins: ['nope'] }, 'trustedOrigins[0]'],
      [{ baseUrl: 'https://x.example', autoRefresh: { leadSeconds: -1 } }, 'autoRefresh.leadSeconds'],
    ] as const) {
      let thrown: unknown;
      try {
        new LatchkeyClient(options as LatchkeyClientOptions);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'CLIENT_OPTIONS_INVALID', field });
    }
  });

  it('needs siwe.domain and siwe.uri outside a browser page', async () => {
    const c = client({ siwe: {} });
    await expect(c.signIn(wallet)).rejects.toMatchObject({ code: 'CLIENT_OPTIONS_INVALID', field: 'siwe.domain' });
  });
});
