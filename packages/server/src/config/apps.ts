import {
  type AppSettingsInput,
  DEFAULT_APP_ID,
  type Latchkey,
  LatchkeyError,
  type SessionDataCipher,
  type Store,
} from '@latchkey/core';
import { APPS_NAMESPACE, openAppSettings, SYSTEM_APP_ID, sealAppSettings } from '../http/stored-apps.js';

export { APPS_NAMESPACE, SYSTEM_APP_ID };
/** An app's API keys: entries of the app's own namespace, as `createApiKey` writes them. */
export const API_KEYS_NAMESPACE = 'api-keys';
/** Entries that should not expire: 100 years. */
export const FOREVER_MS = 100 * 365 * 24 * 60 * 60 * 1000;

export interface StoredApp {
  id: string;
  settings: AppSettingsInput;
}

/** The ids of the apps kept in the store (`_system` / `apps`), whether or not their settings still load. */
export async function listStoredAppIds(store: Store, now: number = Date.now()): Promise<string[]> {
  return (await store.listEntries(SYSTEM_APP_ID, APPS_NAMESPACE, now)).map((entry) => entry.key);
}

/**
 * Writes a new app; false when one with that id is already stored (atomic: of two creates, one wins).
 * Secrets in the settings (an HS256 `accessTokens.secret`) are sealed with the data keys first; without
 * a cipher such settings are refused, never stored in plain text.
 */
export function saveNewApp(
  store: Store,
  app: StoredApp,
  options: { cipher?: SessionDataCipher; now?: number } = {},
): Promise<boolean> {
  const now = options.now ?? Date.now();
  const value = sealAppSettings(options.cipher ?? null, app.id, app.settings);
  return store.addEntry(SYSTEM_APP_ID, APPS_NAMESPACE, { key: app.id, value, expiresAt: now + FOREVER_MS }, now);
}

/**
 * Adds every stored app to the engine, as the server does at start, opening sealed secrets with the
 * cipher. The `default` app is configured, never stored; an app whose settings no longer validate (or
 * whose secret does not open) is skipped and named, never with a value.
 */
export async function loadStoredApps(
  latchkey: Latchkey,
  store: Store,
  cipher: SessionDataCipher | null,
): Promise<{ loaded: string[]; skipped: string[] }> {
  const loaded: string[] = [];
  const skipped: string[] = [];
  for (const entry of await store.listEntries(SYSTEM_APP_ID, APPS_NAMESPACE, Date.now())) {
    if (entry.key === DEFAULT_APP_ID) {
      skipped.push(`${entry.key}: not a valid stored app`);
      continue;
    }
    try {
      latchkey.addApp(entry.key, openAppSettings(cipher, entry.key, entry.value));
      loaded.push(entry.key);
    } catch (error) {
      skipped.push(`${entry.key}: ${error instanceof LatchkeyError ? error.message : 'settings could not be applied'}`);
    }
  }
  return { loaded, skipped };
}
