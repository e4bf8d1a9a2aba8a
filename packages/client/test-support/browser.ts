/**
 * The browser harness: the client bundled for the browser (esbuild, platform "browser", from source,
 * like scripts/bundle.mjs does from dist), a test page served by the Latchkey server itself (same
 * origin), and headless Chromium driven by playwright-core.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const clientRoot = join(here, '..');

export const CHROMIUM = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';

/** Run the browser test where Chromium is installed; under CI=true always (so a missing Chromium fails, never skips). */
export function shouldRunBrowserTests(): boolean {
  return existsSync(CHROMIUM) || process.env.CI === 'true';
}

/** The browser bundle of the client's public entry, built in memory. A Node built-in anywhere in its graph fails the build. */
export async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [join(clientRoot, 'src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** Serves the test page and the bundle under /test/ on the server's own listener (call before `listen`). */
export async function serveTestPage(app: FastifyInstance, bundle: string): Promise<void> {
  const page = await readFile(join(here, 'browser/index.html'), 'utf8');
  app.get('/test/index.html', (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get('/test/latchkey-client.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').send(bundle));
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile in a temp dir (IndexedDB lives there, across reloads). */
export async function launchChromium(): Promise<Browser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'latchkey-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
