#!/usr/bin/env node
import { createInterface } from 'node:readline';
import { isLatchkeyError } from '@latchkey/core';
import { UsageError } from '../config/index.js';
import type { CliIo } from './output.js';
import { runCli } from './run.js';

/** One line from the terminal; the question goes to stderr so stdout stays the command's output. */
function ask(question: string): Promise<string> {
  return new Promise((resolve) => {
    const line = createInterface({ input: process.stdin, output: process.stderr });
    // The terminal's Ctrl-C reaches readline, not the process: pass it on to the command's handler.
    line.once('SIGINT', () => {
      line.close();
      process.kill(process.pid, 'SIGINT');
    });
    line.question(question, (answer) => {
      line.close();
      resolve(answer);
    });
  });
}

const io: CliIo = {
  cwd: process.cwd(),
  env: process.env,
  out: (text: string) => process.stdout.write(text),
  err: (text: string) => process.stderr.write(text),
  ...(process.stdin.isTTY ? { ask } : {}),
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
