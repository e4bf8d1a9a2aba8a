import { describe, expect, it } from 'vitest';
import {
  AUTHORITY_UNAVAILABLE,
  bearerChallenge,
  CREDENTIAL_MISSING,
  CROSS_SITE_REFUSED,
  HEADER_MALFORMED,
  invalidToken,
  permissionDenied,
  SIGNATURE_REQUIRED,
  STAMP_UNCHECKABLE,
  stampRefused,
} from './answers.js';

describe('RFC 6750 answers', () => {
  it.each([
    ['no credential', CREDENTIAL_MISSING, 401, 'Bearer realm="latchkey"', 'AUTHENTICATION_REQUIRED'],
    [
      'malformed header',
      HEADER_MALFORMED,
      400,
      'Bearer realm="latchkey", error="invalid_request"',
      'VALIDATION_AUTHORIZATION_MALFORMED',
    ],
    [
      'refused token',
      invalidToken('SESSION_NOT_FOUND'),
      401,
      'Bearer realm="latchkey", error="invalid_token"',
      'SESSION_NOT_FOUND',
    ],
    [
      'missing permission',
      permissionDenied('write:profile'),
      403,
      'Bearer realm="latchkey", error="insufficient_scope", scope="write:profile"',
      'PERMISSION_DENIED',
    ],
    ['authority down', AUTHORITY_UNAVAILABLE, 503, undefined, 'STORE_UNAVAILABLE'],
    ['cookie credential from another origin', CROSS_SITE_REFUSED, 403, undefined, 'CSRF_REJECTED'],
    // Stamps: the Latchkey server's own answers (packages/server/src/http/stamps.ts).
    [
      'no stamp where one is required',
      SIGNATURE_REQUIRED,
      401,
      'Bearer realm="latchkey", error="signature_required"',
      'SIGNATURE_REQUIRED',
    ],
    [
      'malformed stamp',
      stampRefused('SIGNATURE_MALFORMED'),
      400,
      'Bearer realm="latchkey", error="invalid_request"',
      'SIGNATURE_MALFORMED',
    ],
    ['bad stamp', stampRefused('SIGNATURE_INVALID'), 401, 'Bearer realm="latchkey", error="invalid_token"', 'SIGNATURE_INVALID'],
    [
      'replayed stamp',
      stampRefused('SIGNATURE_REPLAYED'),
      401,
      'Bearer realm="latchkey", error="invalid_token"',
      'SIGNATURE_REPLAYED',
    ],
    ["another session's key", stampRefused('SESSION_KEY_MISMATCH'), 403, undefined, 'SESSION_KEY_MISMATCH'],
    ['read-only key on a write', stampRefused('SCOPE_READ_ONLY'), 403, undefined, 'SCOPE_READ_ONLY'],
    [
      'expired key',
      stampRefused('SESSION_KEY_EXPIRED', 1),
      401,
      'Bearer realm="latchkey", error="session_key_expired"',
      'SESSION_KEY_EXPIRED',
    ],
    ['a stamp the wiring cannot check', STAMP_UNCHECKABLE, 500, undefined, 'CONFIG_INVALID'],
  ])('%s', (_name, answer, status, challenge, code) => {
    expect(answer.status).toBe(status);
    expect(answer.headers['www-authenticate']).toBe(challenge);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.body.error.code).toBe(code);
    expect(typeof answer.body.error.message).toBe('string');
    expect(Object.isFrozen(answer) && Object.isFrozen(answer.headers) && Object.isFrozen(answer.body.error)).toBe(true);
  });

  it("carries an expired key's expiry in the body, as the server does", () => {
    expect(stampRefused('SESSION_KEY_EXPIRED', 1767225600000).body).toEqual({
      error: { code: 'SESSION_KEY_EXPIRED', message: 'Session key expired.', expiresAt: 1767225600000 },
    });
    expect(stampRefused('SIGNATURE_STALE')).toBe(stampRefused('SIGNATURE_STALE'));
  });

  it('reuses answers', () => {
    expect(invalidToken('TOKEN_INVALID')).toBe(invalidToken('TOKEN_INVALID'));
    expect(permissionDenied('read:x')).toBe(permissionDenied('read:x'));
    expect(bearerChallenge()).toBe('Bearer realm="latchkey"');
  });
});
