import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LatchkeyClientError } from '../errors/index.js';
import { isCryptoKey, type LatchkeyStorage, type StoredValue } from '../storage/index.js';

/** How a CryptoKey is written to the file: the key as a JWK, with what WebCrypto needs to import it again. */
interface WrittenKey {
  $cryptoKey: { jwk: JsonWebKey; algorithm: EcKeyImportParams; usages: KeyUsage[] };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function failed(message: string, cause?: unknown): LatchkeyClientError {
  return new LatchkeyClientError('STORAGE_FAILED', { message, ...(cause === undefined ? {} : { cause }) });
}

async function write(value: StoredValue): Promise<Json> {
  if (isCryptoKey(value)) {
    if (!value.extractable) throw failed('FileStorage writes keys as JWK: this key is not extractable');
    const algorithm = value.algorithm as EcKeyAlgorithm;
    const jwk = await globalThis.crypto.subtle.exportKey('jwk', value);
    const written: WrittenKey = {
      $cryptoKey: { jwk, algorithm: { name: algorithm.name, namedCurve: algorithm.namedCurve }, usages: [...value.usages] },
    };
    return written as unknown as Json;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return Promise.all(value.map(write));
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value as Record<string, StoredValue>)) out[k] = await write(v);
  return out;
}

async function read(value: Json): Promise<StoredValue> {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return Promise.all(value.map(read));
  const key = (value as Partial<WrittenKey>).$cryptoKey;
  if (key !== undefined) {
    // Extractable again, so the next write can write it out again.
    return globalThis.crypto.subtle.importKey('jwk', key.jwk, key.algorithm, true, key.usages);
  }
  const out: Record<string, StoredValue> = {};
  for (const [k, v] of Object.entries(value)) out[k] = await read(v);
  return out;
}

/**
 * A JSON file (mode 0600) for Node processes that must keep their session across restarts.
 *
 * CUSTODIAL: the session token, the refresh token and the session key's private key (as a JWK) are in
 * the file in plain text; whoever can read the file can act as the session until it ends. Keys are
 * created extractable for it (`requiresExtractableKeys`). Use it for server processes you operate
 * (`createServerSession`), not for end users' devices; keep the file on an encrypted disk, readable by
 * the process's user only. Writes go to a new temporary file with a random name (created exclusively,
 * mode 0600) that is renamed over the old one.
 *
 * @example
 * import { FileStorage } from '@latchkey/client/node';
 * const client = new LatchkeyClient({ baseUrl, storage: new FileStorage({ path: '/var/lib/bot/latchkey.json' }) });
 */
export class FileStorage implements LatchkeyStorage {
  readonly requiresExtractableKeys = true;
  readonly path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: { path: string }) {
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new LatchkeyClientError('CLIENT_OPTIONS_INVALID', { message: 'path: a file path', field: 'path' });
    }
    this.path = options.path;
  }

  async #load(): Promise<Record<string, Json>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return {};
      throw failed(`cannot read ${this.path}`, error);
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, Json>) : {};
    } catch (error) {
      throw failed(`${this.path} is not JSON`, error);
    }
  }

  /**
   * Writes a new file beside the old one and renames it over. The temporary name is random and the file
   * is created exclusively (`wx`: never opened if something, a planted symlink included, is there), so
   * nobody who can write to the directory can steer the write elsewhere by guessing the name.
   */
  async #save(entries: Record<string, Json>): Promise<void> {
    const temporary = `${this.path}.${randomBytes(16).toString('hex')}.tmp`;
    let isCreated = false;
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const handle = await open(temporary, 'wx', 0o600);
      isCreated = true;
      try {
        // The mode argument is masked by the umask; make it exactly 0600 (on the handle: no path to follow).
        await handle.chmod(0o600);
        await handle.writeFile(JSON.stringify(entries));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
    } catch (error) {
      if (isCreated) await unlink(temporary).catch(() => undefined);
      throw failed(`cannot write ${this.path}`, error);
    }
  }

  /** Read-modify-write steps run one after another, so two writes in this process never lose each other. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const entries = await this.#serial(() => this.#load());
    const value = entries[key];
    return value === undefined ? undefined : read(value);
  }

  async set(key: string, value: StoredValue): Promise<void> {
    const written = await write(value);
    await this.#serial(async () => {
      const entries = await this.#load();
      entries[key] = written;
      await this.#save(entries);
    });
  }

  async delete(key: string): Promise<void> {
    await this.#serial(async () => {
      const entries = await this.#load();
      if (!(key in entries)) return;
      delete entries[key];
      await this.#save(entries);
    });
  }
}
