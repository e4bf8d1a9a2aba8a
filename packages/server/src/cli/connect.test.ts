// End to end: `latchkey connect` (the dApp) and `latchkey wallet connect` (the wallet) from the BUILT CLI
// (dist/cli/main.js: `npx tsc -b packages/server`), meeting on a spawned `latchkey serve`'s relay.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectDapp, type ConnectError, type ConnectSession } from '@latchkey/client/connect';
import { type Hex, parseTransaction, toHex, verifyMessage } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const hasPython = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

/** Runs argv[1:] on a new pseudo-terminal; relays our stdin to it as keystrokes and its screen to our stdout. */
const PTY_RELAY = `
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
inputs = [fd, 0]
while True:
    ready, _, _ = select.select(inputs, [], [])
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(fd, data)
        else:
            inputs.remove(0)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

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

/** Resolves once `condition()` holds (rejects after `ms`). */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A dApp on the test server's relay with a fresh channel; `connected` resolves when a wallet connects. */
async function sdkDapp(): Promise<{ dapp: ConnectDapp; uri: string; connected: Promise<ConnectSession> }> {
  const dapp = new ConnectDapp({ relay: url });
  const connected = new Promise<ConnectSession>((resolve) => dapp.once('session_connected', resolve));
  const { uri } = await dapp.createChannel();
  return { dapp, uri, connected };
}

/** A transaction whose long `data` comes first, so a prefix of its JSON shows neither `to` nor `value`. */
const LONG_DATA_TX = {
  data: `0x${'ab'.repeat(200)}`,
  to: '0x000000000000000000000000000000000000dEaD',
  value: '0xde0b6b3a7640000',
  gas: '0x5208',
  maxFeePerGas: '0x1',
  maxPriorityFeePerGas: '0x1',
  nonce: '0x0',
  type: '0x2',
};

/** Controls other than a newline (C0, DEL, C1) and format characters (bidi overrides, isolates, marks): none may reach the terminal as they are. */
const DECEPTIVE = /[^\P{Cc}\n]|\p{Cf}/u;

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

  it('asks one question at a time: one "y" approves exactly one of two requests sent together', async () => {
    const secret = generatePrivateKey();
    const address = privateKeyToAccount(secret).address;
    const key = keyFile('one-y.key', secret, 0o600);
    const { dapp, uri, connected } = await sdkDapp();
    const questions: { question: string; answer: (line: string) => void }[] = [];
    let open = 0;
    let mostOpen = 0;
    let out = '';
    const walletRun = runCli(['wallet', 'connect', uri, '--key-file', key, '--timeout', '30'], {
      cwd: dir,
      env: {},
      out: (text) => {
        out += text;
      },
      err: () => {},
      ask: (question) => {
        open += 1;
        mostOpen = Math.max(mostOpen, open);
        return new Promise((resolve) =>
          questions.push({
            question,
            answer: (line) => {
              open -= 1;
              resolve(line);
            },
          }),
        );
      },
    });
    await connected;
    const message = dapp.request('personal_sign', [toHex('one'), address]);
    const transaction = dapp.request('eth_signTransaction', [LONG_DATA_TX]).catch((e: ConnectError) => e);
    await until(() => questions.length >= 1, 'the first question');
    await pause(400); // both requests are at the wallet by now
    expect(questions).toHaveLength(1);
    questions[0]!.answer('y\n');
    const signature = (await message) as Hex;
    expect(await verifyMessage({ address, message: 'one', signature })).toBe(true);
    await until(() => questions.length >= 2, 'the second question');
    expect(out.match(/^Signed:/gm)).toHaveLength(1); // the "y" approved the message only
    questions[1]!.answer('n\n');
    expect(await transaction).toMatchObject({ code: 'CONNECT_REQUEST_REJECTED' });
    expect(mostOpen).toBe(1);
    await dapp.disconnect();
    expect(await walletRun).toBe(0);
    expect(out.match(/^Signed:/gm)).toHaveLength(1);
  });

  it.skipIf(!hasPython)(
    'on a real terminal, one typed "y" approves one request; the next is asked after it; typed-ahead keys are no answer',
    async () => {
      const secret = generatePrivateKey();
      const address = privateKeyToAccount(secret).address;
      const key = keyFile('pty.key', secret, 0o600);
      const { dapp, uri, connected } = await sdkDapp();
      // python3's pty module gives the CLI a terminal (stdin.isTTY), relaying our writes as keystrokes.
      const terminal = spawn('python3', ['-c', PTY_RELAY, process.execPath, MAIN, 'wallet', 'connect', uri, '--key-file', key], {
        cwd: dir,
        env: cleanEnv(),
      });
      children.add(terminal);
      let screen = '';
      terminal.stdout.on('data', (d: Buffer) => {
        screen += d;
      });
      const exited = new Promise<number | null>((resolve) => terminal.on('exit', resolve));
      const prompts = (): number => screen.split('[y/N]').length - 1;
      await connected;
      terminal.stdin.write('y\ry'); // typed ahead, before anything is asked: neither a line nor a partial one counts
      await pause(300);
      const message = dapp.request('personal_sign', [toHex('typed once'), address]);
      const transaction = dapp.request('eth_signTransaction', [LONG_DATA_TX]).catch((e: ConnectError) => e);
      await until(() => prompts() >= 1, `a prompt on the terminal:\n${screen}`);
      await pause(500);
      expect(prompts()).toBe(1);
      expect(screen).not.toMatch(/Signed:/);
      terminal.stdin.write('y\r');
      const signature = (await message) as Hex;
      expect(await verifyMessage({ address, message: 'typed once', signature })).toBe(true);
      await until(() => prompts() >= 2, 'the second prompt');
      expect(screen.match(/Signed:/g)).toHaveLength(1);
      terminal.stdin.write('n\r');
      expect(await transaction).toMatchObject({ code: 'CONNECT_REQUEST_REJECTED' });
      await dapp.disconnect();
      expect(await exited).toBe(0);
      expect(screen.match(/Signed:/g)).toHaveLength(1);
    },
  );

  it('shows what will be signed: to, value and chainId before long data; the typed-data domain first; text escaped', async () => {
    const secret = generatePrivateKey();
    const address = privateKeyToAccount(secret).address;
    const key = keyFile('shown.key', secret, 0o600);
    const { dapp, uri, connected } = await sdkDapp();
    let out = '';
    let err = '';
    const walletRun = runCli(['wallet', 'connect', uri, '--key-file', key, '--approve-all', '--timeout', '30'], {
      cwd: dir,
      env: {},
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
    });
    await connected;

    const raw = (await dapp.request('eth_signTransaction', [LONG_DATA_TX])) as Hex;
    expect(parseTransaction(raw)).toMatchObject({ to: LONG_DATA_TX.to.toLowerCase(), value: 10n ** 18n, chainId: 1 });
    const shownTx = out.slice(out.indexOf('Request: eth_signTransaction'));
    const lines = shownTx.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      'Request: eth_signTransaction',
      '  to: 0x000000000000000000000000000000000000dEaD',
      '  value: 1000000000000000000 wei (1 ether)',
      '  chainId: 1',
    ]);
    expect(lines[4]).toBe(`  data: 200 bytes, 0x${'ab'.repeat(68)}…`);
    expect(shownTx).toContain('  gas: 21000\n');
    expect(shownTx).toContain('  nonce: 0\n');

    await dapp.request('personal_sign', ['Pay \u202Edcba\u202C to Bob\u0007\u009b', address]);
    expect(out).toContain('Request: personal_sign of "Pay \\u{202E}dcba\\u{202C} to Bob\\u{7}\\u{9B}"');

    const typedData = {
      types: { Mail: [{ name: 'contents', type: 'string' }] },
      primaryType: 'Mail',
      message: { contents: 'hi \u2066there\u2069' },
      domain: {
        verifyingContract: '0xcccccccccccccccccccccccccccccccccccccccc',
        chainId: 1,
        name: 'Latch\u200Fkey',
      },
    };
    await dapp.request('eth_signTypedData_v4', [address, typedData]);
    const shownTyped = out.slice(out.indexOf('Request: eth_signTypedData_v4')).split('\n');
    expect(shownTyped.slice(0, 6)).toEqual([
      'Request: eth_signTypedData_v4',
      '  domain.name: "Latch\\u{200F}key"',
      '  domain.chainId: 1',
      '  domain.verifyingContract: 0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC',
      '  primaryType: "Mail"',
      '  message: {"contents":"hi \\u{2066}there\\u{2069}"}',
    ]);

    const ambiguous = await dapp.request('eth_signTransaction', [{ ...LONG_DATA_TX, input: '0x' }]).catch((e: ConnectError) => e);
    expect(ambiguous).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(out.match(/^Request: eth_signTransaction$/gm)).toHaveLength(1); // never shown, never signed
    expect(err).toMatch(/refused a request: VALIDATION_FAILED: params\[0\]\.input/);

    await dapp.disconnect();
    expect(await walletRun).toBe(0);
    expect(out).not.toMatch(DECEPTIVE);
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
