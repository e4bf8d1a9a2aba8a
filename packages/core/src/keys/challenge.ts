import { LatchkeyError } from '../errors/index.js';
import { DEFAULT_APP_ID } from '../session/config.js';
import type { EngineContext } from '../session/context.js';
import { SESSION_ID_PATTERN } from '../tokens/ids.js';
import { readSessionKeys } from './listing.js';
import { CHALLENGE_NAMESPACE } from './record.js';
import type { VerifiedStamp } from './stamp.js';

/** How long a registration challenge can be used: 5 minutes. */
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
const CHALLENGE_BYTES = 32;

/**
 * A single-use challenge for registering a device key, bound to the session it was issued to. A session
 * has at most one outstanding challenge (a new one replaces it), so asking for challenges cannot grow
 * the store; it lives until it is taken or lapses. The challenge itself is random, not secret.
 *
 * Since a new challenge cancels the outstanding one, under `requireStamps` asking needs what making
 * the key needs: a stamp by a key of the session, unless the session holds no key record. That is a
 * session that never had a key, or one whose records all lapsed; such a session can make no key
 * without a stamp any more (its first-key mark stays), so a challenge asked for there cancels nothing
 * anyone could use.
 */
export async function createChallenge(
  ctx: EngineContext,
  input: { appId?: string; sessionId: string; stamp?: VerifiedStamp | null },
): Promise<{ challenge: string; expiresAt: number }> {
  const appId = input.appId ?? DEFAULT_APP_ID;
  const settings = ctx.settings(appId).sessionKeys;
  if (typeof input.sessionId !== 'string' || !SESSION_ID_PATTERN.test(input.sessionId)) {
    throw new LatchkeyError('VALIDATION_FAILED', { message: 'sessionId: a session id', field: 'sessionId' });
  }
  if (input.stamp && input.stamp.sessionId !== input.sessionId) throw new LatchkeyError('SESSION_KEY_MISMATCH');
  const now = ctx.clock.now();
  if (settings.isStampRequired && !input.stamp) {
    const keys = await ctx.storeCall('listEntries', () => readSessionKeys(ctx.store, appId, input.sessionId, now));
    if (keys.length > 0) throw new LatchkeyError('SIGNATURE_REQUIRED');
  }
  const challenge = Buffer.from(ctx.random.bytes(CHALLENGE_BYTES)).toString('base64url');
  const expiresAt = now + CHALLENGE_TTL_MS;
  await ctx.storeCall('putEntry', () =>
    ctx.store.putEntry(appId, CHALLENGE_NAMESPACE, { key: input.sessionId, value: challenge, expiresAt }, now),
  );
  return { challenge, expiresAt };
}

/**
 * Takes the session's outstanding challenge (atomically, once) and says whether it is `challenge`.
 * Taken either way: a wrong guess spends it, so one challenge buys one attempt.
 */
export async function takeChallenge(
  ctx: EngineContext,
  appId: string,
  input: { sessionId: string; challenge: string },
  now: number,
): Promise<boolean> {
  const issued = await ctx.store.takeEntry(appId, CHALLENGE_NAMESPACE, input.sessionId, now);
  return issued !== null && issued === input.challenge;
}
