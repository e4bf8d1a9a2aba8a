export { createApiKey, createServer, type ServerOptions } from './http/index.js';
