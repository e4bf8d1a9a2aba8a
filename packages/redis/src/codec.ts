import type { ChainType, DeviceInfo, SessionRecord, SessionScope, SessionSnapshot, StoredEntry } from '@latchkey/core';

/** The slow-changing part of a session, kept as one JSON field (`m`). */
interface SessionMeta {
  id: string;
  appId: string;
  chainType: ChainType;
  userId: string | null;
  authMethod: string;
  scope: SessionScope;
  roles: string[];
  device: DeviceInfo;
  /**
   * Copies of the fields that never change after creation (`sub`, `ca`, `ae`), so validation reads
   * six hash fields instead of nine. Scripts keep reading the separate fields; nothing rewrites these.
   */
  subject: string;
  createdAt: number;
  absoluteExpiresAt: number;
}

export class MalformedReplyError extends Error {
  constructor(what: string) {
    super(`RedisStore: unexpected reply from Redis (${what})`);
    this.name = 'MalformedReplyError';
  }
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new MalformedReplyError(what);
  return value;
}

export function asString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new MalformedReplyError(what);
  return value;
}

function ms(value: number, field: string): string {
  if (!Number.isFinite(value)) throw new TypeError(`RedisStore: session ${field} must be a finite number`);
  return String(value);
}

/** The field/value pairs of a session's hash. Null values are absent fields. */
export function encodeSession(r: SessionRecord): string[] {
  const meta: SessionMeta = {
    id: r.id,
    appId: r.appId,
    chainType: r.chainType,
    userId: r.userId,
    authMethod: r.authMethod,
    scope: r.scope,
    roles: r.roles,
    device: r.device,
    subject: r.subject,
    createdAt: r.createdAt,
    absoluteExpiresAt: r.absoluteExpiresAt,
  };
  const lastActiveAt = ms(r.lastActiveAt, 'lastActiveAt');
  const idleExpiresAt = ms(r.idleExpiresAt, 'idleExpiresAt');
  const metaJson = JSON.stringify(meta);
  const fields = [
    't',
    r.tokenHash,
    'la',
    lastActiveAt,
    'ie',
    idleExpiresAt,
    'ae',
    ms(r.absoluteExpiresAt, 'absoluteExpiresAt'),
    'ca',
    ms(r.createdAt, 'createdAt'),
    'rh',
    r.refresh.hash,
    'rt',
    JSON.stringify(r.refresh.retired),
    'sub',
    r.subject,
    'm',
    metaJson,
  ];
  // HINCRBY advances the generation inside the rotation script, so it must be an integer.
  if (!Number.isSafeInteger(r.refresh.generation)) throw new TypeError('RedisStore: refresh.generation must be an integer');
  fields.push('rg', String(r.refresh.generation));
  if (r.refresh.previousHash !== null) fields.push('rp', r.refresh.previousHash);
  if (r.refresh.rotatedAt !== null) fields.push('rr', ms(r.refresh.rotatedAt, 'refresh.rotatedAt'));
  if (r.refresh.successor !== null) fields.push('rs', r.refresh.successor);
  if (r.data !== null) fields.push('d', r.data);
  fields.push('v', `${r.tokenHash}|${lastActiveAt}|${idleExpiresAt}|${r.refresh.generation}|${metaJson}`);
  return fields;
}

/** A session from an HGETALL reply: flat `[field, value, …]` from a script, or ioredis's object. */
export function decodeSession(reply: unknown): SessionRecord {
  const h = new Map<string, string>();
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) h.set(asString(reply[i], 'field'), asString(reply[i + 1], 'value'));
  } else if (typeof reply === 'object' && reply !== null) {
    for (const [field, value] of Object.entries(reply)) h.set(field, asString(value, 'value'));
  } else {
    throw new MalformedReplyError('session hash');
  }
  const text = (field: string): string => {
    const v = h.get(field);
    if (v === undefined) throw new MalformedReplyError(`session hash without ${field}`);
    return v;
  };
  const num = (field: string): number => Number(text(field));
  const optional = (field: string): string | null => h.get(field) ?? null;
  const meta = JSON.parse(text('m')) as SessionMeta;
  const retired: unknown = JSON.parse(text('rt'));
  if (!Array.isArray(retired) || !retired.every((x) => typeof x === 'string')) throw new MalformedReplyError('retired list');
  const rotatedAt = optional('rr');
  return {
    id: meta.id,
    appId: meta.appId,
    subject: text('sub'),
    chainType: meta.chainType,
    userId: meta.userId,
    authMethod: meta.authMethod,
    scope: meta.scope,
    roles: meta.roles,
    device: meta.device,
    createdAt: num('ca'),
    lastActiveAt: num('la'),
    idleExpiresAt: num('ie'),
    absoluteExpiresAt: num('ae'),
    tokenHash: text('t'),
    refresh: {
      hash: text('rh'),
      generation: num('rg'),
      previousHash: optional('rp'),
      rotatedAt: rotatedAt === null ? null : Number(rotatedAt),
      successor: optional('rs'),
      retired: retired as string[],
    },
    data: optional('d'),
  };
}

/**
 * A session's meta never changes after creation, and validation reads it on every request: parsed
 * values are kept by their exact text (bounded) and frozen; callers get their own roles and device.
 */
const metaCache = new Map<string, SessionMeta>();
const META_CACHE_SIZE = 10_000;

function parseMeta(text: string): SessionMeta {
  const cached = metaCache.get(text);
  if (cached) return cached;
  const meta = JSON.parse(text) as SessionMeta;
  Object.freeze(meta.roles);
  Object.freeze(meta.device);
  if (metaCache.size >= META_CACHE_SIZE) metaCache.delete(metaCache.keys().next().value!);
  metaCache.set(text, Object.freeze(meta));
  return meta;
}

/**
 * The hash fields validation reads, in the order the validate script returns them. `v` is the
 * validation view, `t|la|ie|rg|m`, written at create and rewritten by every script that changes one
 * of its parts (touch, rotation), so a validation is one HMGET of two fields.
 */
export const SNAPSHOT_FIELDS = ['v', 'd'] as const;

/** A session snapshot from the validate script's HMGET of SNAPSHOT_FIELDS, or null when absent. */
export function decodeSnapshot(reply: unknown): SessionSnapshot | null {
  if (reply === null) return null;
  const [v, d] = asArray(reply, 'session snapshot');
  if (v === null) return null; // HMGET of a missing key answers every field with nil
  const view = asString(v, 'session view');
  // t|la|ie|rg|m: the first four never contain '|'; the meta JSON is the rest.
  const a = view.indexOf('|');
  const b = view.indexOf('|', a + 1);
  const c = view.indexOf('|', b + 1);
  const e = view.indexOf('|', c + 1);
  if (a < 0 || b < 0 || c < 0 || e < 0) throw new MalformedReplyError('session view');
  const t = view.slice(0, a);
  const la = view.slice(a + 1, b);
  const ie = view.slice(b + 1, c);
  const rg = view.slice(c + 1, e);
  const meta = parseMeta(view.slice(e + 1));
  return {
    id: meta.id,
    appId: meta.appId,
    subject: meta.subject,
    chainType: meta.chainType,
    userId: meta.userId,
    authMethod: meta.authMethod,
    scope: meta.scope,
    roles: [...meta.roles],
    device: { ...meta.device },
    createdAt: meta.createdAt,
    lastActiveAt: Number(la),
    idleExpiresAt: Number(ie),
    absoluteExpiresAt: meta.absoluteExpiresAt,
    tokenHash: t,
    refresh: { generation: Number(rg) },
    data: d === null ? null : asString(d, 'data'),
  };
}

/** A script's session reply, where nil means "no session". */
export function decodeOptionalSession(reply: unknown): SessionRecord | null {
  return reply === null ? null : decodeSession(reply);
}

/** Entries from a script's flat `[key, value, expiresAt, …]`, in the order given. */
export function readEntries(reply: unknown): StoredEntry[] {
  const flat = asArray(reply, 'entries');
  const out: StoredEntry[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    out.push({
      key: asString(flat[i], 'entry key'),
      value: asString(flat[i + 1], 'entry value'),
      expiresAt: Number(asString(flat[i + 2], 'entry expiry')),
    });
  }
  return out;
}
