import { readFileSync } from 'node:fs';
import { APP_ID_PATTERN, appSettingsSchema, DEFAULT_APP_ID } from '@latchkey/core';
import { z } from 'zod';
import { basePathProblem, checkTrustProxy } from '../http/options.js';
import { UsageError } from './errors.js';

/**
 * App settings exactly as written: checked against the engine's own schema (so an error names the
 * field), but kept as input, since defaults filled in here would override `defaults` for an app.
 */
const appSettingsInput = z.unknown().superRefine((value, ctx) => {
  const parsed = appSettingsSchema.safeParse(value);
  if (parsed.success) return;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
});

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** Keys for session data and signing keys at rest: `{ current, keys: { id: base64 of 32 bytes } }`. */
export const dataKeysSchema = z
  .object({
    current: z.string().regex(KEY_ID, 'a key id of 1-32 characters [A-Za-z0-9_-]'),
    keys: z.record(
      z.string().regex(KEY_ID, 'key ids are 1-32 characters [A-Za-z0-9_-]'),
      z.string().refine((k) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(k) && Buffer.from(k, 'base64').length === 32, {
        message: 'a key is 32 random bytes, base64 (openssl rand -base64 32)',
      }),
    ),
  })
  .strict()
  .refine((ring) => Object.hasOwn(ring.keys, ring.current), { message: 'current must name one of keys', path: ['current'] });

const positiveInt = z.number().int().positive();

/** Everything the config file may hold. Units are written next to each field; unknown keys are refused. */
export const configFileSchema = z
  .object({
    /** `sqlite:PATH`, `redis://…` or `memory`; overridden by `--store` and `LATCHKEY_STORE`. */
    store: z.string().min(1).optional(),
    /** Settings of the `default` app and the base of every other app's (see @latchkey/core). */
    defaults: appSettingsInput.optional(),
    /** Further apps by id, each overriding `defaults`. */
    apps: z.record(z.string().regex(APP_ID_PATTERN, `app ids match ${APP_ID_PATTERN}`), appSettingsInput).optional(),
    dataKeys: dataKeysSchema.optional(),
    /** ERC-1271 / ERC-6492 smart-account checks: one JSON-RPC endpoint per EIP-155 chain id. */
    smartAccounts: z
      .object({
        rpcUrls: z.record(
          z.string().regex(/^[1-9][0-9]{0,19}$/, 'keys are decimal chain ids'),
          z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), {
            message: 'an http:// or https:// URL',
          }),
        ),
        /** Milliseconds one smart-account check may take. 5000. */
        timeoutMs: positiveInt.max(60_000).optional(),
      })
      .strict()
      .optional(),
    /**
     * The QR-connect relay on the server's listener (`/v1/relay`, namespace `/connect`). On unless
     * `enabled: false` or `--relay off`. Channels live in memory (one node), or in Redis when the store is
     * Redis or `redisUrl` is set: then every node on the same Redis and key prefix shares every channel.
     */
    relay: z
      .object({
        enabled: z.boolean().optional(),
        /** `redis://HOST:PORT[/DB][?prefix=P]` for the relay alone (default: the store's Redis, if it is one). */
        redisUrl: z
          .string()
          .refine((u) => /^rediss?:\/\//.test(u) && URL.canParse(u), { message: 'a redis:// or rediss:// URL' })
          .optional(),
        /** Seconds a new channel waits for its wallet, 1-86400. 600. */
        channelTtlSeconds: positiveInt.max(86_400).optional(),
        /** Seconds a channel lives once its wallet joined, 60-2592000. 86400. */
        pairedTtlSeconds: z.number().int().min(60).max(2_592_000).optional(),
        /** Characters of an event's strings added up, 16384-1048576. 65536. */
        maxPayloadBytes: z.number().int().min(16_384).max(1_048_576).optional(),
        /** Messages kept for a peer that is away, 0-10000. 100. */
        bufferMessages: z.number().int().min(0).max(10_000).optional(),
        /** Bytes kept for a peer that is away, at least maxPayloadBytes. 1048576. */
        bufferBytes: z
          .number()
          .int()
          .min(0)
          .max(64 * 1_048_576)
          .optional(),
        /** Seconds a kept message waits for its peer, 1-86400. 300. */
        bufferTtlSeconds: positiveInt.max(86_400).optional(),
        /** Events per second per connection (0: no limit) and the bucket size. 20, 60. */
        rateLimit: z
          .object({
            perSecond: z.number().int().nonnegative().max(1_000_000).optional(),
            burst: positiveInt.max(1_000_000).optional(),
          })
          .strict()
          .optional(),
        /** Channels one node holds (in memory: connected or not; on Redis: with a connection here), 1-10000000. 10000. */
        maxChannels: positiveInt.max(10_000_000).optional(),
        /** Bytes kept for absent peers on all channels together (memory), at least bufferBytes. 67108864 (64 MiB). */
        maxBufferedBytes: z
          .number()
          .int()
          .min(0)
          .max(16 * 1024 * 1_048_576)
          .optional(),
        /** Open connections from one client address (IPv6: its /64), per node; 0: no limit. 64. */
        maxConnectionsPerAddress: z.number().int().nonnegative().max(1_000_000).optional(),
        /** Joins from one client address per minute, per node; 0: no limit. 120. */
        joinsPerMinutePerAddress: z.number().int().nonnegative().max(1_000_000).optional(),
      })
      .strict()
      .optional(),
    server: z
      .object({
        /** Interface to listen on; overridden by `--host` and `LATCHKEY_HOST`. */
        host: z.string().min(1).optional(),
        /** TCP port, 0 for any free one; overridden by `--port` and `LATCHKEY_PORT`. */
        port: z.number().int().min(0).max(65_535).optional(),
        /** pino level; overridden by `--log-level` and `LATCHKEY_LOG_LEVEL`. */
        logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
        /**
         * Take the client address from `X-Forwarded-For` set by the proxies in front, named by address or
         * CIDR (`["127.0.0.1"]`, `["10.0.0.0/8"]`, also `loopback`, `linklocal`, `uniquelocal`). Off.
         */
        trustProxy: z
          .unknown()
          .superRefine((value, ctx) => {
            const checked = checkTrustProxy(value);
            if ('problem' in checked) ctx.addIssue({ code: 'custom', message: checked.problem });
          })
          .transform((value) => value as false | string | string[])
          .optional(),
        /**
         * The path prefix a proxy in front strips (`/latchkey` for `https://example.com/latchkey/` →
         * `/`): stamps are verified over it + the path received. `''` (none) unless set.
         */
        basePath: z
          .string()
          .superRefine((value, ctx) => {
            const problem = basePathProblem(value);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
        /**
         * `secure: false` lets apps that are not served over https have cookies without `Secure` (plain
         * http://localhost). Default: `Secure` with the `__Host-` prefix; an https app always.
         */
        cookies: z.object({ secure: z.boolean().optional() }).strict().optional(),
        /** Seconds between two store reads of `/metrics`' active-sessions gauge, 1-3600. 15. */
        metrics: z
          .object({ statsIntervalSeconds: positiveInt.max(3600).optional() })
          .strict()
          .optional(),
        rateLimits: z
          .object({
            /** Seconds per counting window, 1-86400. 60. */
            windowSeconds: positiveInt.max(86_400).optional(),
            /** Requests per client address (an IPv6 client by its /64) per window; 0 turns a limit off. 30, 10, 30. */
            nonce: z.number().int().nonnegative().optional(),
            signIn: z.number().int().nonnegative().optional(),
            refresh: z.number().int().nonnegative().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type ConfigFile = z.output<typeof configFileSchema>;

/** Reads and validates the config file once; a UsageError names the file and the field. */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError('--config', `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config ${path}`, `not valid JSON (${jsonSyntaxDetail(error)})`);
  }
  return parseConfig(json, `config ${path}`);
}

/**
 * Where JSON.parse stopped, without its message: V8 quotes the text it could not read, and a
 * config file holds keys.
 */
export function jsonSyntaxDetail(error: unknown): string {
  const position = /position (\d+)/.exec(String((error as Error)?.message))?.[1];
  return position === undefined ? 'syntax error' : `syntax error at character ${position}`;
}

/** Validates a config object; `where` prefixes the field named in the error. */
export function parseConfig(json: unknown, where = 'config'): ConfigFile {
  const parsed = configFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    throw new UsageError(path === '' ? where : `${where} ${path}`, issue.message);
  }
  if (parsed.data.apps && Object.hasOwn(parsed.data.apps, DEFAULT_APP_ID)) {
    // `defaults` is the default app's one place; a second would silently win over it.
    throw new UsageError(`${where} apps.${DEFAULT_APP_ID}`, 'set the default app under "defaults"');
  }
  return parsed.data;
}
