#!/usr/bin/env node
import { isLatchkeyError } from '@latchkey/core';
import { UsageError } from '../config/index.js';
import { runCli } from './run.js';

const io = {
  cwd: process.cwd(),
  env: process.env,
  out: (text: string) => process.stdout.write(text),
  err: (text: string) => process.stderr.write(text),
};

let code: number;
try {
  code = await runCli(process.argv.slice(2), io);
} catch (error) {
  // runCli answers every expected failure itself; this is the last word on anything else.
  const detail = error instanceof UsageError || isLatchkeyError(error) ? error.message : String(error);
  io.err(`latchkey: ${detail}\n`);
  code = 1;
}
// Exit explicitly: an idle client socket (an RPC transport, a Redis reconnect) must not keep a
// finished command alive. stdout and stderr are synchronous for files and pipes on POSIX.
process.exit(code);
