/** Where a command writes: stdout for results, stderr for warnings and errors. */
export interface CliIo {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
  /** Asks the person at the terminal and answers their line; absent when stdin is not a terminal. */
  ask?(question: string): Promise<string>;
}

/** A timestamp for humans: ISO 8601, UTC, to the second. */
export function time(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Left-aligned columns under a header; an empty list prints `empty` instead. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], empty: string): string {
  if (rows.length === 0) return `${empty}\n`;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** `--json` output: one document, pretty enough to read, stable to parse. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
