// Bundles the browser entry points of @latchkey/client with esbuild (platform "browser": a Node
// built-in anywhere in the graph fails the build). Output: dist/browser/*.js, ES modules.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: { 'latchkey-client': join(root, 'dist/index.js'), 'latchkey-connect': join(root, 'dist/connect/index.js') },
  outdir: join(root, 'dist/browser'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
