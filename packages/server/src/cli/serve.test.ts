// End to end: `latchkey serve` from the BUILT CLI (dist/cli/main.js, from `npm run build`), on a real port.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('LATCHKEY_')) delete env[name];
  return { ...env, ...extra };
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd, env: cleanEnv(options.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A running `latchkey serve`. */
interface Served {
  url: string;
  child: ChildProcessWithoutNullStreams;
  output(): { stdout: string; stderr: string };
  /** Sends the signal and waits for the exit; answers the code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

const running = new Set<Served>();

function serve(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], { cwd: options.cwd, env: cleanEnv(options.env) });
  let stdout = '';
  let stderr = '';
  let isStarted = false;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const served: Omit<Served, 'url'> = {
    child,
    output: () => ({ stdout, stderr }),
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      running.delete(served as Served);
      return { code, ms: Date.now() - started };
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stdout}\n${stderr}`)), 15_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      const url = /Latchkey listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (!url || isStarted) return;
      isStarted = true;
      clearTimeout(timer);
      const started = Object.assign(served, { url }) as Served;
      running.add(started);
      resolve(started);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (!isStarted) reject(new Error(`serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

interface Json {
  status: number;
  body: Record<string, unknown>;
}

async function call(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Json> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Sign-In with Ethereum through the HTTP API, as a dApp would: nonce, EIP-4361 message, signature. */
async function signIn(base: string, account: PrivateKeyAccount, app?: string): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = app ? { 'latchkey-app': app } : {};
  const nonce = await call(`${base}/v1/auth/nonce`, { body: {}, headers });
  expect(nonce.status).toBe(200);
  const { host } = new URL(base);
  const message = createSiweMessage({
    domain: host,
    address: account.address,
    uri: base,
    version: '1',
    chainId: 1,
    nonce: nonce.body.nonce as string,
    issuedAt: new Date(),
  });
  const signature = await account.signMessage({ message });
  const issued = await call(`${base}/v1/auth/siwe`, { body: { message, signature }, headers });
  expect(issued.status, JSON.stringify(issued.body)).toBe(200);
  return issued.body;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-serve-'));
  dirs.push(dir);
  return dir;
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
});
afterEach(async () => {
  for (const s of [...running]) await s.stop('SIGKILL');
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('latchkey serve with no options', () => {
  it('serves on SQLite with generated keys, signs a wallet in, and stops on SIGTERM with exit 0', async () => {
    const cwd = tempDir();
    const served = await serve(['--port', '0'], { cwd });
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(served.url).not.toMatch(/:0$/);
    const { stdout, stderr } = served.output();
    expect(stdout).toContain(`store: sqlite:${join(cwd, '.latchkey', 'latchkey.db')}`);
    expect(stdout).toContain(`Sign-In with Ethereum for ${new URL(served.url).host}`);
    expect(stderr).toMatch(
      /warning: data keys generated into .*keys\.json \(mode 0600\).*Production should pass its own keys.*LATCHKEY_DATA_KEYS/,
    );

    const keysFile = join(cwd, '.latchkey', 'keys.json');
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(cwd, '.latchkey')).mode & 0o777).toBe(0o700);
    expect(existsSync(join(cwd, '.latchkey', 'latchkey.db'))).toBe(true);

    expect(await call(`${served.url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    const nonce = await call(`${served.url}/v1/auth/nonce`, { body: {} });
    expect(nonce.status).toBe(200);
    expect(nonce.body.nonce).toEqual(expect.any(String));
    expect(nonce.body.expiresAt).toBeGreaterThan(Date.now());

    const issued = await signIn(served.url, privateKeyToAccount(generatePrivateKey()));
    expect(issued.token).toMatch(/^lks_/);
    expect(issued.accessToken).toEqual(expect.any(String)); // local default: EdDSA access tokens
    const me = await call(`${served.url}/v1/session`, { headers: { authorization: `Bearer ${issued.token}` } });
    expect(me.status).toBe(200);

    const stopped = await served.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(5_000);
  });

  it('a request in flight when SIGTERM arrives still gets its answer', async () => {
    const cwd = tempDir();
    const served = await serve(['--port', '0', '--log-level', 'warn'], { cwd });
    const { hostname, port } = new URL(served.url);
    const body = '{}';
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: hostname,
          port,
          path: '/v1/auth/nonce',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': String(body.length), connection: 'close' },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 1)); // headers and half the body: the request is in flight
      setTimeout(() => {
        served.child.kill('SIGTERM');
        setTimeout(() => {
          expect(served.child.exitCode).toBeNull(); // still draining, waiting for the rest
          req.end(body.slice(1));
        }, 500);
      }, 300);
    });
    const result = await answered;
    expect(result.status).toBe(200);
    expect(JSON.parse(result.text)).toMatchObject({ nonce: expect.any(String) });
    expect((await served.stop()).code).toBe(0);
    // After the drain, nobody is listening.
    await expect(fetch(`${served.url}/healthz`)).rejects.toThrow();
  });
});

describe('restarts, stored apps and the environment', () => {
  it('a second serve reuses the keys: sessions, signing keys and CLI-revoked sessions carry across restarts', async () => {
    const cwd = tempDir();
    const wallet = privateKeyToAccount(generatePrivateKey());
    const first = await serve(['--port', '0'], { cwd });
    const issued = await signIn(first.url, wallet);
    const jwks = await call(`${first.url}/.well-known/jwks.json`);
    const keys = readFileSync(join(cwd, '.latchkey', 'keys.json'), 'utf8');
    expect((await first.stop()).code).toBe(0);

    const second = await serve(['--port', '0'], { cwd });
    expect(second.output().stderr).toMatch(/warning: data keys read from .*keys\.json/);
    expect(readFileSync(join(cwd, '.latchkey', 'keys.json'), 'utf8')).toBe(keys);
    const auth = { authorization: `Bearer ${issued.token as string}` };
    const me = await call(`${second.url}/v1/session`, { headers: auth });
    expect(me.status).toBe(200);
    expect((me.body.session as { account: string }).account).toBe(`eip155:1:${wallet.address}`);
    // The signing key was stored sealed with the data keys: still readable, so the same key is published.
    const again = await call(`${second.url}/.well-known/jwks.json`);
    expect((again.body.keys as { kid: string }[]).map((k) => k.kid)).toEqual(
      (jwks.body.keys as { kid: string }[]).map((k) => k.kid),
    );

    // The CLI works on the same file while the server runs.
    const listed = await cli(['sessions', 'list', '--wallet', `eip155:1:${wallet.address}`, '--json'], { cwd });
    const sessions = JSON.parse(listed.stdout).sessions as { id: string }[];
    expect(sessions).toHaveLength(1);
    expect((await cli(['sessions', 'revoke', '--id', sessions[0]!.id], { cwd })).code).toBe(0);
    expect((await call(`${second.url}/v1/session`, { headers: auth })).status).toBe(401);
    expect((await second.stop()).code).toBe(0);
  });

  it('apps create, then serve: the server knows the app and its API key works on introspection', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(cwd, 'shop.json'),
      JSON.stringify({
        signIn: { domain: `127.0.0.1:${port}`, origin, chainIds: [1] },
        roles: { buyer: ['read:orders'] },
        defaultRoles: ['buyer'],
      }),
    );
    const created = await cli(['apps', 'create', '--id', 'shop', '--settings', 'shop.json', '--json'], { cwd });
    expect(created.code).toBe(0);
    const apiKey = (JSON.parse(created.stdout) as { apiKey: { key: string } }).apiKey.key;

    const served = await serve(['--port', String(port), '--log-level', 'warn'], { cwd });
    expect(served.url).toBe(origin);
    expect(served.output().stdout).toContain('apps: default, shop');
    const wallet = privateKeyToAccount(generatePrivateKey());
    const onShop = await signIn(served.url, wallet, 'shop');
    const onDefault = await signIn(served.url, wallet);
    const introspect = (token: unknown, key = apiKey) =>
      call(`${served.url}/v1/sessions/introspect`, { body: { token }, headers: { authorization: `Bearer ${key}` } });

    const active = await introspect(onShop.token);
    expect(active.status).toBe(200);
    expect(active.body).toMatchObject({ active: true, session: { appId: 'shop', roles: ['buyer'] } });
    expect((await introspect(onDefault.token)).body).toEqual({ active: false }); // another app's session
    expect((await introspect(onShop.token, `${apiKey.slice(0, -2)}xx`)).status).toBe(401);
    expect((await served.stop()).code).toBe(0);
  });

  it('apps create with an HS256 secret, then serve: the server opens the sealed secret and signs with it', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const secret = 'hs256-secret-shared-with-the-orders-api-0123456789';
    writeFileSync(
      join(cwd, 'orders.json'),
      JSON.stringify({
        signIn: { domain: `127.0.0.1:${port}`, origin, chainIds: [1] },
        accessTokens: { algorithm: 'HS256', secret, audience: 'orders' },
      }),
    );
    const created = await cli(['apps', 'create', '--id', 'orders', '--settings', 'orders.json', '--json'], { cwd });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).not.toContain(secret);
    expect(readFileSync(join(cwd, '.latchkey', 'latchkey.db')).includes(secret)).toBe(false);

    const served = await serve(['--port', String(port), '--log-level', 'warn'], { cwd });
    expect(served.output().stdout).toContain('apps: default, orders');
    const issued = await signIn(served.url, privateKeyToAccount(generatePrivateKey()), 'orders');
    const [header, payload, signature] = (issued.accessToken as string).split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'HS256' });
    expect(createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')).toBe(signature);
    const { stdout, stderr } = served.output();
    expect(stdout + stderr).not.toContain(secret);
    expect((await served.stop()).code).toBe(0);
  });

  it('environment variables configure serve, and flags beat them', async () => {
    const cwd = tempDir();
    const served = await serve(['--port', '0'], {
      cwd,
      env: { LATCHKEY_PORT: 'not-a-port', LATCHKEY_STORE: 'sqlite:./data/sessions.db', LATCHKEY_LOG_LEVEL: 'warn' },
    });
    expect(existsSync(join(cwd, 'data', 'sessions.db'))).toBe(true);
    expect(served.output().stdout).not.toContain('"level":30'); // warn: no info lines
    expect((await served.stop()).code).toBe(0);
  });

  it('a config file with its own keys and sign-in: no local keys, no local sign-in', async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'latchkey.json'),
      JSON.stringify({
        store: 'memory',
        defaults: { signIn: { domain: 'app.example', origin: 'https://app.example', chainIds: [1] } },
        dataKeys: { current: 'k1', keys: { k1: randomBytes(32).toString('base64') } },
        server: { rateLimits: { nonce: 2 } },
      }),
    );
    const served = await serve(['--port', '0', '--log-level', 'silent'], { cwd, env: { LATCHKEY_CONFIG: 'latchkey.json' } });
    const { stdout, stderr } = served.output();
    expect(existsSync(join(cwd, '.latchkey'))).toBe(false);
    expect(stderr).not.toContain('warning');
    expect(stdout).toContain('store: memory');
    expect(stdout).not.toContain('Sign-In with Ethereum for');
    expect(stdout).toContain('EdDSA access tokens (audience');
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(`${served.url}/v1/auth/nonce`, { body: {} })).status);
    expect(statuses).toEqual([200, 200, 429]); // server.rateLimits reached the server
    expect((await served.stop('SIGINT')).code).toBe(0);
  });
});

describe('latchkey serve on Redis', () => {
  const prefix = `lktest-cli-${randomBytes(4).toString('hex')}:`;
  const store = `redis://127.0.0.1:6379/?prefix=${prefix}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });

  afterAll(async () => {
    await redis.connect().catch(() => {});
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('serves, signs in, and the CLI sees the same data under the chosen key prefix', async () => {
    const cwd = tempDir();
    const served = await serve(['--port', '0', '--store', store, '--log-level', 'warn'], { cwd });
    expect(served.output().stdout).toContain(`(key prefix ${prefix})`);
    expect(await call(`${served.url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect((await call(`${served.url}/readyz`)).status).toBe(200);
    const wallet = privateKeyToAccount(generatePrivateKey());
    const issued = await signIn(served.url, wallet);
    const listed = await cli(['sessions', 'list', '--store', store, '--wallet', `eip155:1:${wallet.address}`, '--json'], { cwd });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).sessions).toEqual([expect.objectContaining({ id: (issued.session as { id: string }).id })]);
    await redis.connect();
    expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
    expect((await served.stop()).code).toBe(0);
  });

  it('a Redis that does not answer is a clear failure, exit 1', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const ran = await cli(['stats', '--store', `redis://127.0.0.1:${port}`], { cwd });
    expect(ran.code).toBe(1);
    expect(ran.stderr.trimEnd().split('\n').at(-1)).toMatch(/store cannot answer/);
  });
});
