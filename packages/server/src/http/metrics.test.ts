import { MemoryStore, type Store } from '@latchkey/core';
import { describe, expect, it } from 'vitest';
import { type Fixture, signIn, siweMessage, startFixture, WALLETS } from '../../test-support/http/index.js';

async function scrape(f: Fixture): Promise<Map<string, number>> {
  const response = await f.app.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of response.body.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe('metrics', () => {
  it('count requests by route and status, sign-ins by result, reuse, rate limits, store errors; gauge active sessions', async () => {
    const store = new MemoryStore();
    const f = await startFixture({ store, apps: { shop: {} }, server: { rateLimits: { nonce: 4 } } });
    const { issued } = await signIn(f, WALLETS[0]!);
    await signIn(f, WALLETS[1]!);
    await signIn(f, WALLETS[0]!, { appId: 'shop' });
    const message = siweMessage(WALLETS[2]!.address, 'neverIssuedNonce01', f.clock);
    await f.app.inject({ method: 'POST', url: '/v1/auth/siwe', payload: { message, signature: '0x00' } });
    for (let i = 0; i < 3; i += 1) {
      await f.app.inject({ method: 'GET', url: '/v1/session', headers: { authorization: `Bearer ${issued.token}` } });
    }
    await f.app.inject({ method: 'POST', url: '/v1/session/refresh', payload: { refreshToken: issued.refreshToken } });
    f.clock.advance(60_000);
    await f.app.inject({ method: 'POST', url: '/v1/session/refresh', payload: { refreshToken: issued.refreshToken } });
    // A fresh window (the clock moved on): the fifth nonce is refused.
    for (let i = 0; i < 5; i += 1) await f.app.inject({ method: 'POST', url: '/v1/auth/nonce' });
    await f.app.inject({ method: 'GET', url: '/nowhere' });

    const m = await scrape(f);
    expect(m.get('latchkey_http_requests_total{method="GET",route="/v1/session",status="200"}')).toBe(3);
    expect(m.get('latchkey_http_request_duration_seconds_count{method="GET",route="/v1/session",status="200"}')).toBe(3);
    expect(m.get('latchkey_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(m.get('latchkey_signins_total{method="siwe",result="success"}')).toBe(3);
    expect(m.get('latchkey_signins_total{method="siwe",result="SIWE_NONCE_INVALID"}')).toBe(1);
    expect(m.get('latchkey_refresh_reuse_detected_total{app="default"}')).toBe(1);
    expect(m.get('latchkey_rate_limited_total{bucket="nonce",subject="ip"}')).toBe(1);
    // Wallet 0's default-app session was revoked by the reuse; wallet 1's remains, and shop's one.
    expect(m.get('latchkey_active_sessions{app="default"}')).toBe(1);
    expect(m.get('latchkey_active_sessions{app="shop"}')).toBe(1);
    expect([...m.keys()].some((k) => k.startsWith('latchkey_process_'))).toBe(true);

    await store.close();
    await f.app.inject({ method: 'GET', url: '/v1/session', headers: { authorization: `Bearer ${issued.token}` } });
    await f.app.inject({ method: 'GET', url: '/readyz' });
    f.clock.advance(15_000); // Adapted: the session gauge is re-read from the store at most every 15 s.
    const down = await scrape(f);
    expect(down.get('latchkey_store_errors_total{operation="/v1/session"}')).toBe(1);
    expect(down.get('latchkey_store_errors_total{operation="/readyz"}')).toBe(1);
    expect(down.get('latchkey_store_errors_total{operation="readStats"}')).toBe(2); // one per app on this scrape
    expect(down.has('latchkey_active_sessions{app="default"}')).toBe(false);
  });

  it('keep one registry per server', async () => {
    const [a, b] = [await startFixture(), await startFixture()];
    await a.app.inject({ method: 'GET', url: '/healthz' });
    expect((await scrape(a)).get('latchkey_http_requests_total{method="GET",route="/healthz",status="200"}')).toBe(1);
    expect((await scrape(b)).get('latchkey_http_requests_total{method="GET",route="/healthz",status="200"}')).toBeUndefined();
  });
});

/** A store whose readStats calls are counted and can be held back, to see what a scrape costs. */
function statsCountingStore(): { store: Store; reads: () => number; hold: () => () => void } {
  const inner = new MemoryStore();
  let reads = 0;
  let gate: Promise<void> | null = null;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === 'readStats') {
        return async (...args: Parameters<Store['readStats']>) => {
          reads += 1;
          if (gate) await gate;
          return target.readStats(...args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const hold = () => {
    let release = () => {};
    gate = new Promise<void>((resolve) => {
      release = () => {
        gate = null;
        resolve();
      };
    });
    return release;
  };
  return { store, reads: () => reads, hold };
}

describe('the active-sessions gauge', () => {
  it('reads the store at most once per 15 s whatever the scrape rate, one read in flight, and serves the cached value', async () => {
    const { store, reads, hold } = statsCountingStore();
    const f = await startFixture({ store, apps: { shop: {}, blog: {} } });
    const apps = f.latchkey.appIds().length;
    await signIn(f, WALLETS[0]!);
    const first = await scrape(f);
    expect(first.get('latchkey_active_sessions{app="default"}')).toBe(1);
    expect(reads()).toBe(apps);

    // Many scrapes, one after another and all at once: no further store reads within the interval.
    for (let i = 0; i < 20; i += 1) await scrape(f);
    await Promise.all(Array.from({ length: 20 }, () => scrape(f)));
    await signIn(f, WALLETS[1]!);
    f.clock.advance(14_999);
    expect((await scrape(f)).get('latchkey_active_sessions{app="default"}')).toBe(1); // the cached value
    expect(reads()).toBe(apps);

    // Due again: concurrent scrapes share one refresh.
    f.clock.advance(1);
    const release = hold();
    const scrapes = Promise.all(Array.from({ length: 10 }, () => scrape(f)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    const answers = await scrapes;
    expect(reads()).toBe(2 * apps);
    for (const m of answers) expect(m.get('latchkey_active_sessions{app="default"}')).toBe(2);
  });

  it('takes its interval from metrics.statsIntervalSeconds', async () => {
    const { store, reads } = statsCountingStore();
    const f = await startFixture({ store, server: { metrics: { statsIntervalSeconds: 60 } } });
    await scrape(f);
    f.clock.advance(59_999);
    await scrape(f);
    expect(reads()).toBe(1);
    f.clock.advance(1);
    await scrape(f);
    expect(reads()).toBe(2);
    await expect(startFixture({ server: { metrics: { statsIntervalSeconds: 0 } } })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      field: 'metrics.statsIntervalSeconds',
    });
  });
});
