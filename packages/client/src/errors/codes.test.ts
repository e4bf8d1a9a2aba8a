import { ERROR_CODES } from '@latchkey/core';
import { describe, expect, it } from 'vitest';
import { CLIENT_ERROR_CODES, SERVER_ERROR_CODES } from './codes.js';
import { asClientError, isKnownErrorCode, LatchkeyClientError } from './error.js';

describe('client error codes', () => {
  it("list the server registry's codes in its order", () => {
    expect([...SERVER_ERROR_CODES]).toEqual(Object.keys(ERROR_CODES));
  });

  it('keep client-only codes apart from server codes', () => {
    for (const code of CLIENT_ERROR_CODES) expect(Object.keys(ERROR_CODES)).not.toContain(code);
    expect(isKnownErrorCode('NOT_SIGNED_IN')).toBe(true);
    expect(isKnownErrorCode('SESSION_KEY_EXPIRED')).toBe(true);
    expect(isKnownErrorCode('NOPE')).toBe(false);
  });

  it('keep a lower layer’s registry code (a ProtocolError), and wrap anything else under the fallback', () => {
    const bundle = asClientError(
      Object.assign(new Error('The credential bundle could not be opened.'), { code: 'CREDENTIAL_BUNDLE_INVALID' }),
      'NETWORK_ERROR',
    );
    expect([bundle.code, bundle.message]).toEqual(['CREDENTIAL_BUNDLE_INVALID', 'The credential bundle could not be opened.']);
    const other = asClientError(new TypeError('boom'), 'NETWORK_ERROR');
    expect([other.code, other.message, other.cause instanceof TypeError]).toEqual(['NETWORK_ERROR', 'boom', true]);
    const same = new LatchkeyClientError('NOT_SIGNED_IN');
    expect(asClientError(same, 'NETWORK_ERROR')).toBe(same);
  });
});
