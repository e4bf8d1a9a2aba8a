import {
  APP_ID_PATTERN,
  type Clock,
  DEFAULT_APP_ID,
  type Latchkey,
  LatchkeyError,
  type SessionDataCipher,
  type Store,
} from '@latchkey/core';
import type { FastifyBaseLogger } from 'fastify';
import { RELOAD_INTERVAL_MS } from './options.js';
import { HttpRejection } from './problems.js';
import { APPS_NAMESPACE, openAppSettings, SYSTEM_APP_ID } from './stored-apps.js';

export { APPS_NAMESPACE, SYSTEM_APP_ID };

export interface AppDirectoryHost {
  latchkey: Latchkey;
  store: Store;
  clock: Clock;
  log: FastifyBaseLogger;
  /** Opens the secrets sealed in stored settings; null when the server was given no data keys. */
  cipher: SessionDataCipher | null;
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
    await this.reload();
    if (this.#known.has(appId)) return appId;
    throw new LatchkeyError('APP_UNKNOWN', { message: `Unknown app "${appId}".`, field: 'Latchkey-App' });
  }

  /**
   * Re-reads the stored apps when the last read is a second old or more (one read in flight, shared);
   * otherwise waits for a read in flight, if any. Bad entries are logged and skipped.
   */
  async reload(): Promise<void> {
    if (!this.#loading && this.#host.clock.now() - this.#loadedAt >= RELOAD_INTERVAL_MS) {
      this.#loading = this.#reload({ isStrict: false }).finally(() => {
        this.#loading = null;
      });
    }
    if (this.#loading) await this.#loading;
  }

  async #reload(options: { isStrict: boolean }): Promise<void> {
    const { latchkey, store, clock, log, cipher } = this.#host;
    const now = clock.now();
    this.#loadedAt = now;
    let entries: Awaited<ReturnType<Store['listEntries']>>;
    try {
      entries = await store.listEntries(SYSTEM_APP_ID, APPS_NAMESPACE, now);
    } catch (error) {
      throw this.#host.storeFailed('listEntries', error);
    }
    for (const entry of entries) {
      // The default app is configured, never stored (as `loadStoredApps` has it): a stored one is ignored.
      if (entry.key === DEFAULT_APP_ID) {
        log.warn({ appId: entry.key }, 'stored app skipped: the default app is configured, not stored');
        continue;
      }
      try {
        latchkey.addApp(entry.key, openAppSettings(cipher, entry.key, entry.value));
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
