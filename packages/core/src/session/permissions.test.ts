import { describe, expect, it } from 'vitest';
import { grants, permissionsFor } from './permissions.js';

const roles = { admin: ['*'], editor: ['read:posts', 'write:posts'], auditor: ['read:*'], writer: ['write:*'] };

describe('permissions', () => {
  it('unions the permissions of every role', () => {
    expect(permissionsFor(['editor', 'auditor'], 'read-write', roles)).toEqual(['read:*', 'read:posts', 'write:posts']);
    expect(permissionsFor(['nobody'], 'read-write', roles)).toEqual([]);
  });

  it('keeps only reads in a read-only scope, even for * and write:*', () => {
    expect(permissionsFor(['admin', 'writer', 'editor'], 'read-only', roles)).toEqual(['read:*', 'read:posts']);
  });

  it.each([
    [['*'], 'write:anything', true],
    [['write:*'], 'write:posts', true],
    [['write:*'], 'read:posts', false],
    [['read:posts'], 'read:posts', true],
    [['read:posts'], 'read:users', false],
    [['read:*'], 'read', false],
    [[], 'read:posts', false],
  ])('%j grants %s: %s', (granted, wanted, expected) => {
    expect(grants(granted, wanted)).toBe(expected);
  });
});
