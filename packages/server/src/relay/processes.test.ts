// Two `latchkey serve` processes (the BUILT CLI, dist/cli/main.js: `npx tsc -b packages/server` first) on one
// Redis store: a dApp on one and a wallet on the other share a channel through the socket.io Redis adapter.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisAnswers } from '@latchkey/redis';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { b64, connectPeer, join, newChannel, type RelayPeer } from '../../test-support/relay/index.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const REDIS_URL = 'redis://127.0.0.1:6379';
const isRedisAnswering = await redisAnswers(REDIS_URL);
if (!isRedisAnswering && process.env.CI === 'true') {
  throw new Error('Redis does not answer on 127.0.0.1:6379 and CI=true: the two-process relay test must run in CI, not skip.');
}
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -b packages/server)`);

const prefix = `lktest:relay-cli:${randomBytes(6).toString('hex')}:`;
const dirs: string[] = [];
const children = new Set<ChildProcessWithoutNullStreams>();
const peers = new Set<RelayPeer>();

afterAll(async () => {
  for (const p of peers) p.close();
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (!isRedisAnswering) return;
  const admin = new Redis(REDIS_URL);
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

interface Node {
  url: string;
  stdout: () => string;
  stop(): Promise<number | null>;
}

/** `latchkey serve` on a free port with the Redis store (and so the relay on Redis), in a directory of its own. */
function serveNode(): Promise<Node> {
  const cwd = mkdtempSync(joinPath(tmpdir(), 'latchkey-relay-node-'));
  dirs.push(cwd);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LATCHKEY_')));
  const args = [MAIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--store', `${REDIS_URL}/?prefix=${prefix}`];
  const child = spawn(process.execPath, [...args, '--log-level', 'warn'], { cwd, env });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stdout}\n${stderr}`)), 15_000);
    child.on('exit', (code) => reject(new Error(`serve exited (${code}):\n${stdout}\n${stderr}`)));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      const url = /Latchkey listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (!url || !stdout.includes('try: curl')) return;
      clearTimeout(timer);
      resolve({
        url,
        stdout: () => stdout,
        async stop() {
          child.kill('SIGTERM');
          const code = await exited;
          children.delete(child);
          return code;
        },
      });
    });
  });
}

async function peer(url: string): Promise<RelayPeer> {
  const p = await connectPeer(url);
  peers.add(p);
  return p;
}

describe.skipIf(!isRedisAnswering)('relay across two server processes on Redis', () => {
  it('a dApp on A and a wallet on B: connected_uuid, requests and responses both ways, and rejoins on the other node', async () => {
    const [a, b] = await Promise.all([serveNode(), serveNode()]);
    expect(a.stdout()).toContain(
      `relay: socket.io at ${a.url}/v1/relay, namespace /connect; channels in redis://127.0.0.1:6379/`,
    );
    expect(a.stdout()).toContain(`(key prefix ${prefix}), shared by every node on it`);
    const { uuid, dappKey, walletKey } = newChannel();
    const dapp = await peer(a.url);
    const wallet = await peer(b.url);
    expect((await join(dapp, { uuid, role: 'dapp', rejoinKey: dappKey })).channel?.peerConnected).toBe(false);
    expect((await join(wallet, { uuid, role: 'wallet', rejoinKey: walletKey })).channel?.peerConnected).toBe(true);
    expect(await dapp.next('peer_joined')).toEqual({ role: 'wallet' });

    const hello = { uuid, publicKey: b64(65), nonce: b64(12), data: b64(500) };
    expect(await wallet.ask('connected_uuid', hello)).toEqual({ ok: true, seq: 1 });
    expect(await dapp.next('connected_uuid')).toEqual({ ...hello, seq: 1 });
    for (let i = 1; i <= 3; i++) {
      const request = { uuid, nonce: b64(12), data: b64(1024) };
      expect(await dapp.ask('request', request)).toEqual({ ok: true, seq: i });
      expect(await wallet.next('request')).toEqual({ ...request, seq: i });
      const response = { uuid, nonce: b64(12), data: b64(256) };
      expect(await wallet.ask('response', response)).toEqual({ ok: true, seq: i + 1 });
      expect(await dapp.next('response')).toEqual({ ...response, seq: i + 1 });
    }

    // The wallet drops from B and comes back on A: what the dApp sent meanwhile waits for it.
    wallet.close();
    expect(await dapp.next('peer_left')).toEqual({ role: 'wallet' });
    const away = { uuid, nonce: b64(12), data: b64(700) };
    expect(await dapp.ask('request', away)).toEqual({ ok: true, seq: 4, buffered: true });
    const walletOnA = await peer(a.url);
    expect((await join(walletOnA, { uuid, role: 'wallet', rejoinKey: walletKey, lastSeq: 3 })).missed).toEqual([
      { event: 'request', ...away, seq: 4 },
    ]);

    // The dApp drops from A and comes back on B: the wallet's answer waits for it there.
    dapp.close();
    expect(await walletOnA.next('peer_left')).toEqual({ role: 'dapp' });
    const answer = { uuid, nonce: b64(12), data: b64(300) };
    expect(await walletOnA.ask('response', answer)).toEqual({ ok: true, seq: 5, buffered: true });
    const dappOnB = await peer(b.url);
    expect((await join(dappOnB, { uuid, role: 'dapp', rejoinKey: dappKey, lastSeq: 4 })).missed).toEqual([
      { event: 'response', ...answer, seq: 5 },
    ]);
    const live = { uuid, nonce: b64(12), data: b64(64) };
    expect(await dappOnB.ask('request', live)).toEqual({ ok: true, seq: 5 });
    expect(await walletOnA.next('request')).toEqual({ ...live, seq: 5 });

    // SIGTERM with relay connections open: both stop cleanly, and the peers are told.
    const [codeA, codeB] = await Promise.all([a.stop(), b.stop()]);
    expect([codeA, codeB]).toEqual([0, 0]);
    await Promise.all([walletOnA.closed(), dappOnB.closed()]);
  }, 40_000);
});
