/**
 * `@latchkey/client/node`: helpers that need Node (the file system). Never imported by the browser entry.
 */
export { FileStorage } from './file-storage.js';
