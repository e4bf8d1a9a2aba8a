import { parseArgs } from 'node:util';
import { UsageError } from '../config/index.js';

/** One flag: its kind, the placeholder shown in help, what it does, and the variable that stands in for it. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Placeholder in help, e.g. `PORT`. */
  value?: string;
  description: string;
  env?: string;
  short?: string;
}

export type Flags = Record<string, FlagSpec>;
export type FlagValues = Record<string, string | boolean | undefined>;

/** A bare argument a command takes after its name (`latchkey wallet connect URI`), for help. */
export interface ArgumentSpec {
  /** Placeholder in help, e.g. `URI`. */
  name: string;
  description: string;
}

export const HELP_FLAG: Flags = { help: { type: 'boolean', short: 'h', description: 'show this help' } };

/**
 * Parses a command's flags strictly (`node:util` parseArgs): an unknown flag, a missing value or a
 * stray argument is a UsageError naming it, so the CLI answers with one line and exit 2.
 */
export function parseFlags(flags: Flags, args: readonly string[]): FlagValues {
  return parseCommandLine(flags, args, 0).values;
}

/**
 * Like {@link parseFlags}, and also takes up to `maxArguments` bare arguments (in any position among
 * the flags); one more is a UsageError naming it.
 */
export function parseCommandLine(
  flags: Flags,
  args: readonly string[],
  maxArguments: number,
): { values: FlagValues; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries({ ...flags, ...HELP_FLAG })) {
    options[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  }
  let parsed: { values: unknown; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: maxArguments > 0 });
  } catch (error) {
    throw translate(error);
  }
  const extra = parsed.positionals[maxArguments];
  if (extra !== undefined) throw new UsageError(`"${extra.slice(0, 64)}"`, 'unexpected argument');
  return { values: parsed.values as FlagValues, positionals: parsed.positionals };
}

function translate(error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error).message;
  const quoted = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? /'([^']+)'/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(quoted, 'unknown flag');
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return new UsageError(quoted, 'takes no value');
      return new UsageError(quoted, 'needs a value');
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`"${quoted}"`, 'unexpected argument');
    default:
      return error as Error;
  }
}

/** The value of a string flag, or undefined. */
export function stringFlag(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A required string flag; a UsageError naming it when absent or empty. */
export function requiredFlag(values: FlagValues, name: string, what: string): string {
  const v = stringFlag(values, name);
  if (v === undefined || v === '') throw new UsageError(`--${name}`, `required (${what})`);
  return v;
}

/** Help text generated from the flag specs, so the two never drift apart. */
export function formatHelp(command: {
  usage: string;
  summary: string;
  details?: string;
  flags: Flags;
  arguments?: readonly ArgumentSpec[];
}): string {
  const rows = Object.entries({ ...command.flags, ...HELP_FLAG }).map(([name, spec]) => {
    const left = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    const right = spec.env ? `${spec.description} [env ${spec.env}]` : spec.description;
    return [left, right] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length));
  const lines = [`Usage: ${command.usage}`, '', command.summary];
  if (command.details) lines.push('', command.details);
  if (command.arguments?.length) {
    const argWidth = Math.max(width, ...command.arguments.map((a) => a.name.length + 4));
    lines.push('', 'Arguments:', ...command.arguments.map((a) => `  ${`    ${a.name}`.padEnd(argWidth)}  ${a.description}`));
  }
  lines.push('', 'Flags:', ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`));
  return `${lines.join('\n')}\n`;
}
