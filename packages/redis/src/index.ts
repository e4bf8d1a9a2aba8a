export type { RedisStoreOptions } from './options.js';
export { redisAnswers } from './probe.js';
export { RedisStore } from './store.js';
