import { readFileSync } from 'node:fs';
import { isLatchkeyError } from '@latchkey/core';
import { UsageError } from '../config/index.js';
import { formatHelp, parseCommandLine } from './args.js';
import { COMMANDS, type Command } from './commands.js';
import type { CliIo } from './output.js';

/** Exit codes: 0 done, 1 the action failed (store down, nothing found, chain broken), 2 a usage or config mistake. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  return [
    'latchkey: the Latchkey session server and its operator commands',
    '',
    'Usage: latchkey <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --help. The operator commands (all but serve, connect and wallet) take --store,',
    '--config and --json; serve takes --store and --config.',
    'Run "latchkey <command> --help" for its flags and environment variables.',
    '',
  ].join('\n');
}

function groupHelp(group: string, commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return [
    `Usage: latchkey ${group} <${commands.map((c) => c.path[1]).join('|')}> [flags]`,
    '',
    ...commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    `Run "latchkey ${group} <subcommand> --help" for its flags.`,
    '',
  ].join('\n');
}

const isHelpWord = (word: string | undefined): boolean => word === '--help' || word === '-h' || word === 'help';

/**
 * Runs one CLI invocation and answers its exit code. Usage and configuration mistakes print one
 * line on stderr naming the flag, variable or config field, and answer 2.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || isHelpWord(first)) {
    (first === undefined ? io.err : io.out)(mainHelp());
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '--version' || first === '-v') {
    io.out(`${version()}\n`);
    return EXIT.ok;
  }
  let prefix = 'latchkey';
  try {
    if (first.startsWith('-')) throw new UsageError(first, 'expected a command first (see latchkey --help)');
    const group = COMMANDS.filter((c) => c.path[0] === first);
    if (group.length === 0) throw new UsageError(`"${first}"`, 'unknown command (see latchkey --help)');
    let command: Command;
    let rest: readonly string[];
    if (group.length === 1 && group[0]!.path.length === 1) {
      command = group[0]!;
      rest = argv.slice(1);
    } else {
      prefix = `latchkey ${first}`;
      if (second === undefined || isHelpWord(second)) {
        (second === undefined ? io.err : io.out)(groupHelp(first, group));
        return second === undefined ? EXIT.usage : EXIT.ok;
      }
      const found = group.find((c) => c.path[1] === second);
      if (!found) throw new UsageError(`"${second}"`, `unknown subcommand (see latchkey ${first} --help)`);
      command = found;
      rest = argv.slice(2);
    }
    prefix = `latchkey ${command.path.join(' ')}`;
    // --help wins over every other flag, even a wrong one: it is what someone stuck reaches for.
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(formatHelp(command));
      return EXIT.ok;
    }
    const { values, positionals } = parseCommandLine(command.flags, rest, command.arguments?.length ?? 0);
    return await command.run(io, values, positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${prefix}: ${error.message}\n`);
      return EXIT.usage;
    }
    if (isLatchkeyError(error, 'CONFIG_INVALID')) {
      io.err(`${prefix}: config ${error.message}\n`);
      return EXIT.usage;
    }
    if (isLatchkeyError(error, 'STORE_UNAVAILABLE')) {
      io.err(`${prefix}: the store cannot answer (${error.message}); check --store / LATCHKEY_STORE\n`);
      return EXIT.failed;
    }
    io.err(`${prefix}: ${(error as Error).message ?? String(error)}\n`);
    return EXIT.failed;
  }
}
