// End to end: `latchkey connect` (the dApp) and `latchkey wallet connect` (the wallet) from the BUILT CLI
// (dist/cli/main.js: `npx tsc -b packages/server`), meeting on a spawned `latchkey serve`'s relay.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Hex, verifyMessage } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** A CLI child process: its output so far, a wait for a line, and its exit. */
interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (rejects after `ms`). */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('LATCHKEY_')) delete env[name];
  return env;
}

const children = new Set<ChildProcessWithoutNullStreams>();

function run(args: string[]): Running {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: dir, env: cleanEnv() });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const wakers = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    for (const wake of [...wakers]) wake();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (pattern, ms = 15_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(stdout);
          if (!match) return;
          wakers.delete(check);
          clearTimeout(timer);
          resolve(match);
        };
        const timer = setTimeout(() => {
          wakers.delete(check);
          reject(new Error(`no ${pattern} within ${ms} ms:\n${stdout}\n${stderr}`));
        }, ms);
        wakers.add(check);
        check();
      }),
  };
}

let dir: string;
let server: Running;
let url: string;

function keyFile(name: string, content: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-connect-cli-'));
  server = run(['serve', '--port', '0', '--store', 'memory', '--log-level', 'silent']);
  url = (await server.waitFor(/Latchkey listening on (http:\/\/\S+)/))[1]!;
  keyFile('wallet.key', `${generatePrivateKey()}\n`, 0o600);
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('latchkey connect and latchkey wallet connect', () => {
  it('connect a CLI wallet to the CLI dApp: address, a session from --exchange, and a signature viem verifies', async () => {
    const secret = generatePrivateKey();
    const wallet = privateKeyToAccount(secret);
    const key = keyFile('owner.key', secret.slice(2), 0o600);
    const dapp = run(['connect', '--server', url, '--exchange', '--sign', 'hello from the CLI']);
    const uri = (await dapp.waitFor(/^URI: (latchkey:connect\?\S+)$/m))[1]!;
    expect(dapp.stdout()).toMatch(/[█▀▄]/); // the QR code, drawn in the terminal
    const walletCli = run(['wallet', 'connect', uri, '--key-file', key, '--approve-all']);

    expect(await dapp.exited, dapp.stderr()).toBe(0);
    expect(await walletCli.exited, walletCli.stderr()).toBe(0);
    const out = dapp.stdout();
    expect(out).toContain(`Address: ${wallet.address}`);
    expect(out).toMatch(/^Session token: yes, expires /m);
    const signature = /^Signature: (0x[0-9a-f]{130})$/m.exec(out)?.[1] as Hex;
    expect(await verifyMessage({ address: wallet.address, message: 'hello from the CLI', signature })).toBe(true);

    const bearer = /^ {2}bearer token: (lks_\S+)$/m.exec(out)?.[1];
    const current = await fetch(`${url}/v1/session`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(current.status).toBe(200);
    expect(((await current.json()) as { session: { account: string; authMethod: string } }).session).toMatchObject({
      account: `eip155:1:${wallet.address}`,
      authMethod: 'connect',
    });

    const walletOut = walletCli.stdout();
    expect(walletOut).toContain(`as eip155:1:${wallet.address}`);
    expect(walletOut).toContain('Request: personal_sign of "hello from the CLI"');
    expect(walletOut).toContain(`Signed: ${signature}`);
    expect(walletOut).toContain('Disconnected: the dApp disconnected.');
  });

  it('without --approve-all and without a terminal the wallet refuses, and the dApp exits 1 saying so', async () => {
    const dapp = run(['connect', '--server', url, '--sign', 'nope']);
    const uri = (await dapp.waitFor(/^URI: (\S+)$/m))[1]!;
    const walletCli = run(['wallet', 'connect', uri, '--key-file', join(dir, 'wallet.key'), '--timeout', '20']);
    expect(await dapp.exited).toBe(1);
    expect(dapp.stderr()).toMatch(/latchkey connect: CONNECT_REQUEST_REJECTED: /);
    expect(await walletCli.exited).toBe(0);
    expect(walletCli.stderr()).toMatch(/no terminal to ask/);
    expect(walletCli.stdout()).not.toMatch(/^Signed:/m);
  });

  it('asks on the terminal before signing (in process, with a scripted answer)', async () => {
    const secret = generatePrivateKey();
    const key = keyFile('asked.key', secret, 0o600);
    const dapp = run(['connect', '--server', url, '--sign', 'ask me first']);
    const uri = (await dapp.waitFor(/^URI: (\S+)$/m))[1]!;
    const questions: string[] = [];
    let out = '';
    const code = await runCli(['wallet', 'connect', uri, '--key-file', key], {
      cwd: dir,
      env: {},
      out: (text) => {
        out += text;
      },
      err: () => {},
      ask: async (question) => {
        questions.push(question);
        return 'y\n';
      },
    });
    expect(code).toBe(0);
    expect(questions).toEqual([`Sign it as eip155:1:${privateKeyToAccount(secret).address}? [y/N] `]);
    expect(await dapp.exited).toBe(0);
    const signature = /^Signature: (0x[0-9a-f]+)$/m.exec(dapp.stdout())?.[1];
    expect(out).toContain(`Signed: ${signature}`);
  });

  it('refuses a key file others can read, like ssh, and never prints the key', async () => {
    const secret = generatePrivateKey();
    const open = keyFile('open.key', secret, 0o644);
    const uri = `latchkey:connect?v=1&id=${crypto.randomUUID()}&relay=${encodeURIComponent(url)}&pk=${'A'.repeat(42)}Q&exp=${Math.floor(Date.now() / 1000) + 300}`;
    const refused = run(['wallet', 'connect', uri, '--key-file', open]);
    expect(await refused.exited).toBe(2);
    expect(refused.stderr()).toMatch(
      /latchkey wallet connect: --key-file: .*open\.key is accessible by others \(mode 0644\).*chmod 600/,
    );
    expect(refused.stderr()).not.toContain(secret.slice(2));

    const junk = run(['wallet', 'connect', uri, '--key-file', keyFile('junk.key', 'not a key', 0o600)]);
    expect(await junk.exited).toBe(2);
    expect(junk.stderr()).toMatch(/does not hold a hex private key/);
  });

  it('answers usage mistakes with one line and exit 2, and documents every flag', async () => {
    const cases: [string[], RegExp][] = [
      [['wallet', 'connect', '--key-file', 'x'], /URI: required/],
      [['wallet', 'connect', 'https://not-a-connect-uri', '--key-file', 'x'], /URI: CONNECT_URI_INVALID/],
      [['wallet', 'connect', 'a', 'b'], /"b": unexpected argument/],
      [['connect', '--server', 'http://relay.example.com'], /--server: expected the Latchkey server's URL/],
      [['connect', '--timeout', '0'], /--timeout: expected whole seconds/],
      [['connect', 'extra'], /"extra": unexpected argument/],
    ];
    const ran = cases.map(([args]) => run(args));
    const help = run(['connect', '--help']);
    const walletHelp = run(['wallet', 'connect', '--help']);
    for (const [i, [args, message]] of cases.entries()) {
      expect(await ran[i]!.exited, args.join(' ')).toBe(2);
      expect(ran[i]!.stderr()).toMatch(message);
    }
    expect(await help.exited).toBe(0);
    for (const flag of ['--server', '--exchange', '--sign', '--app', '--timeout']) expect(help.stdout()).toContain(flag);
    expect(await walletHelp.exited).toBe(0);
    expect(walletHelp.stdout()).toMatch(/Arguments:\n\s+URI/);
  });

  it('says where no relay answers, with exit 1', async () => {
    const dapp = run(['connect', '--server', 'http://127.0.0.1:9', '--timeout', '2']);
    expect(await dapp.exited).toBe(1);
    expect(dapp.stderr()).toMatch(/RELAY_UNAVAILABLE: .*--server/);
  });
});
