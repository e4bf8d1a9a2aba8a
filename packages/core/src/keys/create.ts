import {
  generateP256KeyPair,
  isProtocolError,
  parseP256PublicKey,
  sealCredentialBundle,
  toHex,
  verifyRegistration,
} from '@latchkey/protocol';
import { z } from 'zod';
import { LatchkeyError } from '../errors/index.js';
import type { EngineContext } from '../session/context.js';
import { parseInput } from '../session/inputs.js';
import type { Session } from '../session/view.js';
import { takeChallenge } from './challenge.js';
import { liveKeyCount, pruneRetired, readSessionKeys, retireKey } from './listing.js';
import {
  encodeKeyRecord,
  FIRST_KEY_NAMESPACE,
  keyNamespace,
  newSessionKeyId,
  rotationNamespace,
  type SessionKey,
  type SessionKeyRecord,
  toSessionKey,
} from './record.js';
import { auditRejection, type VerifiedStamp } from './stamp.js';

const hex = z.string().regex(/^(0x)?[0-9a-fA-F]{66,130}$/, 'hex of a 33- or 65-byte P-256 public key');
const base64url = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, 'base64url');

/** What a client may ask for; the session, the stamp and the settings decide the rest. */
export const sessionKeyRequest = z
  .object({
    scope: z.enum(['read-only', 'read-write']),
    targetPublicKey: hex.optional().describe('HPKE target: the server makes the key and seals its private half to this key.'),
    registration: z
      .object({
        publicKey: hex.describe("The device's own key (65-byte uncompressed, hex): the private half never leaves it."),
        challenge: base64url(16, 128),
        signature: base64url(64, 128).describe('base64url r||s over the registration claims (docs/stamps.md).'),
      })
      .strict()
      .optional(),
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 60 * 60)
      .optional(),
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^\p{Cc}]+$/u, 'no control characters')
      .optional(),
  })
  .strict()
  .refine((r) => (r.targetPublicKey === undefined) !== (r.registration === undefined), {
    message: 'exactly one of targetPublicKey and registration',
    path: ['targetPublicKey'],
  });

export type SessionKeyRequest = z.input<typeof sessionKeyRequest>;

export interface CreateSessionKeyInput extends SessionKeyRequest {
  /** The session the key is for, as validation answered it. */
  session: Pick<Session, 'id' | 'appId' | 'account' | 'scope' | 'absoluteExpiresAt'>;
  /** The request's verified stamp, if it carried one: it must be the session's, and a read-only key makes only read-only keys. */
  stamp?: VerifiedStamp | null;
}

export interface CreatedSessionKey {
  sessionKey: SessionKey;
  /** With `targetPublicKey`: the new key's 32-byte private scalar, HPKE-sealed to the target (Turnkey's bundle format). */
  credentialBundle?: string;
}

/** Retired (expired or revoked) records a session keeps, newest first, so a stamp by one is told why it fails. */
const RETIRED_KEPT = 8;
/** How long an expired key's spent rotation is remembered past the end of its rotation grace. */
const ROTATION_MARK_MARGIN_MS = 60_000;
/** Retired records never outlast this, nor the app's idle timeout (a session idle longer is gone anyway). */
const MAX_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Makes a session key. Input is checked before anything is stored; a registration's challenge is
 * taken (single use) before its proof is verified; under `requireStamps` an unstamped request makes a
 * key only as the session's very first (one `addEntry`: of concurrent first keys exactly one wins).
 * A stamp by an expired key (within the rotation grace) makes that key's one successor and revokes
 * it (one `addEntry`: of concurrent rotations by it exactly one wins, SESSION_KEY_REVOKED for the
 * rest); a stamp by a live key leaves it live (a session may hold several keys; a client replacing
 * its key revokes the old one itself). The live-key limit is checked before and after the write, so
 * concurrent creations never leave more than `maxLiveKeys` (a loser removes its own key and is refused).
 */
export async function createSessionKey(ctx: EngineContext, input: CreateSessionKeyInput): Promise<CreatedSessionKey> {
  const { session, stamp, ...rest } = input;
  const request = parseInput(sessionKeyRequest, rest, 'input');
  const appId = session.appId;
  const appSettings = ctx.settings(appId);
  const settings = appSettings.sessionKeys;
  const ttlMs = request.ttlSeconds === undefined ? settings.ttlMs : request.ttlSeconds * 1000;
  if (ttlMs > settings.maxTtlMs) {
    throw new LatchkeyError('VALIDATION_FAILED', {
      message: `ttlSeconds: at most ${settings.maxTtlMs / 1000}`,
      field: 'ttlSeconds',
    });
  }
  const publicKey = publicKeyOf(request.targetPublicKey ?? request.registration!.publicKey);
  if (request.scope === 'read-write' && (session.scope === 'read-only' || stamp?.scope === 'read-only')) {
    throw new LatchkeyError('SCOPE_READ_ONLY', { message: 'A read-only session or key can only make read-only keys.' });
  }
  if (stamp && stamp.sessionId !== session.id) throw new LatchkeyError('SESSION_KEY_MISMATCH');

  const now = ctx.clock.now();
  if (request.registration) {
    const { challenge, signature } = request.registration;
    const isIssued = await ctx.storeCall('takeEntry', () => takeChallenge(ctx, appId, { sessionId: session.id, challenge }, now));
    if (!isIssued) throw new LatchkeyError('SESSION_KEY_CHALLENGE_INVALID');
    const claims = {
      version: 1,
      purpose: 'latchkey-session-key-registration',
      challenge,
      publicKey: toHex(publicKey),
      scope: request.scope,
    } as const;
    if (!verifyRegistration(claims, signature)) {
      await auditRejection(
        ctx,
        appId,
        { sessionId: session.id, subject: session.account },
        { code: 'SIGNATURE_INVALID', purpose: 'registration' },
      );
      throw new LatchkeyError('SIGNATURE_INVALID');
    }
  }

  // Every session that gets a key is marked, so that turning `requireStamps` on later still knows it.
  const marker = { key: session.id, value: '1', expiresAt: session.absoluteExpiresAt };
  if (settings.isStampRequired && !stamp) {
    const isFirst = await ctx.storeCall('addEntry', () => ctx.store.addEntry(appId, FIRST_KEY_NAMESPACE, marker, now));
    if (!isFirst) throw new LatchkeyError('SIGNATURE_REQUIRED');
  } else {
    await ctx.storeCall('putEntry', () => ctx.store.putEntry(appId, FIRST_KEY_NAMESPACE, marker, now));
  }
  const existing = await ctx.storeCall('listEntries', () => readSessionKeys(ctx.store, appId, session.id, now));
  if (liveKeyCount(existing, now) >= settings.maxLiveKeys) throw limitReached(settings.maxLiveKeys);
  // An expired key makes one successor: of concurrent rotations by it exactly one adds this entry, and
  // the others (and any later try) are told SESSION_KEY_REVOKED; the winner revokes the key below. The
  // entry outlives the grace by a margin, so rotations whose stamps passed just inside it still meet it.
  const rotation = stamp?.isKeyExpired
    ? {
        key: stamp.keyId,
        value: '1',
        expiresAt: Math.max(stamp.expiresAt + settings.rotationGraceMs, now) + ROTATION_MARK_MARGIN_MS,
      }
    : null;
  if (rotation) {
    const isFirstSuccessor = await ctx.storeCall('addEntry', () =>
      ctx.store.addEntry(appId, rotationNamespace(session.id), rotation, now),
    );
    if (!isFirstSuccessor) throw new LatchkeyError('SESSION_KEY_REVOKED');
  }

  let credentialBundle: string | undefined;
  let keyPublicHex = toHex(publicKey);
  if (request.targetPublicKey !== undefined) {
    const pair = generateP256KeyPair();
    try {
      credentialBundle = await sealCredentialBundle(pair.privateKey, publicKey);
    } finally {
      pair.privateKey.fill(0);
    }
    keyPublicHex = toHex(pair.publicKey);
  }
  const record: SessionKeyRecord = {
    id: newSessionKeyId(session.id, ctx.random.bytes(16)),
    sessionId: session.id,
    subject: session.account,
    publicKey: keyPublicHex,
    scope: request.scope,
    name: request.name ?? null,
    origin: request.registration ? 'registration' : 'bundle',
    createdAt: now,
    expiresAt: Math.min(now + ttlMs, session.absoluteExpiresAt),
    revokedAt: null,
  };
  const retention = Math.min(appSettings.idleTimeoutMs, MAX_RETENTION_MS);
  const entry = {
    key: record.id,
    value: encodeKeyRecord(record),
    expiresAt: Math.min(session.absoluteExpiresAt, record.expiresAt + retention),
  };
  const namespace = keyNamespace(session.id);
  await ctx.storeCall('putEntry', () => ctx.store.putEntry(appId, namespace, entry, now));

  const after = await ctx.storeCall('listEntries', () => readSessionKeys(ctx.store, appId, session.id, now));
  if (liveKeyCount(after, now) > settings.maxLiveKeys) {
    await ctx.storeCall('deleteEntry', () => ctx.store.deleteEntry(appId, namespace, record.id, now));
    // Nothing was made, so the expired key keeps its one rotation (best effort: if this fails, it has none).
    if (rotation) await ctx.store.deleteEntry(appId, rotationNamespace(session.id), rotation.key, now).catch(() => false);
    throw limitReached(settings.maxLiveKeys);
  }
  if (rotation) {
    await retireKey(ctx, appId, { sessionId: session.id, subject: session.account, keyId: rotation.key, reason: 'rotated' }, now);
  }
  await pruneRetired(ctx, appId, session.id, after, now, RETIRED_KEPT);
  await ctx.record(
    appId,
    [
      {
        at: now,
        type: 'session_key_created',
        sessionId: session.id,
        subject: session.account,
        details: {
          keyId: record.id,
          scope: record.scope,
          origin: record.origin,
          expiresAt: record.expiresAt,
          stamped: Boolean(stamp),
        },
      },
    ],
    {},
  );
  ctx.logger.info('session key created', { appId, sessionId: session.id, keyId: record.id, scope: record.scope });
  const sessionKey = toSessionKey(record);
  return credentialBundle === undefined ? { sessionKey } : { sessionKey, credentialBundle };
}

function publicKeyOf(hexKey: string): Uint8Array {
  try {
    return parseP256PublicKey(hexKey.startsWith('0x') ? hexKey.slice(2) : hexKey);
  } catch (error) {
    if (isProtocolError(error)) throw new LatchkeyError('SESSION_KEY_TARGET_INVALID');
    throw error;
  }
}

function limitReached(max: number): LatchkeyError {
  return new LatchkeyError('SESSION_KEY_LIMIT_REACHED', { message: `This session already holds ${max} live session keys.` });
}
