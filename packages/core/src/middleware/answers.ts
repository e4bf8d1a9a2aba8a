import { ERROR_CODES, type ErrorCode } from '../errors/index.js';

/** The realm every challenge names. */
export const REALM = 'latchkey';

/** The RFC 6750 §3.1 error codes. */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** The JSON body of every refusal, the same shape the Latchkey server answers with. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
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

function answer(status: number, code: ErrorCode, challenge: string | null): Answer {
  const error: ErrorBody['error'] = { code, message: ERROR_CODES[code].message };
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
