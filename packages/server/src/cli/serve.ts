import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { DATA_KEYS_ENV, openRuntime, type Runtime } from '../config/index.js';
import { engineLogger, serverLogger } from '../http/logging.js';
import { createServer } from '../index.js';
import { type FlagValues, stringFlag } from './args.js';
import type { CliIo } from './output.js';

/** How long in-flight requests may take to finish after SIGTERM before the process gives up (ms). */
const DRAIN_TIMEOUT_MS = 10_000;

function startupLines(runtime: Runtime, url: string): string[] {
  const lines = [
    `Latchkey listening on ${url}`,
    `  store: ${runtime.storeLabel}`,
    `  apps: ${runtime.latchkey.appIds().join(', ')}`,
  ];
  if (runtime.relayLabel) lines.push(`  relay: socket.io at ${url}/v1/relay, namespace /connect; ${runtime.relayLabel}`);
  const local = runtime.localDefaults;
  if (local.signIn || local.accessTokens || local.connect) {
    const { host, origin } = new URL(url);
    const parts: string[] = [];
    if (local.signIn) parts.push(`Sign-In with Ethereum for ${host} (chain 1)`);
    if (local.accessTokens) parts.push(`EdDSA access tokens (audience ${origin})`);
    if (local.connect) parts.push('QR connect through this relay (latchkey connect)');
    lines.push(
      `  default app: ${parts.join(', ')}: local conveniences to try it at once;`,
      '    for your own domain set "defaults.signIn", "defaults.accessTokens" and "defaults.connect" in a config file',
    );
  }
  lines.push(`  try: curl -X POST ${url}/v1/auth/nonce`);
  return lines;
}

/**
 * `latchkey serve`: builds the runtime (the same one every command uses), listens, prints the URL,
 * and on SIGTERM/SIGINT stops accepting, drains requests in flight, closes the engine and the store.
 * Resolves with the exit code once stopped.
 */
export async function serve(io: CliIo, values: FlagValues): Promise<number> {
  const runtime = await openRuntime({
    cwd: io.cwd,
    env: io.env,
    flags: {
      port: stringFlag(values, 'port'),
      host: stringFlag(values, 'host'),
      store: stringFlag(values, 'store'),
      config: stringFlag(values, 'config'),
      logLevel: stringFlag(values, 'log-level'),
      relay: stringFlag(values, 'relay'),
    },
  });
  for (const warning of runtime.warnings) io.err(`warning: ${warning}\n`);
  if (runtime.dataKeys.source === 'local') {
    io.err(
      `warning: data keys ${runtime.dataKeys.isGenerated ? 'generated into' : 'read from'} ${runtime.dataKeys.file}${runtime.dataKeys.isGenerated ? ' (mode 0600)' : ''}, ` +
        `made on this machine for trying Latchkey out. Production should pass its own keys ` +
        `(config "dataKeys" or env ${DATA_KEYS_ENV}) and back them up: without them stored data cannot be read.\n`,
    );
  }

  let app: Awaited<ReturnType<typeof createServer>>;
  try {
    const logger = runtime.logLevel === 'silent' ? false : pino({ level: runtime.logLevel });
    // The engine logs through the server's redaction rules too.
    if (logger) runtime.latchkey.setLogger(engineLogger(serverLogger(logger)));
    app = await createServer({
      latchkey: runtime.latchkey,
      store: runtime.store,
      logger,
      dataKeys: runtime.dataKeyRing,
      ...runtime.server,
    });
    await app.listen({ host: runtime.host, port: runtime.port });
  } catch (error) {
    await runtime.close().catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`port ${runtime.port} on ${runtime.host} is already in use (--port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new Error(`cannot listen on host ${runtime.host} (--host)`);
    throw error;
  }

  // Listen for signals before announcing the URL: whoever reads it may signal at once, and a
  // process descheduled between the two would otherwise die of the default action.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const url = runtime.urlFor((app.server.address() as AddressInfo).port);
  runtime.serveAt(url);
  io.out(`${startupLines(runtime, url).join('\n')}\n`);

  const signal = await stopped;
  io.err(`${signal}: draining requests in flight, then closing the store\n`);
  // A second signal, or a drain that never ends, stops at once with exit 1.
  const forced = new Promise<number>((resolve) => {
    const timer = setTimeout(() => resolve(1), DRAIN_TIMEOUT_MS);
    timer.unref();
    process.once('SIGTERM', () => resolve(1));
    process.once('SIGINT', () => resolve(1));
  });
  const drained = (async (): Promise<number> => {
    await app.close();
    await runtime.close();
    return 0;
  })();
  const code = await Promise.race([drained, forced]);
  io.err(code === 0 ? 'stopped\n' : 'stopped before requests in flight finished\n');
  return code;
}
