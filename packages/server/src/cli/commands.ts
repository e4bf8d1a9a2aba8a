import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  APP_ID_PATTERN,
  type AppSettingsInput,
  DEFAULT_APP_ID,
  isLatchkeyError,
  parseAccount,
  SESSION_ID_PATTERN,
} from '@latchkey/core';
import {
  API_KEYS_NAMESPACE,
  DATA_KEYS_ENV,
  ENV,
  jsonSyntaxDetail,
  listStoredAppIds,
  openRuntime,
  type Runtime,
  saveNewApp,
  UsageError,
} from '../config/index.js';
import { redactAppSettings } from '../http/stored-apps.js';
import { createApiKey } from '../index.js';
import { type ArgumentSpec, type Flags, type FlagValues, requiredFlag, stringFlag } from './args.js';
import { connectCommand } from './connect.js';
import { type CliIo, json, table, time } from './output.js';
import { serve } from './serve.js';
import { walletConnectCommand } from './wallet.js';

/** A command: the words that name it, its help, its flags, and what it does (answering an exit code). */
export interface Command {
  path: readonly string[];
  summary: string;
  usage: string;
  details?: string;
  flags: Flags;
  /** Bare arguments after the command's name, in order; without it the command takes none. */
  arguments?: readonly ArgumentSpec[];
  run(io: CliIo, values: FlagValues, positionals: readonly string[]): Promise<number>;
}

export const STORE_FLAGS: Flags = {
  store: {
    type: 'string',
    value: 'STORE',
    description: 'sqlite:PATH | redis://HOST:PORT[/DB][?prefix=P] | memory (default sqlite:./.latchkey/latchkey.db)',
    env: ENV.store,
  },
  config: {
    type: 'string',
    value: 'FILE',
    description: 'JSON config file: apps, data keys, smart accounts, server',
    env: ENV.config,
  },
};
const JSON_FLAG: Flags = { json: { type: 'boolean', description: 'print JSON for machines' } };
const APP_FLAG: Flags = { app: { type: 'string', value: 'ID', description: `the app (default: ${DEFAULT_APP_ID})` } };

/** Opens the runtime every command shares with `serve`, runs `action`, and always closes it. */
async function withRuntime(io: CliIo, values: FlagValues, action: (runtime: Runtime) => Promise<number>): Promise<number> {
  const runtime = await openRuntime({
    cwd: io.cwd,
    env: io.env,
    flags: { store: stringFlag(values, 'store'), config: stringFlag(values, 'config') },
  });
  for (const warning of runtime.warnings) io.err(`warning: ${warning}\n`);
  if (runtime.dataKeys.isGenerated) {
    io.err(
      `warning: generated data keys into ${runtime.dataKeys.file} (mode 0600). ` +
        `In production pass your own keys (config "dataKeys" or env ${DATA_KEYS_ENV}).\n`,
    );
  }
  try {
    return await action(runtime);
  } finally {
    await runtime.close();
  }
}

/** The `--app` value, which must name an app the engine knows (configured or stored). */
function appOf(runtime: Runtime, values: FlagValues): string {
  const app = stringFlag(values, 'app') ?? DEFAULT_APP_ID;
  if (!runtime.latchkey.appIds().includes(app)) {
    throw new UsageError('--app', `unknown app "${app}" (known: ${runtime.latchkey.appIds().join(', ')})`);
  }
  return app;
}

function walletOf(values: FlagValues): string {
  const wallet = requiredFlag(values, 'wallet', 'a CAIP-10 account, e.g. eip155:1:0xd8dA…6045');
  try {
    return parseAccount(wallet).account;
  } catch (error) {
    throw new UsageError(
      '--wallet',
      `${(error as Error).message.replace(/^account: /, '')} (expected CAIP-10, e.g. eip155:1:0x…)`,
    );
  }
}

/** An API key's label, checked before anything is written: 1-64 printable ASCII characters. */
function keyNameOf(values: FlagValues, fallback: string): string {
  const name = stringFlag(values, 'name') ?? fallback;
  if (!/^[\x20-\x7e]{1,64}$/.test(name)) throw new UsageError('--name', '1-64 printable ASCII characters');
  return name;
}

function printApiKey(io: CliIo, appId: string, key: { id: string; key: string }): void {
  io.out(`API key for app "${appId}" (id ${key.id}):\n\n  ${key.key}\n\n`);
  io.out('Store it now: it is shown only this once (the server keeps only a hash of it).\n');
  io.out('Send it as "Authorization: Bearer <key>" to /v1/sessions/introspect and /v1/admin/*.\n');
}

const serveCommand: Command = {
  path: ['serve'],
  summary: 'Start the Latchkey HTTP API server.',
  usage: 'latchkey serve [--port PORT] [--host HOST] [--store STORE] [--config FILE] [--log-level LEVEL] [--relay on|off]',
  details: [
    'With no options: SQLite at ./.latchkey/latchkey.db, data keys generated into ./.latchkey/keys.json',
    '(mode 0600), and a default app with Sign-In with Ethereum for this host:port (chain 1) and EdDSA',
    'access tokens whose audience is the server URL. Flags beat environment variables, which beat the',
    `config file. Data keys: config "dataKeys" or env ${DATA_KEYS_ENV} (JSON). SIGTERM or SIGINT stops`,
    'accepting connections, lets requests in flight finish, closes the store and exits 0.',
    'The QR-connect relay (socket.io at /v1/relay, namespace /connect) is on: channels in memory, or in',
    'Redis when the store is Redis (or config "relay.redisUrl"), shared by every node on it.',
  ].join('\n'),
  flags: {
    port: { type: 'string', value: 'PORT', description: 'TCP port, 0 for any free one (default 8787)', env: ENV.port },
    host: { type: 'string', value: 'HOST', description: 'interface to listen on (default 127.0.0.1)', env: ENV.host },
    ...STORE_FLAGS,
    'log-level': {
      type: 'string',
      value: 'LEVEL',
      description: 'fatal | error | warn | info | debug | trace | silent (default info)',
      env: ENV.logLevel,
    },
    relay: {
      type: 'string',
      value: 'on|off',
      description: 'the QR-connect relay at /v1/relay (default on; config "relay")',
      env: ENV.relay,
    },
  },
  run: (io, values) => serve(io, values),
};

const appsCreate: Command = {
  path: ['apps', 'create'],
  summary: 'Add an app to the store and print its first API key (shown once).',
  usage: 'latchkey apps create --id ID [--settings FILE] [--name NAME] [--store STORE] [--config FILE] [--json]',
  details: [
    'The settings file holds the app\'s settings as JSON (the same fields as the config file\'s "defaults",',
    'which they override). A secret in it (an HS256 accessTokens.secret) is stored sealed with the data keys',
    'and never printed. A running server learns the app on the first request that names it.',
  ].join('\n'),
  flags: {
    id: { type: 'string', value: 'ID', description: `the new app's id (${APP_ID_PATTERN.source})` },
    settings: { type: 'string', value: 'FILE', description: "JSON file with the app's settings (default: {})" },
    name: { type: 'string', value: 'NAME', description: 'a label for the API key (default: "initial")' },
    ...STORE_FLAGS,
    ...JSON_FLAG,
  },
  async run(io, values) {
    const id = requiredFlag(values, 'id', 'the new app id');
    if (!APP_ID_PATTERN.test(id)) throw new UsageError('--id', `an app id matches ${APP_ID_PATTERN.source}, got "${id}"`);
    if (id === DEFAULT_APP_ID) throw new UsageError('--id', `"${DEFAULT_APP_ID}" is configured by the config file's "defaults"`);
    const settings = readSettings(io, stringFlag(values, 'settings'));
    const name = keyNameOf(values, 'initial');
    return withRuntime(io, values, async (runtime) => {
      if (runtime.latchkey.appIds().includes(id)) throw new UsageError('--id', `app "${id}" already exists`);
      try {
        runtime.latchkey.addApp(id, settings);
      } catch (error) {
        if (isLatchkeyError(error, 'CONFIG_INVALID')) {
          throw new UsageError('--settings', error.message.replace(`apps.${id}.`, ''));
        }
        throw error;
      }
      const isSaved = await saveNewApp(runtime.store, { id, settings }, { cipher: runtime.cipher });
      if (!isSaved) throw new UsageError('--id', `app "${id}" already exists`);
      const key = await createApiKey(runtime.store, id, name);
      if (values.json) {
        // Secrets in the settings were sealed into the store; they are never printed.
        io.out(json({ app: id, settings: redactAppSettings(settings), apiKey: key }));
      } else {
        io.out(`Created app "${id}" in ${runtime.storeLabel}.\n`);
        printApiKey(io, id, key);
      }
      return 0;
    });
  },
};

function readSettings(io: CliIo, file: string | undefined): AppSettingsInput {
  if (file === undefined) return {};
  let text: string;
  try {
    text = readFileSync(resolve(io.cwd, file), 'utf8');
  } catch (error) {
    throw new UsageError('--settings', `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (error) {
    throw new UsageError('--settings', `${file} is not valid JSON (${jsonSyntaxDetail(error)})`);
  }
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings))
    throw new UsageError('--settings', `${file} must hold a JSON object`);
  return settings as AppSettingsInput;
}

const appsList: Command = {
  path: ['apps', 'list'],
  summary: 'List the apps: configured ones (config file) and those created with "apps create" (store).',
  usage: 'latchkey apps list [--store STORE] [--config FILE] [--json]',
  flags: { ...STORE_FLAGS, ...JSON_FLAG },
  run: (io, values) =>
    withRuntime(io, values, async (runtime) => {
      const stored = new Set(await listStoredAppIds(runtime.store));
      const apps = runtime.latchkey.appIds().map((id) => {
        const s = runtime.latchkey.settings(id);
        return {
          id,
          source: stored.has(id) ? 'store' : 'config',
          signIn: s.signIn ? { domain: s.signIn.domain, origin: s.signIn.origin, chainIds: s.signIn.chainIds } : null,
          accessTokens: s.accessTokens ? { algorithm: s.accessTokens.algorithm, audience: s.accessTokens.audience } : null,
        };
      });
      if (values.json) {
        io.out(json({ apps }));
        return 0;
      }
      io.out(
        table(
          ['APP', 'SOURCE', 'SIGN-IN', 'ACCESS TOKENS'],
          apps.map((a) => [
            a.id,
            a.source,
            a.signIn ? `${a.signIn.domain} (chains ${a.signIn.chainIds.join(',') || 'none'})` : 'off',
            a.accessTokens ? `${a.accessTokens.algorithm}, audience ${a.accessTokens.audience}` : 'off',
          ]),
          'No apps.',
        ),
      );
      return 0;
    }),
};

const apiKeysCreate: Command = {
  path: ['api-keys', 'create'],
  summary: 'Create another API key for an app and print it (shown once).',
  usage: 'latchkey api-keys create [--app ID] [--name NAME] [--store STORE] [--config FILE] [--json]',
  flags: {
    ...APP_FLAG,
    name: { type: 'string', value: 'NAME', description: 'a label for the key (default: "cli")' },
    ...STORE_FLAGS,
    ...JSON_FLAG,
  },
  run: (io, values) => {
    const name = keyNameOf(values, 'cli');
    return withRuntime(io, values, async (runtime) => {
      const app = appOf(runtime, values);
      const key = await createApiKey(runtime.store, app, name);
      if (values.json) io.out(json({ app, apiKey: key }));
      else printApiKey(io, app, key);
      return 0;
    });
  },
};

const apiKeysList: Command = {
  path: ['api-keys', 'list'],
  summary: "List an app's API keys: ids, names and creation times (never the keys).",
  usage: 'latchkey api-keys list [--app ID] [--store STORE] [--config FILE] [--json]',
  flags: { ...APP_FLAG, ...STORE_FLAGS, ...JSON_FLAG },
  run: (io, values) =>
    withRuntime(io, values, async (runtime) => {
      const app = appOf(runtime, values);
      const keys = (await runtime.store.listEntries(app, API_KEYS_NAMESPACE, Date.now())).map((entry) => {
        let meta: { name?: unknown; createdAt?: unknown } = {};
        try {
          meta = JSON.parse(entry.value) as typeof meta;
        } catch {}
        return {
          id: entry.key,
          name: typeof meta.name === 'string' ? meta.name : null,
          createdAt: typeof meta.createdAt === 'number' ? meta.createdAt : null,
        };
      });
      if (values.json) io.out(json({ app, apiKeys: keys }));
      else
        io.out(
          table(
            ['ID', 'NAME', 'CREATED'],
            keys.map((k) => [k.id, k.name ?? '-', k.createdAt === null ? '-' : time(k.createdAt)]),
            `No API keys for app "${app}".`,
          ),
        );
      return 0;
    }),
};

const apiKeysRevoke: Command = {
  path: ['api-keys', 'revoke'],
  summary: 'Revoke one API key of an app; requests carrying it fail from then on.',
  usage: 'latchkey api-keys revoke --id KEY_ID [--app ID] [--store STORE] [--config FILE] [--json]',
  flags: {
    id: { type: 'string', value: 'KEY_ID', description: 'the key id (as "api-keys list" shows it)' },
    ...APP_FLAG,
    ...STORE_FLAGS,
    ...JSON_FLAG,
  },
  async run(io, values) {
    const id = requiredFlag(values, 'id', 'the key id');
    return withRuntime(io, values, async (runtime) => {
      const app = appOf(runtime, values);
      const isRevoked = await runtime.store.deleteEntry(app, API_KEYS_NAMESPACE, id, Date.now());
      if (values.json) io.out(json({ app, id, revoked: isRevoked }));
      else io.out(isRevoked ? `Revoked API key ${id} of app "${app}".\n` : `No API key ${id} in app "${app}".\n`);
      return isRevoked ? 0 : 1;
    });
  },
};

const keysRotate: Command = {
  path: ['keys', 'rotate'],
  summary: "Rotate an app's access-token signing key.",
  usage: 'latchkey keys rotate [--app ID] [--store STORE] [--config FILE] [--json]',
  details: [
    "The new key is published in the JWKS at once and signs after the app's accessTokens.keyPublishSeconds;",
    'the old key stays published until the last token it signed has expired. Servers pick it up by themselves.',
  ].join('\n'),
  flags: { ...APP_FLAG, ...STORE_FLAGS, ...JSON_FLAG },
  run: (io, values) =>
    withRuntime(io, values, async (runtime) => {
      const app = appOf(runtime, values);
      if (!runtime.latchkey.settings(app).accessTokens)
        throw new UsageError('--app', `app "${app}" has no accessTokens configured, so no signing key`);
      const rotated = await runtime.latchkey.rotateSigningKey({ appId: app });
      if (values.json) io.out(json({ app, ...rotated }));
      else io.out(`New signing key ${rotated.kid} for app "${app}": published now, signs from ${time(rotated.activatesAt)}.\n`);
      return 0;
    }),
};

const sessionsList: Command = {
  path: ['sessions', 'list'],
  summary: "List a wallet's live sessions (ids, devices, times; never tokens).",
  usage: 'latchkey sessions list --wallet ACCOUNT [--app ID] [--store STORE] [--config FILE] [--json]',
  flags: {
    wallet: { type: 'string', value: 'ACCOUNT', description: 'CAIP-10 account, e.g. eip155:1:0xd8dA…6045' },
    ...APP_FLAG,
    ...STORE_FLAGS,
    ...JSON_FLAG,
  },
  async run(io, values) {
    const wallet = walletOf(values);
    return withRuntime(io, values, async (runtime) => {
      const app = appOf(runtime, values);
      const sessions = await runtime.latchkey.getWalletSessions(wallet, { appId: app });
      if (values.json) {
        io.out(json({ app, wallet, sessions }));
        return 0;
      }
      io.out(`${sessions.length} live session${sessions.length === 1 ? '' : 's'} of ${wallet} in app "${app}"\n`);
      if (sessions.length === 0) return 0;
      io.out(
        table(
          ['ID', 'AUTH', 'SCOPE', 'CREATED', 'LAST ACTIVE', 'EXPIRES', 'DEVICE'],
          sessions.map((s) => [
            s.id,
            s.authMethod,
            s.scope,
            time(s.createdAt),
            time(s.lastActiveAt),
            time(s.expiresAt),
            [s.device.ip, s.device.userAgent].filter(Boolean).join(' ') || '-',
          ]),
          '',
        ),
      );
      return 0;
    });
  },
};

const sessionsRevoke: Command = {
  path: ['sessions', 'revoke'],
  summary: 'Revoke one session by id, or every session of a wallet.',
  usage: 'latchkey sessions revoke (--id SESSION_ID | --wallet ACCOUNT) [--app ID] [--store STORE] [--config FILE] [--json]',
  flags: {
    id: { type: 'string', value: 'SESSION_ID', description: 'the session id (32 hex characters)' },
    wallet: { type: 'string', value: 'ACCOUNT', description: 'revoke every session of this CAIP-10 account' },
    ...APP_FLAG,
    ...STORE_FLAGS,
    ...JSON_FLAG,
  },
  async run(io, values) {
    const id = stringFlag(values, 'id');
    const hasWallet = stringFlag(values, 'wallet') !== undefined;
    if ((id === undefined) === !hasWallet) throw new UsageError('--id/--wallet', 'give exactly one of --id or --wallet');
    if (id !== undefined && !SESSION_ID_PATTERN.test(id))
      throw new UsageError('--id', `a session id is 32 lowercase hex characters, got "${id}"`);
    const wallet = hasWallet ? walletOf(values) : undefined;
    return withRuntime(io, values, async (runtime) => {
      const app = appOf(runtime, values);
      if (id !== undefined) {
        const isRevoked = await runtime.latchkey.revokeSessionById(id, { appId: app, reason: 'operator' });
        if (values.json) io.out(json({ app, id, revoked: isRevoked ? 1 : 0 }));
        else io.out(isRevoked ? `Revoked session ${id} in app "${app}".\n` : `No session ${id} in app "${app}".\n`);
        return isRevoked ? 0 : 1;
      }
      const { revoked } = await runtime.latchkey.invalidateAllWalletSessions(wallet!, { appId: app });
      if (values.json) io.out(json({ app, wallet, revoked }));
      else io.out(`Revoked ${revoked} session${revoked === 1 ? '' : 's'} of ${wallet} in app "${app}".\n`);
      return 0;
    });
  },
};

const stats: Command = {
  path: ['stats'],
  summary: "Show an app's live sessions (by chain and sign-in method) and its lifetime counters.",
  usage: 'latchkey stats [--app ID] [--store STORE] [--config FILE] [--json]',
  flags: { ...APP_FLAG, ...STORE_FLAGS, ...JSON_FLAG },
  run: (io, values) =>
    withRuntime(io, values, async (runtime) => {
      const app = appOf(runtime, values);
      const s = await runtime.latchkey.getSessionStats({ appId: app });
      if (values.json) {
        io.out(json(s));
        return 0;
      }
      const pairs = (record: Record<string, number>): string =>
        Object.entries(record)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '-';
      io.out(`App "${app}"\n`);
      io.out(`  live sessions   ${s.active}\n`);
      io.out(`  by chain        ${pairs(s.byChain)}\n`);
      io.out(`  by sign-in      ${pairs(s.byAuthMethod)}\n`);
      io.out(`  counters        ${pairs(s.counters)}\n`);
      return 0;
    }),
};

const auditVerify: Command = {
  path: ['audit', 'verify'],
  summary: "Check an app's audit hash chain; exit 1 when an entry was edited or deleted.",
  usage: 'latchkey audit verify [--app ID] [--store STORE] [--config FILE] [--json]',
  flags: { ...APP_FLAG, ...STORE_FLAGS, ...JSON_FLAG },
  run: (io, values) =>
    withRuntime(io, values, async (runtime) => {
      const app = appOf(runtime, values);
      const result = await runtime.latchkey.verifyAudit({ appId: app });
      if (values.json) io.out(json({ app, ...result }));
      else if (result.valid)
        io.out(`Audit chain of app "${app}" is intact: ${result.entries} entries, head seq ${result.head.seq}.\n`);
      else
        io.out(
          `Audit chain of app "${app}" is BROKEN at seq ${result.brokenAtSeq} (${result.reason}); ` +
            `${result.entries} entries verified before it.\n`,
        );
      return result.valid ? 0 : 1;
    }),
};

/** Every command, in the order help lists them. */
export const COMMANDS: readonly Command[] = [
  serveCommand,
  appsCreate,
  appsList,
  apiKeysCreate,
  apiKeysList,
  apiKeysRevoke,
  keysRotate,
  sessionsList,
  sessionsRevoke,
  stats,
  auditVerify,
  connectCommand,
  walletConnectCommand,
];
