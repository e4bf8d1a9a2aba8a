import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, type Store } from '@latchkey/core';
import { RedisStore } from '@latchkey/redis';
import { SqliteStore } from '@latchkey/sqlite';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type Fixture, siweMessage, startFixture, T0, WALLETS } from '../../test-support/http/index.js';

const nonce = (f: Fixture, remoteAddress = '10.0.0.1', headers: Record<string, string> = {}) =>
  f.app.inject({ method: 'POST', url: '/v1/auth/nonce', remoteAddress, headers });

describe('rate limits', () => {
  it('count nonces per IP in fixed windows aligned to the epoch, with Retry-After to the window end', async () => {
    const clock = new ManualClock(T0 + 17_000); // T0 is a whole minute: 43 s left in this window
    const f = await startFixture({ clock, server: { rateLimits: { windowSeconds: 60, nonce: 3 } } });
    for (let i = 0; i < 3; i += 1) expect((await nonce(f)).statusCode).toBe(200);
    const refused = await nonce(f);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('RATE_LIMITED');
    expect(refused.headers['retry-after']).toBe('43');
    expect((await nonce(f, '10.0.0.2')).statusCode).toBe(200);
    clock.advance(42_999);
    expect((await nonce(f)).headers['retry-after']).toBe('1');
    clock.advance(1);
    expect((await nonce(f)).statusCode).toBe(200);
  });

  it('count sign-ins per wallet whatever the address, and per address whatever the wallet', async () => {
    const f = await startFixture({ server: { rateLimits: { signIn: 2, nonce: 100 } } });
    const attempt = async (wallet: (typeof WALLETS)[number], remoteAddress: string) => {
      const { nonce: value } = (await nonce(f, remoteAddress)).json();
      const message = siweMessage(wallet.address, value, f.clock);
      return f.app.inject({
        method: 'POST',
        url: '/v1/auth/siwe',
        remoteAddress,
        payload: { message, signature: await wallet.signMessage({ message }) },
      });
    };
    expect((await attempt(WALLETS[0]!, '10.0.1.1')).statusCode).toBe(200);
    expect((await attempt(WALLETS[0]!, '10.0.1.2')).statusCode).toBe(200);
    const third = await attempt(WALLETS[0]!, '10.0.1.3');
    expect([third.statusCode, third.json().error.code]).toEqual([429, 'RATE_LIMITED']);
    expect((await attempt(WALLETS[1]!, '10.0.1.3')).statusCode).toBe(200);
    expect((await attempt(WALLETS[2]!, '10.0.1.3')).statusCode).toBe(429);
    // A refused sign-in spent nothing: the wallet signs in once the window turns.
    f.clock.advance(60_000);
    expect((await attempt(WALLETS[0]!, '10.0.1.3')).statusCode).toBe(200);
  });

  it('count refreshes per wallet, and take the address from X-Forwarded-For only behind a trusted proxy', async () => {
    const f = await startFixture({ server: { trustProxy: true, rateLimits: { refresh: 2 } } });
    const sessions = await Promise.all(
      [0, 1, 2].map(() => f.latchkey.createSession({ account: `eip155:1:${WALLETS[0]!.address}`, authMethod: 'api' })),
    );
    const refresh = (refreshToken: string, forwardedFor: string) =>
      f.app.inject({
        method: 'POST',
        url: '/v1/session/refresh',
        headers: { 'x-forwarded-for': forwardedFor },
        payload: { refreshToken },
      });
    expect((await refresh(sessions[0]!.refreshToken, '10.0.2.1')).statusCode).toBe(200);
    expect((await refresh(sessions[1]!.refreshToken, '10.0.2.2')).statusCode).toBe(200);
    expect((await refresh(sessions[2]!.refreshToken, '10.0.2.3')).statusCode).toBe(429);

    const direct = await startFixture({ server: { rateLimits: { nonce: 1 } } });
    expect((await nonce(direct, '10.0.3.1', { 'x-forwarded-for': '10.9.9.1' })).statusCode).toBe(200);
    expect((await nonce(direct, '10.0.3.1', { 'x-forwarded-for': '10.9.9.2' })).statusCode).toBe(429);
  });

  it('turn off at 0', async () => {
    const f = await startFixture({ server: { rateLimits: { nonce: 0 } } });
    for (let i = 0; i < 50; i += 1) expect((await nonce(f)).statusCode).toBe(200);
  });
});

/** Two servers, each with its own engine and store connection, over one shared store. */
async function twoNodes(open: () => Store): Promise<[Fixture, Fixture]> {
  const clock = new ManualClock(T0);
  const limits = { rateLimits: { nonce: 3 } };
  return [
    await startFixture({ store: open(), clock, server: limits }),
    await startFixture({ store: open(), clock, server: limits }),
  ];
}

async function sharesTheCount([a, b]: [Fixture, Fixture]): Promise<void> {
  expect((await nonce(a)).statusCode).toBe(200);
  expect((await nonce(b)).statusCode).toBe(200);
  expect((await nonce(a)).statusCode).toBe(200);
  expect((await nonce(b)).statusCode).toBe(429);
  expect((await nonce(a)).statusCode).toBe(429);
  await Promise.all([a.app.close(), b.app.close(), a.store.close(), b.store.close()]);
}

const redisAnswers = await (async () => {
  const probe = new Redis('redis://127.0.0.1:6379', {
    lazyConnect: true,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
})();
if (!redisAnswers && process.env.CI === 'true') {
  throw new Error('Redis does not answer on 127.0.0.1:6379 and CI=true: the cross-node Redis test must run in CI, not skip.');
}

describe('rate limits across nodes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-http-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hold across two servers over one SQLite file', async () => {
    const path = join(dir, 'shared.db');
    await sharesTheCount(await twoNodes(() => new SqliteStore({ path })));
  });

  it.skipIf(!redisAnswers)('hold across two servers over one Redis key prefix', async () => {
    const keyPrefix = `lktest:http:${randomBytes(6).toString('hex')}:`;
    try {
      await sharesTheCount(await twoNodes(() => new RedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix })));
    } finally {
      const admin = new Redis('redis://127.0.0.1:6379');
      const keys = await admin.keys(`${keyPrefix}*`);
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    }
  });
});
