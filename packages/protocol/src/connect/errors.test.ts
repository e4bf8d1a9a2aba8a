import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONNECT_ERROR_MESSAGES, ConnectError, isConnectError, isConnectErrorCode } from './errors.js';

// The protocol package cannot import @latchkey/core (core depends on it), so it checks its messages
// against the registry's documentation, which core's own test keeps equal to the code.
const docs = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
const registry = new Map(
  [...docs.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*\w+\s*\|\s*\d{3}\s*\|([^|]+)\|/gm)].map((m) => [m[1]!, m[2]!.trim()]),
);

describe('connect error codes', () => {
  it('are registry codes with the registry messages', () => {
    for (const [code, message] of Object.entries(CONNECT_ERROR_MESSAGES)) {
      expect({ code, message: registry.get(code) }).toEqual({ code, message });
    }
  });

  it('carry code, field and request id, and serialise to the wire shape', () => {
    const e = new ConnectError('CONNECT_URI_INVALID', { message: 'exp: missing', field: 'exp' });
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'ConnectError', code: 'CONNECT_URI_INVALID', field: 'exp', message: 'exp: missing' });
    expect(new ConnectError('CONNECT_REQUEST_REPLAYED', { requestId: 'r1' }).toWire()).toEqual({
      code: 'CONNECT_REQUEST_REPLAYED',
      message: 'This request id was already used.',
    });
    expect(isConnectError(e, 'CONNECT_URI_INVALID')).toBe(true);
    expect(isConnectError(e, 'CONNECT_URI_EXPIRED')).toBe(false);
    expect(isConnectErrorCode('SESSION_EXPIRED')).toBe(false);
    expect(isConnectErrorCode('toString')).toBe(false);
  });
});
