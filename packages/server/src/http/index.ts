export { createApiKey } from './api-keys.js';
export type { ServerOptions } from './options.js';
export { createServer } from './server.js';
