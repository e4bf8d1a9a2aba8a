import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { AuditEntry } from '@latchkey/core';
import { describeStoreConformance, type StoreHarness } from '@latchkey/core/conformance';
import { Cluster } from 'ioredis';
import { it } from 'vitest';
import { RedisStore } from './index.js';
import { KeyLayout } from './keys.js';

/**
 * The conformance suite on Redis Cluster: a separate, opt-in suite (it needs a cluster). Run with
 * `LATCHKEY_REDIS_CLUSTER=127.0.0.1:7101,127.0.0.1:7102 npx vitest run packages/redis/src/store.cluster.test.ts`
 * (the README shows how to start a three-node cluster on loopback). Cross-slot mistakes fail
 * here as CROSSSLOT errors, which a single Redis never raises.
 */
const nodes = (process.env.LATCHKEY_REDIS_CLUSTER ?? '')
  .split(',')
  .filter(Boolean)
  .map((hostPort) => {
    const [host = '', port = ''] = hostPort.split(':');
    if (!['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Error(`LATCHKEY_REDIS_CLUSTER: ${host} is not loopback`);
    return { host, port: Number(port) };
  });

if (nodes.length === 0) console.info('@latchkey/redis: LATCHKEY_REDIS_CLUSTER is not set; the Redis Cluster suite does not run.');

const COMMAND_TIMEOUT_MS = 1000;
const clients: Cluster[] = [];
const prefixes = new Set<string>();

/** A Cluster client configured the way the README recommends: fail fast rather than queue. */
function cluster(startup = nodes): Cluster {
  const c = new Cluster(startup, {
    enableOfflineQueue: false,
    redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 },
  });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

async function readyCluster(): Promise<Cluster> {
  const c = cluster();
  if (c.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      c.once('ready', resolve);
      c.once('end', reject);
    });
  }
  return c;
}

let admin: Cluster | null = null;

const harness: StoreHarness<RedisStore> = {
  name: 'redis cluster',
  async open() {
    const keyPrefix = `lktest:${randomBytes(6).toString('hex')}:`;
    prefixes.add(keyPrefix);
    return new RedisStore({ client: await readyCluster(), keyPrefix });
  },
  async reopen(store) {
    return new RedisStore({ client: await readyCluster(), keyPrefix: store.keyPrefix });
  },
  async openUnavailable() {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return new RedisStore({ client: cluster([{ host: '127.0.0.1', port }]), keyPrefix: 'lktest:unavailable:' });
  },
  async tamperAudit(store, appId, seq, change) {
    admin ??= await readyCluster();
    const key = new KeyLayout(store.keyPrefix).auditEntries(appId);
    const stored = await admin.hget(key, String(seq));
    if (stored === null) throw new Error(`no audit entry ${seq}`);
    const entry = JSON.parse(stored) as AuditEntry;
    change(entry);
    await admin.hset(key, String(seq), JSON.stringify(entry));
  },
  async deleteAudit(store, appId, seq) {
    admin ??= await readyCluster();
    await admin.hdel(new KeyLayout(store.keyPrefix).auditEntries(appId), String(seq));
  },
  async teardown() {
    admin ??= await readyCluster();
    for (const node of admin.nodes('master')) {
      for (const prefix of prefixes) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          // keys from one node span many slots: delete one by one
          for (const key of keys) await node.unlink(key);
        } while (cursor !== '0');
      }
    }
    for (const c of clients) c.disconnect();
  },
};

if (nodes.length > 0) describeStoreConformance(harness);
else it.skip('store conformance: redis cluster (set LATCHKEY_REDIS_CLUSTER to run it)', () => {});
