import type { EngineContext } from '../session/context.js';
import { createChallenge } from './challenge.js';
import { type CreatedSessionKey, type CreateSessionKeyInput, createSessionKey } from './create.js';
import { SessionKeyCache } from './key-cache.js';
import { listWalletKeys, revokeSessionKey } from './listing.js';
import type { SessionKey } from './record.js';
import { type StampVerification, type VerifiedStamp, type VerifyStampInput, verifyStamp } from './stamp.js';

/**
 * Device-bound session keys (`latchkey.sessionKeys`): P-256 keys bound to one session, whose stamps
 * (`Latchkey-Signature`) prove that a request comes from the device holding the key, not just from
 * whoever holds the bearer token. The server keeps only public halves.
 *
 * @example
 * const { sessionKey, credentialBundle } = await latchkey.sessionKeys.create({
 *   session, scope: 'read-write', targetPublicKey: deviceHpkeKeyHex });
 * // …the device opens the bundle and stamps its requests; on each request:
 * const result = await latchkey.sessionKeys.verifyStamp({
 *   appId, sessionId: session.id, method, path, bodyDigest: bodyDigest(rawBody), header });
 * if (!result.valid) reply(result.code);
 */
export class SessionKeys {
  readonly #ctx: EngineContext;
  readonly #keyCache = new SessionKeyCache();

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  /**
   * Makes a key for a session: with `targetPublicKey` the server generates it and answers its private
   * half sealed to that key (HPKE credential bundle); with `registration` the device's own key joins,
   * after its proof over a challenge from `createChallenge`. A `stamp` by an expired key (verified with
   * `allowExpiredKey`) makes that key's one successor and revokes it. Throws VALIDATION_FAILED,
   * SESSION_KEY_TARGET_INVALID, SCOPE_READ_ONLY, SESSION_KEY_CHALLENGE_INVALID, SIGNATURE_INVALID,
   * SIGNATURE_REQUIRED (requireStamps, not the first key, no stamp), SESSION_KEY_REVOKED (the expired
   * stamping key made its successor already), SESSION_KEY_LIMIT_REACHED.
   */
  create(input: CreateSessionKeyInput): Promise<CreatedSessionKey> {
    return createSessionKey(this.#ctx, input);
  }

  /** The live keys of a wallet's live sessions in an app, oldest first. */
  list(input: { appId?: string; account: string }): Promise<SessionKey[]> {
    return listWalletKeys(this.#ctx, input);
  }

  /**
   * Revokes an unrevoked key of the wallet (only of `sessionId`, when given): a live one, or an expired
   * one whose record is still kept (so it cannot make its successor). Takes effect on the next stamp on
   * every node: the record is read on every request. False when there is no such key.
   */
  async revoke(input: { appId?: string; account: string; keyId: string; sessionId?: string; reason?: string }): Promise<boolean> {
    const revoked = await revokeSessionKey(this.#ctx, input);
    if (revoked) this.#keyCache.forget(input.keyId);
    return revoked;
  }

  /**
   * A single-use, 5-minute challenge for registering a device key with the session (it replaces the
   * session's outstanding one). Under `requireStamps` it needs the request's verified `stamp` (by a key
   * of the session, expired within the rotation grace allowed) once the session has had a key:
   * SIGNATURE_REQUIRED otherwise, so a bearer token alone cannot cancel the device's registration.
   */
  createChallenge(input: {
    appId?: string;
    sessionId: string;
    stamp?: VerifiedStamp | null;
  }): Promise<{ challenge: string; expiresAt: number }> {
    return createChallenge(this.#ctx, input);
  }

  /**
   * Verifies a request's stamp for a session the caller has already validated. Never throws for a bad
   * stamp: the answer is `{ valid: false, code }` (SESSION_KEY_EXPIRED with the key's `expiresAt`),
   * STORE_UNAVAILABLE when the store cannot answer. One read of the session's key records, one
   * `addEntry` for the nonce, one ECDSA verification with a cached key.
   */
  verifyStamp(input: VerifyStampInput): Promise<StampVerification> {
    return verifyStamp(this.#ctx, this.#keyCache, input);
  }
}
