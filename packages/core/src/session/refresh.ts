import { aesGcmOpen, aesGcmSeal, deriveKey } from '../crypto/aead.js';
import { LatchkeyError } from '../errors/index.js';
import { hashesEqual, hashSecret, newSecret, parseToken } from '../tokens/secret.js';
import { DEFAULT_APP_ID } from './config.js';
import { draft, type EngineContext } from './context.js';
import { type IssuedSession, issued } from './issue.js';
import { isLive } from './record.js';
import { noteRevoked } from './revocation.js';

const SUCCESSOR_INFO = 'latchkey/refresh-successor/v1';

export async function refreshSession(
  ctx: EngineContext,
  refreshToken: string,
  options: { appId?: string },
): Promise<IssuedSession> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  const settings = ctx.settings(appId);
  const parsed = parseToken('refresh', refreshToken);
  if (!parsed) throw new LatchkeyError('REFRESH_TOKEN_INVALID');
  const now = ctx.clock.now();
  const presentedHash = hashSecret(parsed.secret);
  const sessionSecret = newSecret(ctx.random);
  const refreshSecret = newSecret(ctx.random);
  // Only the holder of the presented refresh secret can open the successor: a concurrent refresh
  // inside the grace window gets the same pair back, and the store never sees a usable secret.
  const successorKey = deriveKey(parsed.secret, SUCCESSOR_INFO);
  const successor = Buffer.from(
    aesGcmSeal(successorKey, Buffer.from(`${sessionSecret}.${refreshSecret}`), `${appId}|${parsed.id}`, ctx.random),
  ).toString('base64url');

  const result = await ctx.storeCall('rotateRefresh', () =>
    ctx.store.rotateRefresh({
      appId,
      id: parsed.id,
      presentedHash,
      now,
      graceMs: settings.refreshGraceMs,
      retiredLimit: settings.retiredRefreshTokens,
      next: {
        tokenHash: hashSecret(sessionSecret),
        refreshHash: hashSecret(refreshSecret),
        successor,
        idleExpiresAt: now + settings.idleTimeoutMs,
      },
    }),
  );

  switch (result.outcome) {
    case 'rotated': {
      await ctx.record(
        appId,
        [draft(now, 'session_refreshed', result.record, { generation: result.record.refresh.generation })],
        { refreshed: 1 },
      );
      return await issued(ctx, result.record, settings, sessionSecret, refreshSecret);
    }
    case 'grace': {
      const sealed = result.record.refresh.successor;
      const opened = sealed === null ? null : aesGcmOpen(successorKey, Buffer.from(sealed, 'base64url'), `${appId}|${parsed.id}`);
      const [s, r] = opened ? Buffer.from(opened).toString('utf8').split('.') : [];
      if (!s || !r) {
        ctx.logger.error('grace successor could not be opened', { appId, sessionId: parsed.id });
        throw new LatchkeyError('REFRESH_TOKEN_INVALID');
      }
      return await issued(ctx, result.record, settings, s, r);
    }
    case 'reused': {
      const record = result.record;
      await ctx.record(
        appId,
        [draft(now, 'refresh_token_reused', record, { generation: record.refresh.generation, revoked: true })],
        {
          reuseDetected: 1,
          revoked: 1,
        },
      );
      await noteRevoked(ctx, appId, [record.id]);
      ctx.logger.warn('refresh token reuse detected; session revoked', {
        appId,
        sessionId: record.id,
        account: record.subject,
      });
      throw new LatchkeyError('REFRESH_TOKEN_REUSED');
    }
    case 'invalid': {
      const record = await ctx.storeCall('getSession', () => ctx.store.getSession(appId, parsed.id));
      if (record && hashesEqual(record.refresh.hash, presentedHash) && !isLive(record, now))
        throw new LatchkeyError('SESSION_EXPIRED');
      throw new LatchkeyError('REFRESH_TOKEN_INVALID');
    }
  }
}
