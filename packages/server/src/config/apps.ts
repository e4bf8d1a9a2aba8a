import { type AppSettingsInput, DEFAULT_APP_ID, type Latchkey, type Store } from '@latchkey/core';

/** Apps created at run time live as entries of this pseudo-app (not a valid app id, so never a tenant). */
export const SYSTEM_APP_ID = '_system';
export const APPS_NAMESPACE = 'apps';
/** An app's API keys: entries of the app's own namespace, as `createApiKey` writes them. */
export const API_KEYS_NAMESPACE = 'api-keys';
/** Entries that should not expire: 100 years. */
export const FOREVER_MS = 100 * 365 * 24 * 60 * 60 * 1000;

export interface StoredApp {
  id: string;
  settings: AppSettingsInput;
}

/** The apps kept in the store (`_system` / `apps`), by id. A value that is not JSON is skipped. */
export async function listStoredApps(store: Store, now: number = Date.now()): Promise<StoredApp[]> {
  const entries = await store.listEntries(SYSTEM_APP_ID, APPS_NAMESPACE, now);
  const apps: StoredApp[] = [];
  for (const entry of entries) {
    try {
      apps.push({ id: entry.key, settings: JSON.parse(entry.value) as AppSettingsInput });
    } catch {
      // An unreadable entry is reported by loadStoredApps, not here.
      apps.push({ id: entry.key, settings: entry.value as unknown as AppSettingsInput });
    }
  }
  return apps;
}

/** Writes a new app; false when one with that id is already stored (atomic: of two creates, one wins). */
export function saveNewApp(store: Store, app: StoredApp, now: number = Date.now()): Promise<boolean> {
  return store.addEntry(
    SYSTEM_APP_ID,
    APPS_NAMESPACE,
    { key: app.id, value: JSON.stringify(app.settings), expiresAt: now + FOREVER_MS },
    now,
  );
}

/**
 * Adds every stored app to the engine, as the server does at start. The `default` app is
 * configured, never stored; an app whose settings no longer validate is skipped and named.
 */
export async function loadStoredApps(latchkey: Latchkey, store: Store): Promise<{ loaded: string[]; skipped: string[] }> {
  const loaded: string[] = [];
  const skipped: string[] = [];
  for (const app of await listStoredApps(store)) {
    if (app.id === DEFAULT_APP_ID || typeof app.settings !== 'object' || app.settings === null) {
      skipped.push(`${app.id}: not a valid stored app`);
      continue;
    }
    try {
      latchkey.addApp(app.id, app.settings);
      loaded.push(app.id);
    } catch (error) {
      skipped.push(`${app.id}: ${(error as Error).message}`);
    }
  }
  return { loaded, skipped };
}
