import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DataKeyRing } from '@latchkey/core';
import { UsageError } from './errors.js';
import { type ConfigFile, dataKeysSchema } from './file.js';
import { LOCAL_DIR } from './store.js';

export const LOCAL_KEYS_FILE = 'keys.json';
export const DATA_KEYS_ENV = 'LATCHKEY_DATA_KEYS';

/** Where the keys came from: the operator's own (`env`, `config`) or generated on this machine (`local`). */
export interface ResolvedDataKeys {
  ring: DataKeyRing;
  source: 'env' | 'config' | 'local';
  /** For `local`: the keys file, and whether this run created it. */
  file?: string;
  isGenerated?: boolean;
  /** Problems worth a line at start (a keys file others can read). */
  warnings: string[];
}

/**
 * The keys that seal session data and access-token signing keys at rest. `LATCHKEY_DATA_KEYS`
 * (JSON, the config's `dataKeys` shape) beats the config file; with neither, keys are generated
 * once into `./.latchkey/keys.json` (mode 0600, directory 0700) and reused by every later run, so
 * sessions and signing keys survive a restart.
 */
export function resolveDataKeys(options: {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  config: ConfigFile;
}): ResolvedDataKeys {
  const fromEnv = options.env[DATA_KEYS_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    let json: unknown;
    try {
      json = JSON.parse(fromEnv);
    } catch {
      throw new UsageError(DATA_KEYS_ENV, 'expected JSON {"current":"k1","keys":{"k1":"<base64 of 32 bytes>"}}');
    }
    return { ring: checkRing(json, DATA_KEYS_ENV), source: 'env', warnings: [] };
  }
  if (options.config.dataKeys) return { ring: options.config.dataKeys, source: 'config', warnings: [] };
  return localDataKeys(options.cwd);
}

function checkRing(json: unknown, where: string): DataKeyRing {
  const parsed = dataKeysSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    throw new UsageError(path === '' ? where : `${where} ${path}`, issue.message);
  }
  return parsed.data;
}

function localDataKeys(cwd: string): ResolvedDataKeys {
  const dir = join(cwd, LOCAL_DIR);
  const file = join(dir, LOCAL_KEYS_FILE);
  const shown = relative(cwd, file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ring: DataKeyRing = { current: 'local1', keys: { local1: randomBytes(32).toString('base64') } };
  let fd: number | null = null;
  try {
    // `wx`: of two first starts at once, one writes and the other reads what it wrote.
    fd = openSync(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (fd !== null) {
    try {
      writeSync(fd, `${JSON.stringify(ring, null, 2)}\n`);
    } finally {
      closeSync(fd);
    }
    chmodSync(dir, 0o700);
    return { ring, source: 'local', file, isGenerated: true, warnings: [] };
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new UsageError(shown, 'not a readable keys file; restore it from a backup (deleting it makes stored data unreadable)');
  }
  const warnings: string[] = [];
  if ((statSync(file).mode & 0o077) !== 0) warnings.push(`${shown} can be read by other users; run: chmod 600 ${shown}`);
  return { ring: checkRing(json, shown), source: 'local', file, isGenerated: false, warnings };
}
