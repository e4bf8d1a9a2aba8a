import { LatchkeyError } from '../errors/index.js';
import { DEFAULT_APP_ID } from './config.js';
import { type EngineContext, requireCipher } from './context.js';
import { sessionDataJson } from './inputs.js';
import { validateSession } from './validation.js';

export async function getSessionData(ctx: EngineContext, token: string, options: { appId?: string }): Promise<unknown> {
  const result = await validateSession(ctx, token, { ...options, withData: true });
  if (!result.valid) throw new LatchkeyError(result.code);
  return result.data;
}

export async function setSessionData(
  ctx: EngineContext,
  token: string,
  data: unknown,
  options: { appId?: string },
): Promise<void> {
  const appId = options.appId ?? DEFAULT_APP_ID;
  if (data !== null) sessionDataJson(data);
  const result = await validateSession(ctx, token, { appId });
  if (!result.valid) throw new LatchkeyError(result.code);
  const sealed = data === null ? null : requireCipher(ctx).seal(appId, result.session.id, data);
  const ok = await ctx.storeCall('setSessionData', () =>
    ctx.store.setSessionData(appId, result.session.id, sealed, ctx.clock.now()),
  );
  if (!ok) throw new LatchkeyError('SESSION_EXPIRED');
}
