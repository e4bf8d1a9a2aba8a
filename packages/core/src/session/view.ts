import { permissionsFor } from './permissions.js';
import { type ChainType, type DeviceInfo, expiresAt, type SessionRecord, type SessionScope } from './record.js';

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
  /** What the roles grant, filtered by scope. */
  permissions: string[];
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

export function toSession(record: SessionRecord, roleMap: Readonly<Record<string, readonly string[]>>): Session {
  return {
    id: record.id,
    appId: record.appId,
    account: record.subject,
    chainType: record.chainType,
    address: record.subject.slice(record.subject.lastIndexOf(':') + 1),
    userId: record.userId,
    authMethod: record.authMethod,
    scope: record.scope,
    roles: [...record.roles],
    permissions: permissionsFor(record.roles, record.scope, roleMap),
    device: { ...record.device },
    createdAt: record.createdAt,
    lastActiveAt: record.lastActiveAt,
    idleExpiresAt: Math.min(record.idleExpiresAt, record.absoluteExpiresAt),
    absoluteExpiresAt: record.absoluteExpiresAt,
    expiresAt: expiresAt(record),
    refreshGeneration: record.refresh.generation,
    hasData: record.data !== null,
  };
}
