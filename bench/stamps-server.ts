/**
 * The server half of bench/stamps.bench.ts: the Latchkey server as shipped (`createServer`, logs off)
 * on Redis or SQLite, in its own process. Pre-creates its sessions, each with one read-write session
 * key made the way a client makes one (a credential bundle sealed to a device key, opened here), and
 * prints one JSON line `{ port, sessions: [{ token, keyId, privateKey }] }` once it listens (the
 * private scalar base64url, for the load generator to sign with). Exits on SIGTERM or when stdin closes.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Latchkey, type Store } from '@latchkey/core';
import { generateP256KeyPair, openCredentialBundle, toBase64Url, toHex } from '@latchkey/protocol';
import { RedisStore } from '@latchkey/redis';
import { createServer } from '@latchkey/server';
import { SqliteStore } from '@latchkey/sqlite';
import { createAll, listenFastify, REDIS_URL, walletOf } from './http-target.js';

export interface StampTargetReady {
  port: number;
  sessions: { token: string; keyId: string; privateKey: string }[];
}

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    'key-prefix': { type: 'string' },
    directory: { type: 'string' },
    sessions: { type: 'string' },
  },
});
const { store: kind, 'key-prefix': keyPrefix, directory } = values;
const count = Number(values.sessions);
if ((kind !== 'redis' && kind !== 'sqlite') || keyPrefix === undefined || directory === undefined || !(count > 0)) {
  process.stderr.write('usage: stamps-server.ts --store redis|sqlite --key-prefix PREFIX --directory DIR --sessions N\n');
  process.exit(2);
}

const store: Store =
  kind === 'redis' ? new RedisStore({ url: REDIS_URL, keyPrefix }) : new SqliteStore({ path: join(directory, 'stamps.db') });
// Keys as long as a run can take, so none expires mid-run.
const latchkey = new Latchkey({ store, cleanupIntervalSeconds: 0, defaults: { sessionKeys: { ttlSeconds: 3600 } } });
const issued = await createAll(count, (i) => latchkey.createSession({ account: walletOf(i), authMethod: 'siwe' }));
// Keys a few at a time: sealing and opening a bundle is CPU work, and a starved event loop lets store commands time out.
const sessions: StampTargetReady['sessions'] = new Array(count);
let next = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (next < count) {
      const i = next++;
      const { session, token } = issued[i]!;
      const device = generateP256KeyPair();
      const created = await latchkey.sessionKeys.create({
        session,
        scope: 'read-write',
        targetPublicKey: toHex(device.publicKey),
      });
      const privateKey = await openCredentialBundle(created.credentialBundle!, device.privateKey);
      sessions[i] = { token, keyId: created.sessionKey.id, privateKey: toBase64Url(privateKey) };
    }
  }),
);
const app = await createServer({ latchkey, store, logger: false });
const port = await listenFastify(app);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 5000).unref();
  await app.close();
  latchkey.close();
  await store.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();

const ready: StampTargetReady = { port, sessions };
process.stdout.write(`${JSON.stringify(ready)}\n`);
