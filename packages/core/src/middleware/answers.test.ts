import { describe, expect, it } from 'vitest';
import {
  AUTHORITY_UNAVAILABLE,
  bearerChallenge,
  CREDENTIAL_MISSING,
  CROSS_SITE_REFUSED,
  HEADER_MALFORMED,
  invalidToken,
  permissionDenied,
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
  ])('%s', (_name, answer, status, challenge, code) => {
    expect(answer.status).toBe(status);
    expect(answer.headers['www-authenticate']).toBe(challenge);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.body.error.code).toBe(code);
    expect(typeof answer.body.error.message).toBe('string');
    expect(Object.isFrozen(answer) && Object.isFrozen(answer.headers) && Object.isFrozen(answer.body.error)).toBe(true);
  });

  it('reuses answers', () => {
    expect(invalidToken('TOKEN_INVALID')).toBe(invalidToken('TOKEN_INVALID'));
    expect(permissionDenied('read:x')).toBe(permissionDenied('read:x'));
    expect(bearerChallenge()).toBe('Bearer realm="latchkey"');
  });
});
