import type { AuditDraft } from '../audit/entry.js';
import { LatchkeyError } from '../errors/index.js';
import { parseAccount } from '../subject/index.js';
import { newSessionId } from '../tokens/ids.js';
import { formatToken, hashSecret, newSecret } from '../tokens/secret.js';
import { type AppSettings, DEFAULT_APP_ID } from './config.js';
import { draft, type EngineContext, requireCipher } from './context.js';
import { type CreateSessionInput, createSessionInput, parseInput, sessionDataJson } from './inputs.js';
import type { SessionRecord } from './record.js';
import { noteRevoked } from './revocation.js';
import { type Session, toSession } from './view.js';

/** What sign-in and refresh hand back. The two tokens are shown once and never stored. */
export interface IssuedSession {
  session: Session;
  /** `lks_…`: the bearer credential for requests. */
  token: string;
  /** `lkr_…`: exchanged for a new pair by `refreshSession`. */
  refreshToken: string;
  /** A short-lived JWT, when the app has `accessTokens` configured. */
  accessToken?: string;
}

export async function createSession(ctx: EngineContext, input: CreateSessionInput): Promise<IssuedSession> {
  const parsed = parseInput(createSessionInput, input, 'input');
  const appId = parsed.appId ?? DEFAULT_APP_ID;
  const settings = ctx.settings(appId);
  const wallet = parseAccount(parsed.account);
  if (parsed.data !== undefined) sessionDataJson(parsed.data);
  const now = ctx.clock.now();
  const absoluteExpiresAt = Math.min(now + settings.absoluteLifetimeMs, parsed.notAfter ?? Number.POSITIVE_INFINITY);
  if (absoluteExpiresAt <= now)
    throw new LatchkeyError('VALIDATION_FAILED', { message: 'notAfter: must lie in the future', field: 'notAfter' });

  const id = newSessionId(appId, wallet.account, ctx.random);
  const sessionSecret = newSecret(ctx.random);
  const refreshSecret = newSecret(ctx.random);
  const record: SessionRecord = {
    id,
    appId,
    subject: wallet.account,
    chainType: wallet.chainType,
    userId: parsed.userId ?? null,
    authMethod: parsed.authMethod,
    scope: parsed.scope,
    roles: [...new Set(parsed.roles ?? settings.defaultRoles)],
    device: parsed.device,
    createdAt: now,
    lastActiveAt: now,
    idleExpiresAt: Math.min(now + settings.idleTimeoutMs, absoluteExpiresAt),
    absoluteExpiresAt,
    tokenHash: hashSecret(sessionSecret),
    refresh: {
      hash: hashSecret(refreshSecret),
      generation: 0,
      previousHash: null,
      rotatedAt: null,
      successor: null,
      retired: [],
    },
    data: parsed.data === undefined ? null : requireCipher(ctx).seal(appId, id, parsed.data),
  };

  // Minted before the write: a failure here leaves nothing stored.
  const accessToken = settings.accessTokens ? await ctx.access.issue(appId, record) : undefined;
  const result = await ctx.storeCall('createSession', () =>
    ctx.store.createSession({ record, limit: settings.maxSessionsPerWallet, policy: settings.limitPolicy, now }),
  );
  if (!result.created) {
    throw new LatchkeyError('SESSION_LIMIT_REACHED', {
      message: `This wallet already holds ${settings.maxSessionsPerWallet} live sessions.`,
    });
  }
  const drafts: AuditDraft[] = result.evicted.map((r) => draft(now, 'session_evicted', r, { reason: 'limit', by: id }));
  drafts.push(
    draft(now, 'session_created', record, { authMethod: record.authMethod, scope: record.scope, ...deviceDetails(record) }),
  );
  await ctx.record(appId, drafts, { created: 1, evicted: result.evicted.length });
  await noteRevoked(
    ctx,
    appId,
    result.evicted.map((r) => r.id),
  );
  ctx.logger.info('session created', { appId, sessionId: id, account: record.subject, authMethod: record.authMethod });
  return issued(ctx, record, settings, sessionSecret, refreshSecret, accessToken);
}

/** The answer to a new or rotated session: both tokens, and an access token when the app mints them. */
export async function issued(
  ctx: EngineContext,
  record: SessionRecord,
  settings: AppSettings,
  sessionSecret: string,
  refreshSecret: string,
  accessToken?: string,
): Promise<IssuedSession> {
  const answer: IssuedSession = {
    session: toSession(record, settings.roles),
    token: formatToken('session', record.id, sessionSecret),
    refreshToken: formatToken('refresh', record.id, refreshSecret),
  };
  if (settings.accessTokens) answer.accessToken = accessToken ?? (await ctx.access.issue(record.appId, record));
  return answer;
}

function deviceDetails(record: SessionRecord): AuditDraft['details'] {
  const d: AuditDraft['details'] = {};
  if (record.device.deviceId !== undefined) d.deviceId = record.device.deviceId;
  if (record.device.ip !== undefined) d.ip = record.device.ip;
  return d;
}
