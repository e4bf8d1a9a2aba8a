/** Targets 1 and 2 of bench/http.bench.ts: the Latchkey server as shipped, on Redis and on SQLite. */
import { join } from 'node:path';
import { Latchkey, type Store } from '@latchkey/core';
import { RedisStore } from '@latchkey/redis';
import { createServer } from '@latchkey/server';
import { SqliteStore } from '@latchkey/sqlite';
import { createAll, listenFastify, REDIS_URL, type RunningTarget, type TargetContext, walletOf } from './http-target.js';

/** The Latchkey server as shipped (`createServer`), logs off, sessions created with the engine. */
async function latchkeyServer(store: Store, context: TargetContext): Promise<RunningTarget> {
  const latchkey = new Latchkey({ store, cleanupIntervalSeconds: 0 });
  const issued = await createAll(context.sessions, (i) => latchkey.createSession({ account: walletOf(i), authMethod: 'siwe' }));
  const app = await createServer({ latchkey, store, logger: false });
  const port = await listenFastify(app);
  return {
    port,
    credentialHeader: 'authorization',
    credentials: issued.map(({ token }) => `Bearer ${token}`),
    close: async () => {
      await app.close();
      latchkey.close();
      await store.close();
    },
  };
}

export const latchkeyOnRedis = (context: TargetContext): Promise<RunningTarget> =>
  latchkeyServer(new RedisStore({ url: REDIS_URL, keyPrefix: context.keyPrefix }), context);

export const latchkeyOnSqlite = (context: TargetContext): Promise<RunningTarget> =>
  latchkeyServer(new SqliteStore({ path: join(context.directory, 'latchkey.db') }), context);
