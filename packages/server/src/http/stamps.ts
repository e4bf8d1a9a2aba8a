import { createHash } from 'node:crypto';
import type { StampVerification, VerifiedStamp, VerifyStampInput } from '@latchkey/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { REALM } from './credentials.js';
import { HttpRejection } from './problems.js';

/** The request header a stamp travels in (`STAMP_HEADER` of @latchkey/protocol, lower-cased as Node has it). */
export const STAMP_HEADER_NAME = 'latchkey-signature';

/**
 * How a session route treats stamps. Every session route verifies a stamp that comes; under the app's
 * `requireStamps` a route without a rule refuses a request without one (SIGNATURE_REQUIRED), and a
 * read-only key may sign only GET, HEAD and OPTIONS.
 * - `exempt`: no stamp needed (signing out); a read-only key may sign it.
 * - `rotation`: making a session key and asking for its registration challenge. No stamp needed at this
 *   layer: the engine decides (under `requireStamps`, an unstamped request is allowed only while the
 *   session has had no key). A stamp by a key of the session that expired less than
 *   `rotationGraceSeconds` ago and is unrevoked passes, so a client can replace its key (the key makes
 *   one successor); a read-only key may sign it (and makes only read-only keys).
 * - `revocation`: revoking a session key. A stamp is needed as on any route, and a read-only key may
 *   sign it too: the handler lets it revoke only itself, so a client can always retire the key it replaces.
 */
export type StampRule = 'exempt' | 'rotation' | 'revocation';

const rawBodies = new WeakMap<FastifyRequest, Buffer>();

/**
 * JSON bodies are read as bytes and kept beside the parsed value: a stamp signs the body exactly as
 * sent, which re-serialising the parsed value would not reproduce. Parsing is Fastify's own JSON
 * parser with the same settings as before (`__proto__` and `constructor.prototype` refused, an empty
 * body refused), and the server's body limit applies while reading.
 */
export function keepRawJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error') as unknown as (
    request: FastifyRequest,
    body: Buffer,
    done: (error: Error | null, value?: unknown) => void,
  ) => void;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    rawBodies.set(request, body as Buffer);
    parseJson(request, body as Buffer, done);
  });
}

const EMPTY_BODY_DIGEST = createHash('sha256').digest('base64url');

/** base64url(SHA-256) of the body bytes as received; a request without a body hashes as empty (`bodyDigest` of @latchkey/protocol). */
export function receivedBodyDigest(request: FastifyRequest): string {
  const raw = rawBodies.get(request);
  return raw === undefined || raw.length === 0 ? EMPTY_BODY_DIGEST : createHash('sha256').update(raw).digest('base64url');
}

/** RFC 6750-style challenge for a stamp failure: `invalid_request` for a malformed header, else an error word of our own. */
function stampChallenge(error: string): Record<string, string> {
  return { 'www-authenticate': `Bearer realm="${REALM}", error="${error}"` };
}

/** 401 SIGNATURE_REQUIRED with `WWW-Authenticate: Bearer realm="latchkey", error="signature_required"`. */
export function signatureRequired(): HttpRejection {
  return new HttpRejection('SIGNATURE_REQUIRED', { headers: stampChallenge('signature_required') });
}

/** 401 SESSION_KEY_REVOKED with `WWW-Authenticate: Bearer realm="latchkey", error="invalid_token"`, as a stamp by a revoked key gets. */
export function sessionKeyRevoked(): HttpRejection {
  return new HttpRejection('SESSION_KEY_REVOKED', { headers: stampChallenge('invalid_token') });
}

/**
 * Verifies the stamp of a session-authenticated request, or insists on one. Null when the request
 * carried none and needs none. The signed path is `basePath` (the prefix a proxy stripped) followed by
 * the request target as received. Refusals are thrown as the registry has them: 400
 * SIGNATURE_MALFORMED, 401 (SESSION_KEY_EXPIRED with `expiresAt` in the body and
 * `error="session_key_expired"`), 403 SESSION_KEY_MISMATCH or SCOPE_READ_ONLY, 503 when the store
 * cannot answer.
 */
export async function checkStamp(
  request: FastifyRequest,
  input: { appId: string; sessionId: string; rule: StampRule | undefined; isStampRequired: boolean; basePath: string },
  verify: (input: VerifyStampInput) => Promise<StampVerification>,
): Promise<VerifiedStamp | null> {
  const header = request.headers[STAMP_HEADER_NAME];
  if (header === undefined) {
    if (input.isStampRequired && (input.rule === undefined || input.rule === 'revocation')) throw signatureRequired();
    return null;
  }
  if (typeof header !== 'string') throw new HttpRejection('SIGNATURE_MALFORMED', { headers: stampChallenge('invalid_request') });
  const result = await verify({
    appId: input.appId,
    sessionId: input.sessionId,
    method: request.method,
    path: input.basePath + request.url,
    bodyDigest: receivedBodyDigest(request),
    header,
    ...(input.rule === 'rotation' ? { allowExpiredKey: true } : {}),
    ...(input.rule === undefined ? {} : { isWrite: false }),
  });
  if (result.valid) return result;
  switch (result.code) {
    case 'SESSION_KEY_EXPIRED':
      throw new HttpRejection('SESSION_KEY_EXPIRED', {
        headers: stampChallenge('session_key_expired'),
        extra: { expiresAt: result.expiresAt },
      });
    case 'SIGNATURE_MALFORMED':
      throw new HttpRejection('SIGNATURE_MALFORMED', { headers: stampChallenge('invalid_request') });
    case 'SESSION_KEY_MISMATCH':
    case 'SCOPE_READ_ONLY':
    case 'STORE_UNAVAILABLE':
      throw new HttpRejection(result.code);
    default:
      throw new HttpRejection(result.code, { headers: stampChallenge('invalid_token') });
  }
}
