/**
 * The server half of bench/http.bench.ts: one target per process, so the load generator does not
 * share its core. Builds the target named by --target, pre-creates its sessions, and prints one JSON
 * line `{ port, credentialHeader, credentials }` once it listens. Exits on SIGTERM, or when its stdin
 * closes (the parent is gone), after closing its server and clients.
 */
import { parseArgs } from 'node:util';
import type { RunningTarget } from './http-target.js';
import { isTargetName, TARGETS } from './http-targets.js';

/** The line the parent reads from this process's stdout. */
export interface TargetReady {
  port: number;
  credentialHeader: string;
  credentials: readonly string[];
}

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    'key-prefix': { type: 'string' },
    directory: { type: 'string' },
    sessions: { type: 'string' },
  },
});
const { target: name, 'key-prefix': keyPrefix, directory } = values;
const sessions = Number(values.sessions);
if (name === undefined || !isTargetName(name) || keyPrefix === undefined || directory === undefined || !(sessions > 0)) {
  process.stderr.write('usage: http-server.ts --target NAME --key-prefix PREFIX --directory DIR --sessions N\n');
  process.exit(2);
}

let running: RunningTarget | undefined;
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 5000).unref();
  await running?.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();

const build = await TARGETS[name]();
running = await build({ keyPrefix, directory, sessions });
const ready: TargetReady = {
  port: running.port,
  credentialHeader: running.credentialHeader,
  credentials: running.credentials,
};
process.stdout.write(`${JSON.stringify(ready)}\n`);
