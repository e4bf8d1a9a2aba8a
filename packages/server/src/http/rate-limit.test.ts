import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Latchkey, ManualClock, MemoryStore, type Store } from '@latchkey/core';
import { RedisStore, redisAnswers } from '@latchkey/redis';
import { SqliteStore } from '@latchkey/sqlite';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type Fixture, siweMessage, startFixture, T0, WALLETS } from '../../test-support/http/index.js';
import { createServer } from '../index.js';

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

  it('count sign-ins per address whatever the wallet; a refused sign-in spent nothing', async () => {
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
    // Adapted: no per-wallet count before the signature is verified (anyone could spend it), so a third address signs in.
    expect((await attempt(WALLETS[0]!, '10.0.1.3')).statusCode).toBe(200);
    expect((await attempt(WALLETS[1]!, '10.0.1.3')).statusCode).toBe(200);
    const third = await attempt(WALLETS[2]!, '10.0.1.3');
    expect([third.statusCode, third.json().error.code]).toEqual([429, 'RATE_LIMITED']);
    // A refused sign-in spent nothing: the wallet signs in once the window turns.
    f.clock.advance(60_000);
    expect((await attempt(WALLETS[2]!, '10.0.1.3')).statusCode).toBe(200);
  });

  it("never let one address's failed sign-ins naming a wallet lock that wallet out", async () => {
    const f = await startFixture(); // the defaults: 10 sign-ins per window
    const victim = WALLETS[0]!;
    for (let i = 0; i < 11; i += 1) {
      const message = siweMessage(victim.address, `neverIssuedNonce${String(i).padStart(2, '0')}`, f.clock);
      const forged = await f.app.inject({
        method: 'POST',
        url: '/v1/auth/siwe',
        remoteAddress: '198.51.100.66',
        payload: { message, signature: `0x${'11'.repeat(65)}` },
      });
      expect(forged.statusCode).toBe(i < 10 ? 401 : 429);
    }
    const { nonce: value } = (await nonce(f, '10.0.4.1')).json();
    const message = siweMessage(victim.address, value, f.clock);
    const real = await f.app.inject({
      method: 'POST',
      url: '/v1/auth/siwe',
      remoteAddress: '10.0.4.1',
      payload: { message, signature: await victim.signMessage({ message }) },
    });
    expect(real.statusCode, real.body).toBe(200);
  });

  it("never let forged refresh tokens carrying a session's id prefix lock that session's refresh", async () => {
    const f = await startFixture(); // the defaults: 30 refreshes per window
    const victim = await f.latchkey.createSession({ account: `eip155:1:${WALLETS[0]!.address}`, authMethod: 'api' });
    const tag = victim.session.id.slice(0, 8);
    const secret = victim.refreshToken.slice(victim.refreshToken.indexOf('.') + 1);
    const statuses: number[] = [];
    for (let i = 0; i < 31; i += 1) {
      const forged = `lkr_${tag}${randomBytes(12).toString('hex')}.${secret}`;
      const response = await f.app.inject({
        method: 'POST',
        url: '/v1/session/refresh',
        remoteAddress: '198.51.100.67',
        payload: { refreshToken: forged },
      });
      statuses.push(response.statusCode);
    }
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
    const real = await f.app.inject({
      method: 'POST',
      url: '/v1/session/refresh',
      remoteAddress: '10.0.4.2',
      payload: { refreshToken: victim.refreshToken },
    });
    expect(real.statusCode, real.body).toBe(200);
  });

  it('count refreshes per address, and take the address from X-Forwarded-For only behind a trusted proxy', async () => {
    // Adapted: `trustProxy: true` (every hop) is refused now; the proxy in front is named (inject's peer is 127.0.0.1).
    const f = await startFixture({ server: { trustProxy: 'loopback', rateLimits: { refresh: 2 } } });
    const sessions = await Promise.all(
      [0, 1, 2, 3].map(() => f.latchkey.createSession({ account: `eip155:1:${WALLETS[0]!.address}`, authMethod: 'api' })),
    );
    const refresh = (refreshToken: string, forwardedFor: string) =>
      f.app.inject({
        method: 'POST',
        url: '/v1/session/refresh',
        headers: { 'x-forwarded-for': forwardedFor },
        payload: { refreshToken },
      });
    // Adapted: one wallet's refreshes from three addresses all pass (there is no per-wallet refresh count).
    expect((await refresh(sessions[0]!.refreshToken, '10.0.2.1')).statusCode).toBe(200);
    expect((await refresh(sessions[1]!.refreshToken, '10.0.2.2')).statusCode).toBe(200);
    expect((await refresh(sessions[2]!.refreshToken, '10.0.2.3')).statusCode).toBe(200);
    expect((await refresh(sessions[3]!.refreshToken, '10.0.2.3')).statusCode).toBe(200);
    const again = await refresh(sessions[3]!.refreshToken, '10.0.2.3');
    expect([again.statusCode, again.json().error.code]).toEqual([429, 'RATE_LIMITED']);

    const direct = await startFixture({ server: { rateLimits: { nonce: 1 } } });
    expect((await nonce(direct, '10.0.3.1', { 'x-forwarded-for': '10.9.9.1' })).statusCode).toBe(200);
    expect((await nonce(direct, '10.0.3.1', { 'x-forwarded-for': '10.9.9.2' })).statusCode).toBe(429);
  });

  it('trust only the proxies named, never every hop: what a client writes into X-Forwarded-For changes nothing', async () => {
    const store = new MemoryStore();
    const latchkey = new Latchkey({ store, cleanupIntervalSeconds: 0 });
    for (const trustProxy of [true, 1, 'not-an-address', ['10.0.0.0/33'], [], -1, { hops: 1 }]) {
      await expect(createServer({ latchkey, store, logger: false, trustProxy } as never)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        field: 'trustProxy',
      });
    }

    // The proxy in front appends the address it saw; whatever the client wrote stays to the left of it.
    const f = await startFixture({ server: { trustProxy: ['10.0.0.9'], rateLimits: { nonce: 2 } } });
    const viaProxy = (forwardedFor: string) => nonce(f, '10.0.0.9', { 'x-forwarded-for': forwardedFor });
    expect((await viaProxy('1.1.1.1, 203.0.113.7')).statusCode).toBe(200);
    expect((await viaProxy('2.2.2.2, 203.0.113.7')).statusCode).toBe(200);
    expect((await viaProxy('3.3.3.3, 4.4.4.4, 203.0.113.7')).statusCode).toBe(429);
    expect((await viaProxy('203.0.113.8')).statusCode).toBe(200);
    // The session records the address the proxy saw, not the one the client wrote.
    const { nonce: value } = (await viaProxy('5.5.5.5, 203.0.113.9')).json();
    const message = siweMessage(WALLETS[0]!.address, value, f.clock);
    const signedIn = await f.app.inject({
      method: 'POST',
      url: '/v1/auth/siwe',
      remoteAddress: '10.0.0.9',
      headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' },
      payload: { message, signature: await WALLETS[0]!.signMessage({ message }) },
    });
    expect(signedIn.json().session.device.ip).toBe('203.0.113.9');
    // A client that reaches the server directly cannot pose as the proxy.
    expect((await nonce(f, '203.0.113.50', { 'x-forwarded-for': '7.7.7.1' })).statusCode).toBe(200);
    expect((await nonce(f, '203.0.113.50', { 'x-forwarded-for': '7.7.7.2' })).statusCode).toBe(200);
    expect((await nonce(f, '203.0.113.50', { 'x-forwarded-for': '7.7.7.3' })).statusCode).toBe(429);

    // Listed proxies: X-Forwarded-For counts only on requests that come from one of them.
    const listed = await startFixture({ server: { trustProxy: ['10.0.0.9', '192.168.0.0/16'], rateLimits: { nonce: 1 } } });
    expect((await nonce(listed, '10.0.0.9', { 'x-forwarded-for': '203.0.113.7' })).statusCode).toBe(200);
    expect((await nonce(listed, '192.168.4.4', { 'x-forwarded-for': '203.0.113.7' })).statusCode).toBe(429);
    expect((await nonce(listed, '10.0.0.8', { 'x-forwarded-for': '203.0.113.70' })).statusCode).toBe(200);
    expect((await nonce(listed, '10.0.0.8', { 'x-forwarded-for': '203.0.113.71' })).statusCode).toBe(429);
  });

  it('count an IPv6 client by its /64, however the address is written', async () => {
    const f = await startFixture({ server: { rateLimits: { nonce: 2 } } });
    expect((await nonce(f, '2001:db8:aa:bb::1')).statusCode).toBe(200);
    expect((await nonce(f, '2001:db8:aa:bb:1:2:3:4')).statusCode).toBe(200);
    expect((await nonce(f, '2001:0db8:00aa:00bb:ffff:0000:0000:0009')).statusCode).toBe(429);
    expect((await nonce(f, '2001:db8:aa:bc::1')).statusCode).toBe(200);
    // IPv4, plain or IPv4-mapped, stays one address.
    expect((await nonce(f, '::ffff:192.0.2.1')).statusCode).toBe(200);
    expect((await nonce(f, '192.0.2.1')).statusCode).toBe(200);
    expect((await nonce(f, '192.0.2.1')).statusCode).toBe(429);
    expect((await nonce(f, '192.0.2.2')).statusCode).toBe(200);
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

const isRedisAnswering = await redisAnswers();
if (!isRedisAnswering && process.env.CI === 'true') {
  throw new Error('Redis does not answer on 127.0.0.1:6379 and CI=true: the cross-node Redis test must run in CI, not skip.');
}

describe('rate limits across nodes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-http-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hold across two servers over one SQLite file', async () => {
    const path = join(dir, 'shared.db');
    await sharesTheCount(await twoNodes(() => new SqliteStore({ path })));
  });

  it.skipIf(!isRedisAnswering)('hold across two servers over one Redis key prefix', async () => {
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
