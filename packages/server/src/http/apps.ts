import {
  APP_ID_PATTERN,
  type AppSettingsInput,
  type Clock,
  DEFAULT_APP_ID,
  type Latchkey,
  LatchkeyError,
  type Store,
} from '@latchkey/core';
import type { FastifyBaseLogger } from 'fastify';
import { RELOAD_INTERVAL_MS } from './options.js';
import { HttpRejection } from './problems.js';

/** Apps created at run time (by the CLI) live here: entry key = app id, value = JSON of its settings. */
export const SYSTEM_APP_ID = '_system';
export const APPS_NAMESPACE = 'apps';

export interface AppDirectoryHost {
  latchkey: Latchkey;
  store: Store;
  clock: Clock;
  log: FastifyBaseLogger;
  storeFailed(operation: string, error: unknown): LatchkeyError;
}

/**
 * Which apps this server answers for: the engine's own, plus those kept in the store. A request naming
 * an app it does not know re-reads the store, at most once per second, so an app created on another
 * node is served within a second and unknown ids cannot make every request a store read.
 */
export class AppDirectory {
  readonly #host: AppDirectoryHost;
  readonly #known = new Set<string>();
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | null = null;

  constructor(host: AppDirectoryHost) {
    this.#host = host;
    for (const id of host.latchkey.appIds()) this.#known.add(id);
  }

  /** At start: every stored app joins the engine. A stored app with bad settings is a misconfiguration and throws. */
  async load(): Promise<void> {
    await this.#reload({ isStrict: true });
  }

  /**
   * The app a request names (`Latchkey-App`, default `default`), once it is known to exist.
   * 400 for an id that cannot be one, 404 APP_UNKNOWN for one that is not configured anywhere.
   */
  resolve(requested: string | undefined): string | Promise<string> {
    const appId = requested ?? DEFAULT_APP_ID;
    // The common case answers without a promise: validation is the hot path.
    return this.#known.has(appId) ? appId : this.#resolveUnknown(appId);
  }

  async #resolveUnknown(appId: string): Promise<string> {
    if (!APP_ID_PATTERN.test(appId)) {
      throw new HttpRejection('VALIDATION_FAILED', {
        message: 'Latchkey-App: app id must be 1-64 of [a-z0-9_-], starting with a letter or digit',
        field: 'Latchkey-App',
      });
    }
    if (this.#host.latchkey.appIds().includes(appId)) {
      this.#known.add(appId);
      return appId;
    }
    if (this.#host.clock.now() - this.#loadedAt >= RELOAD_INTERVAL_MS) {
      this.#loading ??= this.#reload({ isStrict: false }).finally(() => {
        this.#loading = null;
      });
      await this.#loading;
    }
    if (this.#known.has(appId)) return appId;
    throw new LatchkeyError('APP_UNKNOWN', { message: `Unknown app "${appId}".`, field: 'Latchkey-App' });
  }

  async #reload(options: { isStrict: boolean }): Promise<void> {
    const { latchkey, store, clock, log } = this.#host;
    const now = clock.now();
    this.#loadedAt = now;
    let entries: Awaited<ReturnType<Store['listEntries']>>;
    try {
      entries = await store.listEntries(SYSTEM_APP_ID, APPS_NAMESPACE, now);
    } catch (error) {
      throw this.#host.storeFailed('listEntries', error);
    }
    for (const entry of entries) {
      try {
        latchkey.addApp(entry.key, parseSettings(entry.value));
      } catch (error) {
        // CONFIG_INVALID names the option, never its value (settings may hold an HS256 secret).
        const reason = error instanceof LatchkeyError ? error.message : 'settings could not be applied';
        if (options.isStrict) {
          throw new LatchkeyError('CONFIG_INVALID', {
            message: `stored app "${entry.key}": ${reason}`,
            field: `apps.${entry.key}`,
          });
        }
        log.error({ appId: entry.key, reason }, 'stored app skipped');
      }
    }
    for (const id of latchkey.appIds()) this.#known.add(id);
  }
}

function parseSettings(value: string): AppSettingsInput {
  try {
    return JSON.parse(value) as AppSettingsInput;
  } catch {
    // JSON.parse's message quotes the text; say only what is wrong.
    throw new LatchkeyError('CONFIG_INVALID', { message: 'settings are not valid JSON' });
  }
}
