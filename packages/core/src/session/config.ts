import { normalizeRelayUrl } from '@latchkey/protocol/connect';
import { z } from 'zod';
import type { DataKeyRing } from '../crypto/keyring.js';
import { LatchkeyError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import type { Clock, RandomSource } from '../runtime.js';
import type { SmartAccounts } from '../signin/ethereum-signature.js';
import type { ResolveSignIn } from '../signin/host.js';
import { SOLANA_CLUSTERS } from '../signin/siws.js';
import type { Store } from '../store/contract.js';

const SECOND = 1000;

/** App id: the tenant every record belongs to. */
export const APP_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const DEFAULT_APP_ID = 'default';

const permission = z
  .string()
  .regex(/^(\*|[a-z][a-z0-9_-]*:(\*|[a-z0-9_.-]+))$/, 'permission must be "*" or "<action>:<resource>" (resource may be *)');

const signInSchema = z
  .object({
    /** The RFC 3986 authority every message must name, e.g. `app.example.com` or `localhost:3000`. */
    domain: z.string().min(1).max(255),
    /** The origin every message URI must have, e.g. `https://app.example.com`. */
    origin: z
      .string()
      .max(300)
      .refine((o) => URL.canParse(o) && new URL(o).origin === o, 'origin must be a bare origin like https://app.example.com'),
    /** EIP-155 chain ids accepted by Sign-In with Ethereum; empty turns it off. */
    chainIds: z.array(z.number().int().positive()).default([]),
    /** Solana clusters accepted by Sign-In with Solana (`mainnet`, `devnet`, `testnet` or a genesis-hash prefix); empty turns it off. */
    solanaClusters: z.array(z.string().min(1).max(64)).default([]),
    /** Seconds an issued nonce stays usable. 300 (5 minutes). */
    nonceTtlSeconds: z.number().int().positive().max(3600).default(300),
    /** Seconds of clock difference tolerated on a message's times. 60. */
    clockSkewSeconds: z.number().int().nonnegative().max(600).default(60),
  })
  .strict();

const accessTokensSchema = z
  .object({
    /** JWS algorithm. EdDSA (Ed25519) by default; ES256 on request; HS256 only with `secret`. */
    algorithm: z.enum(['EdDSA', 'ES256', 'HS256']).default('EdDSA'),
    /** HS256 only: the shared secret, at least 32 characters. */
    secret: z.string().optional(),
    /** The `iss` claim. */
    issuer: z.string().min(1).max(255).default('latchkey'),
    /** The `aud` claim verifiers require. */
    audience: z.string().min(1).max(255),
    /** Seconds an access token lives, before up to 5% random shortening. 900 (15 minutes). */
    lifetimeSeconds: z.number().int().min(30).max(86_400).default(900),
    /** Seconds a new signing key is published in the JWKS before it signs. 60. */
    keyPublishSeconds: z.number().int().nonnegative().max(3600).default(60),
    /** Seconds of clock difference tolerated when verifying `exp` and `iat`. 30. */
    clockSkewSeconds: z.number().int().nonnegative().max(300).default(30),
    /** Verification also refuses tokens of revoked sessions, learned from the store within a second. */
    revocationCheck: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.algorithm === 'HS256' && (a.secret === undefined || a.secret.length < 32)) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'HS256 needs a secret of at least 32 characters' });
    }
    if (a.algorithm !== 'HS256' && a.secret !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'a secret is only for HS256; EdDSA and ES256 keys are generated and stored encrypted',
      });
    }
  });

const sessionKeysSchema = z
  .object({
    /** Every session-authenticated route needs a stamp (`Latchkey-Signature`), but for the documented exemptions. Off. */
    requireStamps: z.boolean().default(false),
    /** Seconds a new session key lives when the request names no `ttlSeconds`. 900 (15 minutes). */
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 60 * 60)
      .default(900),
    /** Most seconds a client may ask for. 86400 (1 day). A key never outlives its session's absolute expiry. */
    maxTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 60 * 60)
      .default(86_400),
    /** Live (unexpired, unrevoked) keys one session may hold. 20. */
    maxLiveKeys: z.number().int().min(1).max(100).default(20),
    /** Seconds a stamp's timestamp may lie from the server clock, either way. 60. */
    skewSeconds: z.number().int().min(1).max(600).default(60),
    /**
     * Seconds after its expiry during which an unrevoked key may still stamp the making of its one
     * successor (`POST /v1/session-keys`, and its registration challenge). 300 (5 minutes); 0: an
     * expired key makes nothing, and the client needs a live key to rotate.
     */
    rotationGraceSeconds: z.number().int().min(0).max(3600).default(300),
  })
  .strict()
  .refine((k) => k.ttlSeconds <= k.maxTtlSeconds, {
    message: 'ttlSeconds must not exceed maxTtlSeconds',
    path: ['ttlSeconds'],
  });

/** A relay URL in any spelling `normalizeRelayUrl` accepts; kept in its canonical form. */
const relayUrl = z
  .string()
  .min(1)
  .max(512)
  .superRefine((url, ctx) => {
    try {
      normalizeRelayUrl(url);
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: 'a relay URL: https://host[:port][/path] (http only on localhost, 127.0.0.1, [::1])',
      });
    }
  });

const connectSchema = z
  .object({
    /**
     * The public URL(s) of the relay(s) whose connect session tokens this app accepts, as dApps pass
     * them to `ConnectDapp` (usually this server's own URL). A token naming any other relay is refused.
     */
    relayUrls: z.array(relayUrl).min(1).max(8),
    /** EIP-155 chain ids whose accounts may connect. Omitted: any. */
    chainIds: z.array(z.number().int().positive()).min(1).optional(),
    /** Solana clusters (`mainnet`, `devnet`, `testnet` or a genesis-hash prefix) whose accounts may connect. Omitted: any. */
    solanaClusters: z.array(z.string().min(1).max(64)).min(1).optional(),
    /** Refuse tokens signed longer ago than this many seconds. Omitted: only the token's own expiry counts. */
    maxTokenAgeSeconds: z
      .number()
      .int()
      .positive()
      .max(7 * 24 * 60 * 60)
      .optional(),
    /** Seconds a token's `issuedAt` may lie in the future. 60. */
    clockSkewSeconds: z.number().int().nonnegative().max(600).default(60),
  })
  .strict();

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
    /** Wallet sign-in (Sign-In with Ethereum / Solana). Off unless configured. */
    signIn: signInSchema.optional(),
    /** Short-lived JWT access tokens beside the opaque session token. Off unless configured. */
    accessTokens: accessTokensSchema.optional(),
    /** QR connect: session tokens exchanged at `POST /v1/auth/connect` (signInWithConnect). Off unless configured. */
    connect: connectSchema.optional(),
    /** Device-bound session keys and request stamps (docs/stamps.md). Always on; these tune them. */
    sessionKeys: sessionKeysSchema.prefault({}),
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
  readonly signIn: SignInSettings | null;
  readonly accessTokens: AccessTokenSettings | null;
  readonly connect: ConnectSettings | null;
  readonly sessionKeys: SessionKeySettings;
}

/** Connect-bridge settings in engine units; relay URLs canonical, Solana clusters as genesis-hash prefixes. */
export interface ConnectSettings {
  readonly relayUrls: readonly string[];
  /** null: any chain of that kind. */
  readonly chainIds: readonly number[] | null;
  readonly solanaClusters: readonly string[] | null;
  /** null: no limit beyond the token's expiry. */
  readonly maxTokenAgeMs: number | null;
  readonly clockSkewMs: number;
}

/** Session-key settings in engine units. */
export interface SessionKeySettings {
  readonly isStampRequired: boolean;
  readonly ttlMs: number;
  readonly maxTtlMs: number;
  readonly maxLiveKeys: number;
  readonly skewMs: number;
  /** How long after its expiry a key may still stamp the making of its one successor. */
  readonly rotationGraceMs: number;
}

/** Access-token settings in engine units. */
export interface AccessTokenSettings {
  readonly algorithm: 'EdDSA' | 'ES256' | 'HS256';
  readonly secret: string | null;
  readonly issuer: string;
  readonly audience: string;
  readonly lifetimeMs: number;
  readonly keyPublishMs: number;
  readonly clockSkewMs: number;
  readonly isRevocationChecked: boolean;
}

/** Sign-in settings in engine units; Solana clusters as CAIP-2 references (genesis-hash prefixes). */
export interface SignInSettings {
  readonly domain: string;
  readonly origin: string;
  readonly chainIds: readonly number[];
  readonly solanaClusters: readonly string[];
  readonly nonceTtlMs: number;
  readonly clockSkewMs: number;
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
  /**
   * Smart-account signature checks (ERC-1271, ERC-6492) for Sign-In with Ethereum and the connect
   * bridge, by chain id; usually viem public clients. Without one, only EOA signatures verify on that chain.
   */
  smartAccounts?: SmartAccounts;
  /** Roles and user id for a wallet that just signed in, from the app's own records. Default: the app's default roles. */
  resolveSignIn?: ResolveSignIn;
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
    signIn: input.signIn
      ? Object.freeze({
          domain: input.signIn.domain,
          origin: input.signIn.origin,
          chainIds: Object.freeze([...input.signIn.chainIds]),
          solanaClusters: Object.freeze(input.signIn.solanaClusters.map((c) => SOLANA_CLUSTERS[c] ?? c)),
          nonceTtlMs: input.signIn.nonceTtlSeconds * SECOND,
          clockSkewMs: input.signIn.clockSkewSeconds * SECOND,
        })
      : null,
    accessTokens: input.accessTokens
      ? Object.freeze({
          algorithm: input.accessTokens.algorithm,
          secret: input.accessTokens.secret ?? null,
          issuer: input.accessTokens.issuer,
          audience: input.accessTokens.audience,
          lifetimeMs: input.accessTokens.lifetimeSeconds * SECOND,
          keyPublishMs: input.accessTokens.keyPublishSeconds * SECOND,
          clockSkewMs: input.accessTokens.clockSkewSeconds * SECOND,
          isRevocationChecked: input.accessTokens.revocationCheck,
        })
      : null,
    connect: input.connect
      ? Object.freeze({
          relayUrls: Object.freeze([...new Set(input.connect.relayUrls.map(normalizeRelayUrl))]),
          chainIds: input.connect.chainIds ? Object.freeze([...input.connect.chainIds]) : null,
          solanaClusters: input.connect.solanaClusters
            ? Object.freeze(input.connect.solanaClusters.map((c) => SOLANA_CLUSTERS[c] ?? c))
            : null,
          maxTokenAgeMs: input.connect.maxTokenAgeSeconds === undefined ? null : input.connect.maxTokenAgeSeconds * SECOND,
          clockSkewMs: input.connect.clockSkewSeconds * SECOND,
        })
      : null,
    sessionKeys: Object.freeze({
      isStampRequired: input.sessionKeys.requireStamps,
      ttlMs: input.sessionKeys.ttlSeconds * SECOND,
      maxTtlMs: input.sessionKeys.maxTtlSeconds * SECOND,
      maxLiveKeys: input.sessionKeys.maxLiveKeys,
      skewMs: input.sessionKeys.skewSeconds * SECOND,
      rotationGraceMs: input.sessionKeys.rotationGraceSeconds * SECOND,
    }),
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
): Map<string, AppSettings> {
  const base = appSettingsSchema.safeParse(defaults ?? {});
  if (!base.success) throw configError('defaults', base.error);
  const out = new Map<string, AppSettings>([[DEFAULT_APP_ID, toSettings(base.data)]]);
  for (const [appId, overrides] of Object.entries(apps ?? {})) out.set(appId, resolveApp(appId, defaults, overrides));
  return out;
}

/** One app's settings: `defaults` overridden by the app's own, validated (CONFIG_INVALID naming the option). */
export function resolveApp(appId: string, defaults: AppSettingsInput | undefined, overrides: AppSettingsInput): AppSettings {
  if (!APP_ID_PATTERN.test(appId)) {
    throw new LatchkeyError('CONFIG_INVALID', {
      message: `apps.${appId}: app id must match ${APP_ID_PATTERN}`,
      field: `apps.${appId}`,
    });
  }
  const parsed = appSettingsSchema.safeParse({ ...(defaults ?? {}), ...overrides });
  if (!parsed.success) throw configError(`apps.${appId}`, parsed.error);
  return toSettings(parsed.data);
}
