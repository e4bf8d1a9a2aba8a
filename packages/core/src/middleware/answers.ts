import { ERROR_CODES, type ErrorCode } from '../errors/index.js';

/** The realm every challenge names. */
export const REALM = 'latchkey';

/**
 * The RFC 6750 §3.1 error codes, and the two the Latchkey server adds for stamps (docs/stamps.md):
 * `signature_required` and `session_key_expired`.
 */
export type BearerError =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'signature_required'
  | 'session_key_expired';

/** The JSON body of every refusal, the same shape the Latchkey server answers with. */
export interface ErrorBody {
  /** `expiresAt` (ms) only with SESSION_KEY_EXPIRED: when the signing key expired. */
  error: { code: ErrorCode; message: string; expiresAt?: number };
}

/**
 * A refusal ready to send: status, headers and JSON body. Frameworks only copy it onto their
 * response. Answers are shared and frozen; do not mutate.
 */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ErrorBody;
}

/** `WWW-Authenticate` value per RFC 6750 §3: realm, then the error, then the scope a 403 needed. */
export function bearerChallenge(error?: BearerError, scope?: string): string {
  let value = `Bearer realm="${REALM}"`;
  if (error) value += `, error="${error}"`;
  if (scope) value += `, scope="${scope}"`;
  return value;
}

function answer(status: number, code: ErrorCode, challenge: string | null, expiresAt?: number): Answer {
  const error: ErrorBody['error'] = { code, message: ERROR_CODES[code].message };
  if (expiresAt !== undefined) error.expiresAt = expiresAt;
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (challenge) headers['www-authenticate'] = challenge;
  return Object.freeze({ status, headers: Object.freeze(headers), body: Object.freeze({ error: Object.freeze(error) }) });
}

/** No credential at all: 401 with a bare challenge (RFC 6750 §3.1: no error code when none was sent). */
export const CREDENTIAL_MISSING: Answer = answer(401, 'AUTHENTICATION_REQUIRED', bearerChallenge());

/** An `Authorization` header that is not `Bearer <b64token>`: 400 `invalid_request`. */
export const HEADER_MALFORMED: Answer = answer(400, 'VALIDATION_AUTHORIZATION_MALFORMED', bearerChallenge('invalid_request'));

/**
 * A cookie credential on a state-changing request from an origin not in `allowedOrigins` (and not
 * `Sec-Fetch-Site: same-origin`): 403, no challenge, since a bearer token would not be refused.
 */
export const CROSS_SITE_REFUSED: Answer = answer(403, 'CSRF_REJECTED', null);

/** The authority (store, remote server, JWKS) could not answer: 503, never a pass. */
export const AUTHORITY_UNAVAILABLE: Answer = answer(503, 'STORE_UNAVAILABLE', null);

const invalidTokenAnswers = new Map<ErrorCode, Answer>();

/** A token was sent and refused: 401 `invalid_token`, with the validator's code and its fixed message. */
export function invalidToken(code: ErrorCode): Answer {
  let cached = invalidTokenAnswers.get(code);
  if (!cached) {
    cached = answer(401, code, bearerChallenge('invalid_token'));
    invalidTokenAnswers.set(code, cached);
  }
  return cached;
}

const deniedAnswers = new Map<string, Answer>();

/** The session lacks a permission: 403 `insufficient_scope`, naming the permission as the scope. */
export function permissionDenied(permission: string): Answer {
  let cached = deniedAnswers.get(permission);
  if (!cached) {
    cached = answer(403, 'PERMISSION_DENIED', bearerChallenge('insufficient_scope', permission));
    if (deniedAnswers.size < 1024) deniedAnswers.set(permission, cached);
  }
  return cached;
}

/** Every way a stamp is refused, as `verifyStamp` and the introspection route name them (STORE_UNAVAILABLE aside). */
export type StampRefusalCode =
  | 'SIGNATURE_MALFORMED'
  | 'SESSION_KEY_NOT_FOUND'
  | 'SESSION_KEY_MISMATCH'
  | 'SESSION_KEY_REVOKED'
  | 'SESSION_KEY_EXPIRED'
  | 'SIGNATURE_STALE'
  | 'SCOPE_READ_ONLY'
  | 'SIGNATURE_REPLAYED'
  | 'SIGNATURE_INVALID';

/** 401 SIGNATURE_REQUIRED: a guard with `stamps: 'required'` and a session request without `Latchkey-Signature`. */
export const SIGNATURE_REQUIRED: Answer = answer(401, 'SIGNATURE_REQUIRED', bearerChallenge('signature_required'));

/**
 * A stamped request the middleware cannot check because of how it is wired (the raw body was not kept,
 * or the guard ran before the body was read): 500 CONFIG_INVALID, never a pass and never a hash of a
 * re-serialised body. The reason goes to the logger.
 */
export const STAMP_UNCHECKABLE: Answer = answer(500, 'CONFIG_INVALID', null);

const stampAnswers = new Map<StampRefusalCode, Answer>();

/**
 * A refused stamp, answered as the Latchkey server answers it: 400 `invalid_request` for a malformed
 * header; 403 without a challenge for SESSION_KEY_MISMATCH and SCOPE_READ_ONLY; 401
 * `session_key_expired` with the key's `expiresAt` in the body; any other 401 `invalid_token`.
 */
export function stampRefused(code: StampRefusalCode, expiresAt?: number): Answer {
  if (code === 'SESSION_KEY_EXPIRED') {
    return answer(401, code, bearerChallenge('session_key_expired'), expiresAt);
  }
  let cached = stampAnswers.get(code);
  if (!cached) {
    if (code === 'SIGNATURE_MALFORMED') cached = answer(400, code, bearerChallenge('invalid_request'));
    else if (code === 'SESSION_KEY_MISMATCH' || code === 'SCOPE_READ_ONLY') cached = answer(403, code, null);
    else cached = answer(401, code, bearerChallenge('invalid_token'));
    stampAnswers.set(code, cached);
  }
  return cached;
}
