import { ManualClock } from '@latchkey/core';
import type { Page } from 'playwright-core';
import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, bundleClient, launchChromium, serveTestPage, shouldRunBrowserTests } from '../test-support/browser.js';
import { CHAIN_ID, startServer, type TestServer, WALLETS } from '../test-support/server.js';

const wallet = WALLETS[0]!;
const APP = 'browser';

/** What the page reports back from one step. */
interface Step {
  signedIn: boolean;
  keyId: string | null;
  keyMode: string | null;
  storedKey: { extractable: boolean; type: string; algorithm: string } | null;
  exportRefused: boolean;
  status: number;
  hasLocks: boolean;
}

/**
 * Runs in the page: a client over the default storage (IndexedDB), then `action`, then a look at what
 * IndexedDB holds and one stamped request. Page code: only the bundle's exports and browser APIs.
 */
async function inPage(page: Page, action: 'sign-in' | 'reload' | 'refresh'): Promise<Step> {
  return page.evaluate(
    async ({ action, appId }) => {
      const { LatchkeyClient } = (window as unknown as { latchkey: typeof import('./index.js') }).latchkey;
      const client = new LatchkeyClient({ baseUrl: location.origin, appId, autoRefresh: false });
      await client.ready();
      const ethereum = (window as unknown as { ethereum: Parameters<typeof client.signIn>[0] }).ethereum;
      if (action === 'sign-in') {
        await client.signIn(ethereum);
        await client.createSessionKey({ scope: 'read-write' });
      }
      if (action === 'refresh') await client.refreshUserSession();
      const stored = await new Promise<{ key?: { privateKey?: CryptoKey } } | undefined>((resolve, reject) => {
        const open = indexedDB.open('latchkey');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const all = db.transaction('values').objectStore('values').getAll();
          all.onsuccess = () => resolve(all.result[0]);
          all.onerror = () => reject(all.error);
        };
      });
      const key = stored?.key?.privateKey ?? null;
      let exportRefused = false;
      if (key) {
        try {
          await crypto.subtle.exportKey('jwk', key);
        } catch {
          exportRefused = true;
        }
      }
      const response = await client.fetch('/v1/session-keys');
      return {
        signedIn: client.checkActiveUserSession(),
        keyId: client.sessionKey()?.id ?? null,
        keyMode: client.sessionKey()?.mode ?? null,
        storedKey: key ? { extractable: key.extractable, type: key.type, algorithm: key.algorithm.name } : null,
        exportRefused,
        status: response.status,
        hasLocks: typeof navigator.locks?.request === 'function',
      };
    },
    { action, appId: APP },
  );
}

describe.skipIf(!shouldRunBrowserTests())('the client in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const bundle = await bundleClient();
    // Browser and server both on real time: the page's stamps and SIWE times come from Date.now().
    const clock = new ManualClock();
    clock.now = () => Date.now();
    server = await startServer({ clock, beforeListen: (app) => serveTestPage(app, bundle) });
    const origin = new URL(server.baseUrl).origin;
    server.latchkey.addApp(APP, {
      signIn: { domain: new URL(origin).host, origin, chainIds: [CHAIN_ID] },
      sessionKeys: { requireStamps: true },
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
    // The test wallet: an EIP-1193 object in the page whose personal_sign is a viem account in Node.
    await page.exposeFunction('walletSign', (message: Hex) => wallet.signMessage({ message: { raw: message } }));
    await page.addInitScript(
      ({ address, chainId }) => {
        const sign = (window as unknown as { walletSign(m: string): Promise<string> }).walletSign;
        (window as unknown as { ethereum: unknown }).ethereum = {
          async request({ method, params }: { method: string; params?: unknown[] }) {
            if (method === 'eth_requestAccounts') return [address];
            if (method === 'eth_chainId') return `0x${chainId.toString(16)}`;
            if (method === 'personal_sign') return sign(String(params?.[0]));
            throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 });
          },
        };
      },
      { address: wallet.address, chainId: CHAIN_ID },
    );
    await page.goto(`${server.baseUrl}/test/index.html`);
    await page.waitForFunction(() => 'latchkey' in window);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('signs in, keeps a non-extractable key in IndexedDB across a reload, and its stamps are accepted', async () => {
    const mark = server.seen.length;
    const first = await inPage(page, 'sign-in');
    expect(first).toMatchObject({ signedIn: true, keyMode: 'registered', exportRefused: true, status: 200, hasLocks: true });
    expect(first.storedKey).toEqual({ extractable: false, type: 'private', algorithm: 'ECDSA' });
    expect(server.seen.slice(mark).map((r) => `${r.method} ${r.url.split('?')[0]} ${r.stamped} ${r.status}`)).toEqual([
      'POST /v1/auth/nonce false 200',
      'POST /v1/auth/siwe false 200',
      'POST /v1/session-keys/challenge false 201',
      'POST /v1/session-keys false 201',
      'GET /v1/session-keys true 200',
    ]);

    await page.reload();
    await page.waitForFunction(() => 'latchkey' in window);
    const afterReload = await inPage(page, 'reload');
    expect(afterReload).toMatchObject({ signedIn: true, keyId: first.keyId, exportRefused: true, status: 200 });
    expect(afterReload.storedKey?.extractable).toBe(false);
    expect(server.seen.at(-1)).toMatchObject({ url: '/v1/session-keys', stamped: true, status: 200 });

    // Origin 000's refresh: new tokens and a new key pair (under the Web Lock), still non-extractable.
    const refreshed = await inPage(page, 'refresh');
    expect(refreshed.keyId).not.toBe(first.keyId);
    expect(refreshed).toMatchObject({ signedIn: true, keyMode: 'registered', exportRefused: true, status: 200 });
    expect(refreshed.storedKey?.extractable).toBe(false);
  }, 60_000);
});
