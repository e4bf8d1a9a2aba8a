import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from './codes.js';
import { LatchkeyError } from './error.js';

const docs = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
const rows = [...docs.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\w+)\s*\|\s*(\d{3})\s*\|([^|]+)\|/gm)].map((m) => ({
  code: m[1]!,
  category: m[2]!,
  status: Number(m[3]),
  message: m[4]!.trim(),
}));

describe('error registry', () => {
  it('matches docs/errors.md row for row', () => {
    expect(rows.map((r) => r.code)).toEqual(Object.keys(ERROR_CODES));
    for (const r of rows) {
      const info = ERROR_CODES[r.code as ErrorCode];
      expect({ category: info.category, status: info.status, message: info.message }).toEqual({
        category: r.category,
        status: r.status,
        message: r.message,
      });
    }
  });

  it('gives every error its code, category, status and fixed message', () => {
    const e = new LatchkeyError('REFRESH_TOKEN_REUSED');
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'LatchkeyError', code: 'REFRESH_TOKEN_REUSED', category: 'token', status: 401 });
    expect(e.message).toBe(ERROR_CODES.REFRESH_TOKEN_REUSED.message);
    expect(JSON.parse(JSON.stringify(new LatchkeyError('VALIDATION_FAILED', { message: 'scope: bad', field: 'scope' })))).toEqual(
      {
        code: 'VALIDATION_FAILED',
        message: 'scope: bad',
        field: 'scope',
      },
    );
  });

  it('uses upper snake case codes with a known category', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(['validation', 'authentication', 'authorization', 'store', 'encryption', 'token', 'system']).toContain(
        info.category,
      );
    }
  });
});
