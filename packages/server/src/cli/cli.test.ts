// End to end: the BUILT CLI (dist/cli/main.js, from `npm run build`) as a child process, in a temp dir.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Latchkey } from '@latchkey/core';
import { openSqliteStore } from '@latchkey/sqlite';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const WALLET = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const WALLET_EIP55 = 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('LATCHKEY_')) delete env[name];
  return { ...env, ...extra };
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
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
const transcript: string[] = [];
async function inDir(args: string[], env?: Record<string, string>): Promise<Ran> {
  const ran = await cli(args, env ? { cwd: dir, env } : { cwd: dir });
  transcript.push(ran.stdout, ran.stderr);
  return ran;
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
  dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COMMAND_PATHS = [
  ['serve'],
  ['apps', 'create'],
  ['apps', 'list'],
  ['api-keys', 'create'],
  ['api-keys', 'list'],
  ['api-keys', 'revoke'],
  ['keys', 'rotate'],
  ['sessions', 'list'],
  ['sessions', 'revoke'],
  ['stats'],
  ['audit', 'verify'],
];

describe('help', () => {
  it.each(COMMAND_PATHS)('latchkey %s %s --help', async (...path) => {
    const ran = await inDir([...path.filter(Boolean), '--help']);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain(`Usage: latchkey ${path.filter(Boolean).join(' ')}`);
    expect(ran.stdout).toMatch(/--help/);
    expect(ran.stderr).toBe('');
  });

  it('the top level and each group list their commands; no command at all is a usage error', async () => {
    const top = await inDir(['--help']);
    expect(top.code).toBe(0);
    for (const path of COMMAND_PATHS) expect(top.stdout).toContain(path.join(' '));
    const group = await inDir(['sessions', '--help']);
    expect(group.code).toBe(0);
    expect(group.stdout).toContain('sessions list');
    expect(group.stdout).toContain('sessions revoke');
    const none = await inDir([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: latchkey <command>');
  });

  it('help names the environment variables', async () => {
    const ran = await inDir(['serve', '--help']);
    for (const name of ['LATCHKEY_PORT', 'LATCHKEY_HOST', 'LATCHKEY_STORE', 'LATCHKEY_CONFIG', 'LATCHKEY_DATA_KEYS']) {
      expect(ran.stdout).toContain(name);
    }
  });

  it('--help wins over a wrong flag, and nothing is created', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'latchkey-cli-help-'));
    const ran = await cli(['stats', '--bogus', '--help'], { cwd: fresh });
    expect(ran.code).toBe(0);
    expect(existsSync(join(fresh, '.latchkey'))).toBe(false);
    rmSync(fresh, { recursive: true, force: true });
  });
});

describe('usage mistakes: one line on stderr naming the flag, exit 2', () => {
  beforeAll(() => {
    writeFileSync(join(dir, 'bad-settings.json'), JSON.stringify({ idleTimeoutSeconds: -5 }));
    writeFileSync(join(dir, 'not-json.json'), '{ nope');
    writeFileSync(join(dir, 'bad-config.json'), JSON.stringify({ defaults: { signIn: { domain: 'x.example', origin: 'x' } } }));
  });

  const cases: [string[], string, Record<string, string>?][] = [
    [['serve', '--bogus'], '--bogus'],
    [['serve', '--port', 'abc'], '--port'],
    [['serve', '--port', '70000'], '--port'],
    [['serve', '--port'], '--port'],
    [['serve', '--json'], '--json'],
    [['serve', '--store', 'ftp://somewhere'], '--store'],
    [['serve', '--log-level', 'loud'], '--log-level'],
    [['serve', '--config', 'missing.json'], '--config'],
    [['serve', '--config', 'bad-config.json'], 'defaults.signIn.origin'],
    [['serve', '--config', 'not-json.json'], 'not valid JSON'],
    [['serve'], 'LATCHKEY_PORT', { LATCHKEY_PORT: 'eighty' }],
    [['serve'], 'LATCHKEY_STORE', { LATCHKEY_STORE: 'mongodb://x' }],
    [['stats'], 'LATCHKEY_DATA_KEYS', { LATCHKEY_DATA_KEYS: 'k1=abc' }],
    [['stats', 'extra'], '"extra"'],
    [['stats', '--app', 'nope'], '--app'],
    [['stats', '-x'], '-x'],
    [['frobnicate'], '"frobnicate"'],
    [['--port', '1'], '--port'],
    [['apps', 'frob'], '"frob"'],
    [['apps', 'create'], '--id'],
    [['apps', 'create', '--id', 'Bad!'], '--id'],
    [['apps', 'create', '--id', 'default'], '--id'],
    [['apps', 'create', '--id', 'shop', '--settings', 'missing.json'], '--settings'],
    [['apps', 'create', '--id', 'shop', '--settings', 'not-json.json'], '--settings'],
    [['apps', 'create', '--id', 'shop', '--settings', 'bad-settings.json'], 'idleTimeoutSeconds'],
    [['sessions', 'list'], '--wallet'],
    [['sessions', 'list', '--wallet', '0xd8da6bf26964af9d7eed9e03e53415d37aa96045'], '--wallet'],
    [['sessions', 'revoke'], '--id/--wallet'],
    [['sessions', 'revoke', '--id', 'abc', '--wallet', WALLET], '--id/--wallet'],
    [['sessions', 'revoke', '--id', 'abc'], '--id'],
    [['keys', 'rotate', '--app', 'Nope'], '--app'],
    [['api-keys', 'revoke'], '--id'],
    [['api-keys', 'create', '--name', 'caf\u00e9'], '--name'],
  ];

  it.each(cases)('latchkey %j names %s', async (args, named, env) => {
    const ran = await inDir(args, env);
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe('');
    const lines = ran.stderr.trimEnd().split('\n');
    const errorLine = lines.at(-1)!;
    expect(errorLine).toMatch(/^latchkey[a-z -]*: /);
    expect(errorLine).toContain(named);
    // Anything before it is a warning (e.g. keys generated on first use), never a stack trace.
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^warning: /);
  });
});

describe('operator commands on the SQLite store', () => {
  const HS256_SECRET = 'hs256-shared-secret-for-the-orders-api-0123456789';
  const issued: string[] = [];
  let sessionIds: string[] = [];
  let dataKey = '';

  beforeAll(async () => {
    // Any command creates the store and the keys on first use; then sessions are made through the engine.
    expect((await inDir(['stats'])).code).toBe(0);
    dataKey = Object.values(
      JSON.parse(readFileSync(join(dir, '.latchkey', 'keys.json'), 'utf8')).keys as Record<string, string>,
    )[0]!;
    const store = openSqliteStore({ path: join(dir, '.latchkey', 'latchkey.db') });
    const latchkey = new Latchkey({ store, cleanupIntervalSeconds: 0 });
    for (const ip of ['10.0.0.1', '10.0.0.2']) {
      const s = await latchkey.createSession({ account: WALLET, authMethod: 'siwe', device: { ip, userAgent: 'test-agent' } });
      issued.push(s.token, s.refreshToken);
      sessionIds.push(s.session.id);
    }
    latchkey.close();
    await store.close();
  });

  it('sessions list shows ids, devices and times, never tokens', async () => {
    const human = await inDir(['sessions', 'list', '--wallet', WALLET]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`2 live sessions of ${WALLET_EIP55} in app "default"`);
    for (const id of sessionIds) expect(human.stdout).toContain(id);
    expect(human.stdout).toContain('10.0.0.2 test-agent');
    const machine = await inDir(['sessions', 'list', '--wallet', WALLET, '--json']);
    const body = JSON.parse(machine.stdout) as { sessions: { id: string; account: string }[] };
    expect(body.sessions.map((s) => s.id)).toEqual(sessionIds);
    expect(body.sessions[0]!.account).toBe(WALLET_EIP55);
  });

  it('sessions revoke by id, then by wallet', async () => {
    const one = await inDir(['sessions', 'revoke', '--id', sessionIds[0]!, '--json']);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ revoked: 1 });
    const again = await inDir(['sessions', 'revoke', '--id', sessionIds[0]!]);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('No session');
    const all = await inDir(['sessions', 'revoke', '--wallet', WALLET]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('Revoked 1 session of');
    const left = await inDir(['sessions', 'list', '--wallet', WALLET, '--json']);
    expect(JSON.parse(left.stdout).sessions).toEqual([]);
    sessionIds = [];
  });

  it('stats counts what happened', async () => {
    const machine = await inDir(['stats', '--json']);
    expect(machine.code).toBe(0);
    expect(JSON.parse(machine.stdout)).toMatchObject({ appId: 'default', active: 0, counters: { created: 2, revoked: 2 } });
    const human = await inDir(['stats']);
    expect(human.stdout).toMatch(/live sessions +0/);
  });

  it('audit verify passes, and fails with exit 1 once an entry is edited', async () => {
    const ok = await inDir(['audit', 'verify', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ app: 'default', valid: true });
    expect(JSON.parse(ok.stdout).entries).toBeGreaterThanOrEqual(4);
    const db = new Database(join(dir, '.latchkey', 'latchkey.db'));
    db.prepare('UPDATE audit SET details = \'{"reason":"edited"}\' WHERE app_id = \'default\' AND seq = 2').run();
    db.close();
    const broken = await inDir(['audit', 'verify']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('BROKEN at seq 2');
  });

  it('keys rotate publishes a new signing key each time', async () => {
    const first = await inDir(['keys', 'rotate', '--json']);
    expect(first.code).toBe(0);
    const second = await inDir(['keys', 'rotate', '--json']);
    const a = JSON.parse(first.stdout) as { kid: string; activatesAt: number };
    const b = JSON.parse(second.stdout) as { kid: string };
    expect(a.kid).not.toBe(b.kid);
    expect(a.activatesAt).toBeGreaterThan(Date.now() - 60_000);
    expect((await inDir(['keys', 'rotate'])).stdout).toMatch(/^New signing key \S+ for app "default": published now/);
  });

  it('apps create stores the app and prints its API key once; apps list and api-keys see it', async () => {
    writeFileSync(join(dir, 'shop.json'), JSON.stringify({ maxSessionsPerWallet: 3, roles: { buyer: ['read:orders'] } }));
    const created = await inDir(['apps', 'create', '--id', 'shop', '--settings', 'shop.json']);
    expect(created.code).toBe(0);
    const key = /(lka_[0-9a-f]{16}\.[1-9A-HJ-NP-Za-km-z]+)/.exec(created.stdout)?.[1];
    expect(key).toBeDefined();
    expect(created.stdout).toContain('shown only this once');
    expect((await inDir(['apps', 'create', '--id', 'shop'])).code).toBe(2);

    const apps = JSON.parse((await inDir(['apps', 'list', '--json'])).stdout) as { apps: { id: string; source: string }[] };
    expect(apps.apps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'default', source: 'config' }),
        expect.objectContaining({ id: 'shop', source: 'store' }),
      ]),
    );
    expect((await inDir(['stats', '--app', 'shop'])).code).toBe(0);
    expect((await inDir(['keys', 'rotate', '--app', 'shop'])).code).toBe(2); // no accessTokens on shop

    const more = await inDir(['api-keys', 'create', '--app', 'shop', '--name', 'ci', '--json']);
    const second = JSON.parse(more.stdout).apiKey as { id: string; key: string };
    const listed = await inDir(['api-keys', 'list', '--app', 'shop']);
    expect(listed.stdout).toContain(second.id);
    expect(listed.stdout).toContain('ci');
    expect(listed.stdout).not.toContain(second.key);
    expect(listed.stdout).not.toContain(key!.split('.')[1]);
    const revoked = await inDir(['api-keys', 'revoke', '--app', 'shop', '--id', second.id]);
    expect(revoked.code).toBe(0);
    expect((await inDir(['api-keys', 'list', '--app', 'shop', '--json'])).stdout).not.toContain(second.id);
  });

  it('apps create seals an HS256 secret in the store and never prints it, and the app still loads with it', async () => {
    const secret = HS256_SECRET;
    writeFileSync(join(dir, 'orders.json'), JSON.stringify({ accessTokens: { algorithm: 'HS256', secret, audience: 'orders' } }));
    const created = await inDir(['apps', 'create', '--id', 'orders', '--settings', 'orders.json', '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).not.toContain(secret);
    expect(JSON.parse(created.stdout).settings).toEqual({
      accessTokens: { algorithm: 'HS256', secret: '[Redacted]', audience: 'orders' },
    });
    const human = await inDir(['apps', 'create', '--id', 'orders2', '--settings', 'orders.json']);
    expect(human.code).toBe(0);
    expect(human.stdout).not.toContain(secret);

    const store = openSqliteStore({ path: join(dir, '.latchkey', 'latchkey.db') });
    const stored = await store.listEntries('_system', 'apps', Date.now());
    await store.close();
    const entry = stored.find((e) => e.key === 'orders');
    expect(entry).toBeDefined();
    expect(entry!.value).not.toContain(secret);
    expect(JSON.parse(entry!.value).accessTokens).toMatchObject({ algorithm: 'HS256', audience: 'orders' });

    // Every command opens it with the data keys: the app is there, with HS256.
    const listed = JSON.parse((await inDir(['apps', 'list', '--json'])).stdout) as {
      apps: { id: string; accessTokens: { algorithm: string } | null }[];
    };
    expect(listed.apps.find((a) => a.id === 'orders')).toMatchObject({ accessTokens: { algorithm: 'HS256' } });
    expect(JSON.stringify(listed)).not.toContain(secret);
  });

  it('no output of any command held a session token, a refresh token or a data key', () => {
    const all = transcript.join('\n');
    expect(issued.length).toBe(4);
    for (const secret of [...issued, dataKey]) expect(all).not.toContain(secret);
    expect(all).not.toContain(HS256_SECRET);
  });
});
