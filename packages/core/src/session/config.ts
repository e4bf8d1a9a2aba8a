import { z } from 'zod';
import type { DataKeyRing } from '../crypto/keyring.js';
import { LatchkeyError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import type { Clock, RandomSource } from '../runtime.js';
import type { Store } from '../store/contract.js';

const SECOND = 1000;

/** App id: the tenant every record belongs to. */
export const APP_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const DEFAULT_APP_ID = 'default';

const permission = z
  .string()
  .regex(/^(\*|[a-z][a-z0-9_-]*:(\*|[a-z0-9_.-]+))$/, 'permission must be "*" or "<action>:<resource>" (resource may be *)');

/** Per-app session settings. Every default and unit is written here, once. */
export const appSettingsSchema = z
  .object({
    /** Seconds without activity before a session lapses. 2 hours. */
    idleTimeoutSeconds: z
      .number()
      .int()
      .positive()
      .default(2 * 60 * 60),
    /** Seconds from sign-in after which a session lapses whatever its activity. 7 days. */
    absoluteLifetimeSeconds: z
      .number()
      .int()
      .positive()
      .default(7 * 24 * 60 * 60),
    /** Validation says `refreshRecommended` this many seconds before idle expiry. 30 minutes. */
    refreshWindowSeconds: z
      .number()
      .int()
      .nonnegative()
      .default(30 * 60),
    /** At most one activity write per session per this many seconds. 60 seconds. */
    activityThrottleSeconds: z.number().int().nonnegative().default(60),
    /** Seconds after the first rotation in which the previous refresh token still gets the same successor. 30 seconds. */
    refreshGraceSeconds: z.number().int().nonnegative().max(300).default(30),
    /** Live sessions one wallet may hold in this app. 10. */
    maxSessionsPerWallet: z.number().int().positive().max(1000).default(10),
    /** What happens at the limit: drop the oldest session, or refuse the new one. */
    limitPolicy: z.enum(['evict-oldest', 'reject']).default('evict-oldest'),
    /** Role → permissions granted. `*` grants everything; `write:*` every write. */
    roles: z.record(z.string().min(1).max(64), z.array(permission)).default({}),
    /** Roles given to a session created without any. */
    defaultRoles: z.array(z.string().min(1).max(64)).default([]),
    /** Retired refresh-token hashes remembered per session for reuse detection. 32. */
    retiredRefreshTokens: z.number().int().min(1).max(256).default(32),
  })
  .strict()
  .refine((s) => s.idleTimeoutSeconds <= s.absoluteLifetimeSeconds, {
    message: 'idleTimeoutSeconds must not exceed absoluteLifetimeSeconds',
    path: ['idleTimeoutSeconds'],
  });

export type AppSettingsInput = z.input<typeof appSettingsSchema>;

/** Settings in the units the engine computes with (milliseconds). */
export interface AppSettings {
  readonly idleTimeoutMs: number;
  readonly absoluteLifetimeMs: number;
  readonly refreshWindowMs: number;
  readonly activityThrottleMs: number;
  readonly refreshGraceMs: number;
  readonly maxSessionsPerWallet: number;
  readonly limitPolicy: 'evict-oldest' | 'reject';
  readonly roles: Readonly<Record<string, readonly string[]>>;
  readonly defaultRoles: readonly string[];
  readonly retiredRefreshTokens: number;
}

export interface LatchkeyOptions {
  store: Store;
  /** Defaults to the system clock. */
  clock?: Clock;
  /** Defaults to WebCrypto `getRandomValues`. */
  random?: RandomSource;
  /** Defaults to a silent logger. */
  logger?: Logger;
  /** Settings for the `default` app and the base of every other app's. */
  defaults?: AppSettingsInput;
  /** Further apps by id, each overriding `defaults`. Unlisted app ids are refused with APP_UNKNOWN. */
  apps?: Record<string, AppSettingsInput>;
  /** Keys for session data at rest. Without them, storing session data throws ENCRYPTION_KEY_MISSING. */
  dataKeys?: DataKeyRing;
  /** Seconds between scheduled cleanups of expired sessions; 0 turns the schedule off. 3600. */
  cleanupIntervalSeconds?: number;
}

function toSettings(input: z.output<typeof appSettingsSchema>): AppSettings {
  return Object.freeze({
    idleTimeoutMs: input.idleTimeoutSeconds * SECOND,
    absoluteLifetimeMs: input.absoluteLifetimeSeconds * SECOND,
    refreshWindowMs: input.refreshWindowSeconds * SECOND,
    activityThrottleMs: input.activityThrottleSeconds * SECOND,
    refreshGraceMs: input.refreshGraceSeconds * SECOND,
    maxSessionsPerWallet: input.maxSessionsPerWallet,
    limitPolicy: input.limitPolicy,
    roles: Object.freeze(Object.fromEntries(Object.entries(input.roles).map(([k, v]) => [k, Object.freeze([...v])]))),
    defaultRoles: Object.freeze([...input.defaultRoles]),
    retiredRefreshTokens: input.retiredRefreshTokens,
  });
}

function configError(where: string, error: z.ZodError): LatchkeyError {
  const issue = error.issues[0]!;
  const path = [where, ...issue.path.map(String)].join('.');
  return new LatchkeyError('CONFIG_INVALID', { message: `${path}: ${issue.message}`, field: path });
}

/** Validates every app's settings once, at construction; throws CONFIG_INVALID naming the option. */
export function resolveAppSettings(
  defaults: AppSettingsInput | undefined,
  apps: Record<string, AppSettingsInput> | undefined,
): ReadonlyMap<string, AppSettings> {
  const base = appSettingsSchema.safeParse(defaults ?? {});
  if (!base.success) throw configError('defaults', base.error);
  const out = new Map<string, AppSettings>([[DEFAULT_APP_ID, toSettings(base.data)]]);
  for (const [appId, overrides] of Object.entries(apps ?? {})) {
    if (!APP_ID_PATTERN.test(appId))
      throw new LatchkeyError('CONFIG_INVALID', {
        message: `apps.${appId}: app id must match ${APP_ID_PATTERN}`,
        field: `apps.${appId}`,
      });
    const parsed = appSettingsSchema.safeParse({ ...(defaults ?? {}), ...overrides });
    if (!parsed.success) throw configError(`apps.${appId}`, parsed.error);
    out.set(appId, toSettings(parsed.data));
  }
  return out;
}
