import type { SessionScope } from './record.js';

/**
 * Permissions are `<action>:<resource>` strings (`read:sessions`, `write:profile`) or `*`.
 * A grant may wildcard the resource (`write:*`). Only `read:` permissions survive a
 * `read-only` scope, whatever the roles grant.
 */
export function permissionsFor(
  roles: readonly string[],
  scope: SessionScope,
  roleMap: Readonly<Record<string, readonly string[]>>,
): string[] {
  const granted = new Set<string>();
  // Object.hasOwn: a role named `toString` or `__proto__` must grant nothing, not reach the prototype.
  for (const role of roles) if (Object.hasOwn(roleMap, role)) for (const p of roleMap[role]!) granted.add(p);
  if (scope === 'read-only') {
    const readOnly = new Set<string>();
    for (const p of granted) {
      if (p === '*') readOnly.add('read:*');
      else if (p.startsWith('read:')) readOnly.add(p);
    }
    return [...readOnly].sort();
  }
  return [...granted].sort();
}

/** True when `granted` (from `permissionsFor`) covers `wanted`. */
export function grants(granted: readonly string[], wanted: string): boolean {
  const colon = wanted.indexOf(':');
  const action = colon < 0 ? wanted : wanted.slice(0, colon);
  for (const p of granted) {
    if (p === '*' || p === wanted) return true;
    if (p.endsWith(':*') && p.slice(0, -2) === action && colon > 0) return true;
  }
  return false;
}
