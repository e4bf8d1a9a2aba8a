import { describe, expect, it } from 'vitest';
import { cookieValue, readCredential } from './credentials.js';

const TOKEN = 'lks_0123456789abcdef0123456789abcdef.5Kd3NBUAdUnhyzenEwVLy9pBKxSwXvE9FMPyR4UKZvpe';

describe('readCredential', () => {
  it.each([
    ['no header, no cookie', undefined, undefined, { kind: 'none' }],
    ['Bearer token', `Bearer ${TOKEN}`, undefined, { kind: 'token', token: TOKEN, source: 'header' }],
    ['scheme in any case, extra spaces', `bearer   ${TOKEN}  `, undefined, { kind: 'token', token: TOKEN, source: 'header' }],
    [
      'a JWT with padding chars',
      'Bearer a.b-c_d~e+f/g==',
      undefined,
      { kind: 'token', token: 'a.b-c_d~e+f/g==', source: 'header' },
    ],
    ['Bearer without token', 'Bearer', undefined, { kind: 'malformed-header' }],
    ['Bearer and a space', 'Bearer ', undefined, { kind: 'malformed-header' }],
    ['two tokens', `Bearer ${TOKEN} ${TOKEN}`, undefined, { kind: 'malformed-header' }],
    ['another scheme', 'Basic dXNlcjpwYXNz', undefined, { kind: 'malformed-header' }],
    ['a character outside b64token', 'Bearer abc"def', undefined, { kind: 'malformed-header' }],
    ['an empty header', '', undefined, { kind: 'malformed-header' }],
    [
      'a header wins over the cookie',
      `Bearer ${TOKEN}`,
      '__Host-latchkey=other',
      { kind: 'token', token: TOKEN, source: 'header' },
    ],
    ['a malformed header is not rescued by the cookie', 'Basic x', `__Host-latchkey=${TOKEN}`, { kind: 'malformed-header' }],
    ['the cookie', undefined, `a=1; __Host-latchkey=${TOKEN}; b=2`, { kind: 'token', token: TOKEN, source: 'cookie' }],
    ['an empty cookie', undefined, '__Host-latchkey=', { kind: 'none' }],
    ['another cookie only', undefined, 'latchkey=x', { kind: 'none' }],
  ])('%s', (_name, authorization, cookie, expected) => {
    expect(readCredential(authorization, cookie, '__Host-latchkey')).toEqual(expected);
  });

  it('reads no cookie when the cookie name is null', () => {
    expect(readCredential(undefined, `__Host-latchkey=${TOKEN}`, null)).toEqual({ kind: 'none' });
  });

  it('refuses an oversized header token and bounds an oversized cookie token', () => {
    expect(readCredential(`Bearer ${'a'.repeat(9000)}`, undefined, 'c')).toEqual({ kind: 'malformed-header' });
    const read = readCredential(undefined, `c=${'a'.repeat(20_000)}`, 'c');
    expect(read.kind === 'token' && read.token.length).toBe(8193);
  });
});

describe('cookieValue', () => {
  it.each([
    ['a=1; b=2', 'b', '2'],
    ['a=1;b=2', 'b', '2'],
    ['  a = 1 ', 'a', '1'],
    ['a="quoted"', 'a', 'quoted'],
    ['a=1; a=2', 'a', '1'],
    ['ab=1; b=2', 'b', '2'],
    ['a', 'a', null],
    ['', 'a', null],
    ['b=x=y', 'b', 'x=y'],
  ])('%s → %s', (header, name, expected) => {
    expect(cookieValue(header, name)).toBe(expected);
  });
});
