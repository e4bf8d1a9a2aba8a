import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signedInClient, testClient } from '../../test-support/clients.js';
import { startServer, type TestServer } from '../../test-support/server.js';
import { generateSessionKeyPair } from '../index.js';
import { FileStorage } from './index.js';

describe('FileStorage', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-client-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes through a fresh, unpredictable temporary file: a symlink planted beside the file is never followed', async () => {
    const path = join(dir, 'state.json');
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'precious');
    // Where a writer with a predictable temporary name (pid-based) would write.
    for (const name of [`${path}.${process.pid}.tmp`, `${path}.tmp`]) await symlink(victim, name);
    const storage = new FileStorage({ path });
    await storage.set('a', { n: 1 });
    await storage.set('a', { n: 2 });
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(path)).isFile()).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await new FileStorage({ path }).get('a')).toEqual({ n: 2 });
    // No temporary file is left behind.
    expect((await readdir(dir)).sort()).toEqual(
      ['state.json', 'victim.txt', `state.json.${process.pid}.tmp`, 'state.json.tmp'].sort(),
    );
  });

  it('writes a 0600 JSON file, keys as JWK, and reads them back as usable keys', async () => {
    const path = join(dir, 'nested', 'state.json');
    const storage = new FileStorage({ path });
    expect(storage.requiresExtractableKeys).toBe(true);
    const pair = await generateSessionKeyPair({ extractable: true });
    await storage.set('a', { n: 1, list: [true, null, 'x'], key: pair.privateKey });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const written = JSON.parse(await readFile(path, 'utf8')) as { a: { key: { $cryptoKey: { jwk: JsonWebKey } } } };
    expect(written.a.key.$cryptoKey.jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(typeof written.a.key.$cryptoKey.jwk.d).toBe('string');

    const again = (await new FileStorage({ path }).get('a')) as { n: number; list: unknown[]; key: CryptoKey };
    expect([again.n, again.list]).toEqual([1, [true, null, 'x']]);
    const message = new TextEncoder().encode('signed');
    const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, again.key, message);
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pair.publicKey, signature, message)).toBe(true);

    await storage.delete('a');
    expect(await storage.get('a')).toBeUndefined();
    expect(await storage.get('never')).toBeUndefined();
  });

  it('refuses a non-extractable key (it cannot be written out) and a file that is not JSON', async () => {
    const path = join(dir, 'state.json');
    const storage = new FileStorage({ path });
    const pair = await generateSessionKeyPair();
    await expect(storage.set('k', { key: pair.privateKey })).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    await writeFile(path, 'not json');
    await expect(storage.get('k')).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
  });

  it('concurrent writes to different keys in one process all land', async () => {
    const storage = new FileStorage({ path: join(dir, 'state.json') });
    await Promise.all(Array.from({ length: 10 }, (_, i) => storage.set(`k${i}`, i)));
    expect(await Promise.all(Array.from({ length: 10 }, (_, i) => storage.get(`k${i}`)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  describe('with a server', () => {
    let server: TestServer;
    afterEach(async () => {
      await server.close();
    });

    it('a server process keeps its custodial session across a restart', async () => {
      server = await startServer();
      const path = join(dir, 'worker.json');
      const first = await signedInClient(server, { storage: new FileStorage({ path }) });
      const { sessionKey } = await first.client.createServerSession({ scope: 'read-write', name: 'worker' });
      first.client.close();

      // "Restart": a new client over the same file signs stamped requests with the stored key.
      const second = testClient(server, { storage: new FileStorage({ path }) }).client;
      await second.ready();
      expect(second.sessionKey()?.id).toBe(sessionKey.id);
      const response = await second.fetch('/v1/session-keys');
      expect(response.status).toBe(200);
      expect(server.seen.at(-1)).toMatchObject({ stamped: true, status: 200 });
    });

    it('registered keys are made extractable for it, so they can be written', async () => {
      server = await startServer();
      const { client } = await signedInClient(server, { storage: new FileStorage({ path: join(dir, 'reg.json') }) });
      const key = await client.createSessionKey({ scope: 'read-only' });
      const reread = testClient(server, { storage: new FileStorage({ path: join(dir, 'reg.json') }) }).client;
      await reread.ready();
      expect(reread.sessionKey()?.id).toBe(key.id);
      expect((await reread.fetch('/v1/session')).status).toBe(200);
    });
  });
});
