export {
  API_KEYS_NAMESPACE,
  APPS_NAMESPACE,
  FOREVER_MS,
  listStoredAppIds,
  loadStoredApps,
  type StoredApp,
  SYSTEM_APP_ID,
  saveNewApp,
} from './apps.js';
export { DATA_KEYS_ENV, LOCAL_KEYS_FILE, type ResolvedDataKeys } from './data-keys.js';
export { UsageError } from './errors.js';
export { type ConfigFile, configFileSchema, jsonSyntaxDetail, parseConfig, readConfigFile } from './file.js';
export {
  DEFAULT_HOST,
  DEFAULT_LOG_LEVEL,
  DEFAULT_PORT,
  ENV,
  type LocalDefaults,
  type LogLevel,
  openRuntime,
  type Runtime,
  type RuntimeRequest,
  type ServerSettings,
} from './runtime.js';
export { describeStore, LOCAL_DIR, parseStoreSpec, type StoreSpec } from './store.js';
