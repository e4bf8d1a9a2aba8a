import { permissionsFor } from './permissions.js';
import { type ChainType, type DeviceInfo, expiresAt, type SessionScope, type SessionSnapshot } from './record.js';

/** A session as callers see it: no hashes, no sealed data, no refresh state. */
export interface Session {
  id: string;
  appId: string;
  /** CAIP-10 account. */
  account: string;
  chainType: ChainType;
  address: string;
  userId: string | null;
  authMethod: string;
  scope: SessionScope;
  roles: string[];
  /** What the roles grant, filtered by scope. Shared and frozen: do not mutate. */
  permissions: readonly string[];
  device: DeviceInfo;
  createdAt: number;
  lastActiveAt: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
  /** The earlier of the two expiries. */
  expiresAt: number;
  /** How many times the refresh token has been rotated. */
  refreshGeneration: number;
  hasData: boolean;
}

const permissionCache = new WeakMap<object, Map<string, readonly string[]>>();

/** Permissions for a roles/scope pair, computed once per role map (validation is the hot path). */
function cachedPermissions(
  roles: readonly string[],
  scope: SessionScope,
  roleMap: Readonly<Record<string, readonly string[]>>,
): readonly string[] {
  let byKey = permissionCache.get(roleMap);
  if (!byKey) {
    byKey = new Map();
    permissionCache.set(roleMap, byKey);
  }
  const key = `${scope}|${roles.join('\u0000')}`;
  let permissions = byKey.get(key);
  if (!permissions) {
    permissions = Object.freeze(permissionsFor(roles, scope, roleMap));
    if (byKey.size < 1024) byKey.set(key, permissions);
  }
  return permissions;
}

/** The caller's view of a record. Stores hand out copies, so the record's arrays are reused as they are. */
export function toSession(record: SessionSnapshot, roleMap: Readonly<Record<string, readonly string[]>>): Session {
  return {
    id: record.id,
    appId: record.appId,
    account: record.subject,
    chainType: record.chainType,
    address: record.subject.slice(record.subject.lastIndexOf(':') + 1),
    userId: record.userId,
    authMethod: record.authMethod,
    scope: record.scope,
    roles: record.roles,
    permissions: cachedPermissions(record.roles, record.scope, roleMap),
    device: record.device,
    createdAt: record.createdAt,
    lastActiveAt: record.lastActiveAt,
    idleExpiresAt: Math.min(record.idleExpiresAt, record.absoluteExpiresAt),
    absoluteExpiresAt: record.absoluteExpiresAt,
    expiresAt: expiresAt(record),
    refreshGeneration: record.refresh.generation,
    hasData: record.data !== null,
  };
}
