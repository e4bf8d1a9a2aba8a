import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveNewApp } from './apps.js';
import { UsageError } from './errors.js';
import { openRuntime, type Runtime } from './runtime.js';
import { describeStore, parseStoreSpec } from './store.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
let cwd: string;
const opened: Runtime[] = [];

async function open(request: Partial<Parameters<typeof openRuntime>[0]> = {}): Promise<Runtime> {
  const runtime = await openRuntime({ cwd, env: {}, ...request });
  opened.push(runtime);
  return runtime;
}

function writeConfig(config: unknown): string {
  writeFileSync(join(cwd, 'latchkey.json'), JSON.stringify(config));
  return 'latchkey.json';
}

async function usageError(promise: Promise<unknown>): Promise<UsageError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UsageError);
  return error as UsageError;
}

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
});
afterEach(async () => {
  for (const r of opened.splice(0)) await r.close();
  rmSync(cwd, { recursive: true, force: true });
});

describe('openRuntime: where each setting comes from', () => {
  it('defaults: 127.0.0.1:8787, SQLite under ./.latchkey, local keys, local sign-in and access tokens on the default app', async () => {
    const runtime = await open();
    expect([runtime.host, runtime.port, runtime.logLevel]).toEqual(['127.0.0.1', 8787, 'info']);
    expect(runtime.storeLabel).toBe(`sqlite:${join(cwd, '.latchkey', 'latchkey.db')}`);
    expect(runtime.dataKeys).toMatchObject({ source: 'local', isGenerated: true, file: join(cwd, '.latchkey', 'keys.json') });
    expect(statSync(join(cwd, '.latchkey', 'keys.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(cwd, '.latchkey')).mode & 0o777).toBe(0o700);
    const settings = runtime.latchkey.settings('default');
    expect(settings.signIn).toMatchObject({ domain: '127.0.0.1:8787', origin: 'http://127.0.0.1:8787', chainIds: [1] });
    expect(settings.accessTokens).toMatchObject({ algorithm: 'EdDSA', audience: 'http://127.0.0.1:8787' });
    // With the relay on (the default), the connect bridge accepts tokens naming this server's relay.
    expect(settings.connect?.relayUrls).toEqual(['http://127.0.0.1:8787']);
    expect(runtime.localDefaults).toEqual({ signIn: true, accessTokens: true, connect: true });
  });

  it('a second run reuses the generated keys file', async () => {
    await (await open()).close();
    const first = readFileSync(join(cwd, '.latchkey', 'keys.json'), 'utf8');
    const again = await open();
    expect(again.dataKeys).toMatchObject({ source: 'local', isGenerated: false });
    expect(readFileSync(join(cwd, '.latchkey', 'keys.json'), 'utf8')).toBe(first);
  });

  it('flags beat environment variables, which beat the config file', async () => {
    const config = writeConfig({ store: 'memory', server: { host: '127.0.0.3', port: 9001, logLevel: 'warn' } });
    const fromConfig = await open({ flags: { config } });
    expect([fromConfig.host, fromConfig.port, fromConfig.logLevel, fromConfig.storeLabel]).toEqual([
      '127.0.0.3',
      9001,
      'warn',
      'memory (nothing survives a restart)',
    ]);
    const env = { LATCHKEY_CONFIG: config, LATCHKEY_PORT: '9002', LATCHKEY_HOST: '127.0.0.4', LATCHKEY_LOG_LEVEL: 'debug' };
    const fromEnv = await open({ env });
    expect([fromEnv.host, fromEnv.port, fromEnv.logLevel]).toEqual(['127.0.0.4', 9002, 'debug']);
    const fromFlags = await open({ env, flags: { port: '0', host: '127.0.0.5', logLevel: 'silent' } });
    expect([fromFlags.host, fromFlags.port, fromFlags.logLevel]).toEqual(['127.0.0.5', 0, 'silent']);
  });

  it('a bad value names the flag or variable it came from', async () => {
    expect((await usageError(open({ flags: { port: 'http' } }))).field).toBe('--port');
    expect((await usageError(open({ env: { LATCHKEY_PORT: '65536' } }))).field).toBe('LATCHKEY_PORT');
    expect((await usageError(open({ flags: { store: 'postgres://x' } }))).field).toBe('--store');
    expect((await usageError(open({ env: { LATCHKEY_STORE: 'sqlite:' } }))).field).toBe('LATCHKEY_STORE');
    expect((await usageError(open({ flags: { logLevel: 'loud' } }))).field).toBe('--log-level');
    expect((await usageError(open({ flags: { config: 'missing.json' } }))).field).toBe('--config');
  });

  it('the config file is validated once, and an error names the field', async () => {
    const bad = async (config: unknown): Promise<string> =>
      (await usageError(open({ flags: { config: writeConfig(config) } }))).message;
    expect(await bad({ defaults: { idleTimeoutSeconds: -1 } })).toMatch(/defaults\.idleTimeoutSeconds: /);
    expect(await bad({ apps: { shop: { signIn: { domain: 'shop.example', origin: 'nope' } } } })).toMatch(
      /apps\.shop\.signIn\.origin: /,
    );
    expect(await bad({ apps: { default: {} } })).toMatch(/apps\.default: /);
    expect(await bad({ dataKeys: { current: 'a', keys: { a: 'c2hvcnQ=' } } })).toMatch(/dataKeys\.keys\.a: .*32/);
    expect(await bad({ dataKeys: { current: 'b', keys: { a: KEY } } })).toMatch(/dataKeys\.current: /);
    expect(await bad({ smartAccounts: { rpcUrls: { mainnet: 'https://rpc.example' } } })).toMatch(
      /smartAccounts\.rpcUrls\.mainnet/,
    );
    expect(await bad({ server: { rateLimits: { nonce: -1 } } })).toMatch(/server\.rateLimits\.nonce: /);
    expect(await bad({ surprise: true })).toMatch(/surprise/);
    writeFileSync(join(cwd, 'broken.json'), '{');
    expect((await usageError(open({ flags: { config: 'broken.json' } }))).message).toMatch(/not valid JSON/);
  });

  it('the config gives apps, server options, smart-account verifiers and its own keys', async () => {
    const config = writeConfig({
      store: 'memory',
      defaults: { signIn: { domain: 'app.example', origin: 'https://app.example', chainIds: [1, 8453] } },
      apps: { shop: { maxSessionsPerWallet: 3 } },
      dataKeys: { current: 'k1', keys: { k1: KEY } },
      smartAccounts: { rpcUrls: { 1: 'https://rpc.example' }, timeoutMs: 2000 },
      // Adapted: trustProxy names the proxies now, never `true`.
      server: { cookies: { secure: true }, rateLimits: { windowSeconds: 60, nonce: 30 }, trustProxy: ['10.0.0.1'] },
    });
    const runtime = await open({ flags: { config } });
    expect(runtime.latchkey.appIds().sort()).toEqual(['default', 'shop']);
    expect(runtime.latchkey.settings('shop').maxSessionsPerWallet).toBe(3);
    expect(runtime.latchkey.settings('default').signIn?.domain).toBe('app.example');
    expect(runtime.localDefaults).toEqual({ signIn: false, accessTokens: true, connect: true });
    expect(runtime.server).toEqual({
      cookies: { secure: true },
      rateLimits: { windowSeconds: 60, nonce: 30 },
      trustProxy: ['10.0.0.1'],
      // The relay is on unless configured off; with no "relay" section, its defaults and channels in memory.
      relay: {},
    });
    expect(runtime.dataKeys).toEqual({ source: 'config', warnings: [] });
    expect(() => statSync(join(cwd, '.latchkey'))).toThrow();
  });

  it('server.trustProxy names the proxies by address or CIDR, never true or a hop count', async () => {
    const bad = async (trustProxy: unknown): Promise<string> =>
      (await usageError(open({ flags: { config: writeConfig({ store: 'memory', server: { trustProxy } }) } }))).message;
    expect(await bad(true)).toMatch(/server\.trustProxy: true trusts every hop.*address or CIDR/);
    expect(await bad(1)).toMatch(/server\.trustProxy: a hop count/);
    expect(await bad(['10.0.0.0/33'])).toMatch(/server\.trustProxy/);
    expect(await bad(['proxy.internal'])).toMatch(/server\.trustProxy/);
    for (const trustProxy of [['10.0.0.1', '192.168.0.0/16', 'fd00::/8', 'loopback'], '127.0.0.1', false]) {
      const runtime = await open({ flags: { config: writeConfig({ store: 'memory', server: { trustProxy } }) } });
      expect(runtime.server.trustProxy).toEqual(trustProxy);
    }
  });

  it('cookies: Secure unless configured off; the local default on a loopback host turns it off', async () => {
    expect((await open({ flags: { store: 'memory' } })).server.cookies).toEqual({ secure: false });
    const remote = await open({ flags: { store: 'memory', host: '0.0.0.0' } });
    expect(remote.server.cookies).toBeUndefined();
    const config = writeConfig({ store: 'memory', server: { cookies: { secure: true } } });
    expect((await open({ flags: { config } })).server.cookies).toEqual({ secure: true });
  });

  it('the relay: on by default in memory; config limits; Redis from the store or relay.redisUrl; --relay off', async () => {
    const plain = await open({ flags: { store: 'memory' } });
    expect(plain.server.relay).toEqual({});
    expect(plain.relayLabel).toBe('channels in memory (this node only)');
    const config = writeConfig({
      store: 'memory',
      relay: { redisUrl: 'redis://:pw@127.0.0.1:6379/2?prefix=app:', channelTtlSeconds: 120, rateLimit: { perSecond: 5 } },
    });
    const shared = await open({ flags: { config } });
    expect(shared.server.relay).toEqual({
      channelTtlSeconds: 120,
      rateLimit: { perSecond: 5 },
      redis: { url: 'redis://:pw@127.0.0.1:6379/2', keyPrefix: 'app:' },
    });
    expect(shared.relayLabel).toBe('channels in redis://:***@127.0.0.1:6379/2 (key prefix app:), shared by every node on it');
    expect((await open({ flags: { config, relay: 'off' } })).server.relay).toBeUndefined();
    expect((await open({ flags: { config }, env: { LATCHKEY_RELAY: 'off' } })).relayLabel).toBeNull();
    const off = writeConfig({ store: 'memory', relay: { enabled: false } });
    expect((await open({ flags: { config: off } })).server.relay).toBeUndefined();
    expect((await open({ flags: { config: off, relay: 'on' } })).server.relay).toEqual({});
    expect((await usageError(open({ flags: { store: 'memory', relay: 'yes' } }))).field).toBe('--relay');
    const tight = writeConfig({ store: 'memory', relay: { maxPayloadBytes: 32_768, bufferBytes: 20_000 } });
    const error = await usageError(open({ flags: { config: tight } }));
    expect(error.field).toBe('config relay.bufferBytes');
    expect(error.message).toMatch(/at least maxPayloadBytes \(32768\)/);
    const unknown = writeConfig({ store: 'memory', relay: { buffer: 3 } });
    expect((await usageError(open({ flags: { config: unknown } }))).message).toMatch(/relay/);
  });

  it("the relay's node-wide and per-address limits come from the config file and are checked", async () => {
    const limits = {
      maxChannels: 500,
      maxBufferedBytes: 8 * 1_048_576,
      maxConnectionsPerAddress: 0,
      joinsPerMinutePerAddress: 600,
    };
    const config = writeConfig({ store: 'memory', relay: limits });
    expect((await open({ flags: { config } })).server.relay).toEqual(limits);
    const small = writeConfig({ store: 'memory', relay: { maxBufferedBytes: 100_000 } });
    const error = await usageError(open({ flags: { config: small } }));
    expect(error.field).toBe('config relay.maxBufferedBytes');
    expect(error.message).toMatch(/at least bufferBytes \(1048576\)/);
    const none = writeConfig({ store: 'memory', relay: { maxChannels: 0 } });
    expect((await usageError(open({ flags: { config: none } }))).message).toMatch(/maxChannels/);
  });

  it('LATCHKEY_DATA_KEYS beats the config file and is checked', async () => {
    const ring = JSON.stringify({ current: 'e1', keys: { e1: KEY } });
    const runtime = await open({ env: { LATCHKEY_DATA_KEYS: ring }, flags: { store: 'memory' } });
    expect(runtime.dataKeys.source).toBe('env');
    expect((await usageError(open({ env: { LATCHKEY_DATA_KEYS: 'k1=abc' } }))).field).toBe('LATCHKEY_DATA_KEYS');
  });

  it('serveAt points the default app at the port actually bound', async () => {
    const runtime = await open({ flags: { port: '0', store: 'memory' } });
    runtime.serveAt(runtime.urlFor(41234));
    expect(runtime.latchkey.settings('default').signIn?.origin).toBe('http://127.0.0.1:41234');
    expect(runtime.latchkey.settings('default').accessTokens?.audience).toBe('http://127.0.0.1:41234');
    expect(runtime.urlFor(80)).toBe('http://127.0.0.1:80');
    const v6 = await open({ flags: { host: '::1', store: 'memory' } });
    expect(v6.urlFor(8787)).toBe('http://[::1]:8787');
  });

  it('loads the apps kept in the store, skipping ones that no longer validate', async () => {
    const first = await open();
    await saveNewApp(first.store, { id: 'shop', settings: { maxSessionsPerWallet: 2 } });
    await saveNewApp(first.store, { id: 'broken', settings: { maxSessionsPerWallet: -2 } });
    await first.close();
    const runtime = await open();
    expect(runtime.storedApps).toEqual(['shop']);
    expect(runtime.latchkey.settings('shop').maxSessionsPerWallet).toBe(2);
    expect(runtime.warnings.join('\n')).toMatch(/broken: .*maxSessionsPerWallet/);
  });
});

describe('parseStoreSpec', () => {
  it('reads sqlite paths against cwd, memory, and redis URLs with an optional key prefix', () => {
    expect(parseStoreSpec('sqlite:data/x.db', { cwd: '/srv', source: '--store' })).toEqual({
      kind: 'sqlite',
      path: '/srv/data/x.db',
    });
    expect(parseStoreSpec('memory', { cwd: '/srv', source: '--store' })).toEqual({ kind: 'memory' });
    expect(parseStoreSpec('redis://127.0.0.1:6379/2?prefix=t1:', { cwd: '/srv', source: '--store' })).toEqual({
      kind: 'redis',
      url: 'redis://127.0.0.1:6379/2',
      keyPrefix: 't1:',
    });
    expect(() => parseStoreSpec('redis://h:6379?prefix={x}', { cwd: '/', source: '--store' })).toThrow(/--store: prefix/);
  });

  it('never shows a password', () => {
    const spec = parseStoreSpec('redis://user:hunter2@127.0.0.1:6379', { cwd: '/', source: '--store' });
    expect(describeStore(spec)).not.toContain('hunter2');
    expect(() => parseStoreSpec('mysql://root:hunter2@db', { cwd: '/', source: '--store' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });
});
