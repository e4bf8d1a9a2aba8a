#!/usr/bin/env node
import { createInterface, type Interface } from 'node:readline';
import { isLatchkeyError } from '@latchkey/core';
import { UsageError } from '../config/index.js';
import type { CliIo } from './output.js';
import { runCli } from './run.js';

/** How long keys typed before the first question are given to arrive (and be dropped) once stdin is read, ms. */
const TYPED_AHEAD_SETTLE_MS = 150;

/**
 * Questions to the person at the terminal, one at a time, through one readline interface for the whole
 * process (the question goes to stderr so stdout stays the command's output). A question waits until the
 * one before is answered. Keys typed before a question shows are not its answer: a line typed while nothing
 * is asked is dropped, and a partial line is cleared when the question shows. When stdin ends (or on
 * Ctrl-C) every question answers "" (a refusal).
 */
function terminalQuestions(): (question: string) => Promise<string> {
  let line: Interface | null = null;
  let isClosed = false;
  let answerPending: ((answer: string) => void) | null = null;
  let previous: Promise<unknown> = Promise.resolve();
  const open = async (): Promise<Interface> => {
    if (line) return line;
    line = createInterface({ input: process.stdin, output: process.stderr, prompt: '', historySize: 0 });
    // The terminal's Ctrl-C reaches readline, not the process: pass it on to the command's handler.
    line.on('SIGINT', () => {
      line?.close();
      process.kill(process.pid, 'SIGINT');
    });
    line.on('close', () => {
      isClosed = true;
      answerPending?.('');
    });
    // stdin was not read until now: what was typed meanwhile arrives first, with no question to answer.
    await new Promise((resolve) => setTimeout(resolve, TYPED_AHEAD_SETTLE_MS));
    return line;
  };
  const askOne = async (question: string): Promise<string> => {
    const terminal = await open();
    return new Promise((resolve) => {
      if (isClosed) return resolve('');
      answerPending = resolve;
      // A partial line typed before this question showed is discarded (to its end, then delete to its start).
      terminal.write(null, { ctrl: true, name: 'e' });
      terminal.write(null, { ctrl: true, name: 'u' });
      terminal.question(question, (answer) => {
        answerPending = null;
        resolve(answer);
      });
    });
  };
  return (question) => {
    const asked = previous.then(() => askOne(question));
    previous = asked.catch(() => undefined);
    return asked;
  };
}

const io: CliIo = {
  cwd: process.cwd(),
  env: process.env,
  out: (text: string) => process.stdout.write(text),
  err: (text: string) => process.stderr.write(text),
  ...(process.stdin.isTTY ? { ask: terminalQuestions() } : {}),
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
