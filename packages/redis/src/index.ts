export type { RedisStoreOptions } from './options.js';
export { RedisStore } from './store.js';
