import { z } from 'zod';

/** The two ends of a channel. */
export type Role = 'dapp' | 'wallet';
/** The events the relay forwards, each from one role to the other. */
export type MessageEvent = 'connected_uuid' | 'request' | 'response';

/** Who may send each forwarded event. */
export const SENDER: Readonly<Record<MessageEvent, Role>> = Object.freeze({
  connected_uuid: 'wallet',
  request: 'dapp',
  response: 'wallet',
});

export const PEER: Readonly<Record<Role, Role>> = Object.freeze({ dapp: 'wallet', wallet: 'dapp' });

/** What a client sends with `join`. */
export interface JoinRequest {
  uuid: string;
  role: Role;
  rejoinKey: string;
  expiresAt?: number;
  lastSeq?: number;
}

/** A forwarded event as the sender wrote it. `nonce` and `data` are opaque to the relay. */
export interface Envelope {
  uuid: string;
  publicKey?: string;
  nonce?: string;
  data?: string;
}

/** An envelope as the recipient gets it: the same strings, and its place in the recipient's sequence. */
export type SequencedEnvelope = Envelope & { seq: number };

export type Parsed<T> =
  | { ok: true; value: T }
  | { ok: false; code: 'RELAY_ENVELOPE_INVALID' | 'RELAY_PAYLOAD_TOO_LARGE'; message: string };

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const uuid = z.string().regex(UUID_V4, 'an RFC 4122 version 4 UUID in lowercase');
/** Unpadded base64url: a length of 1 mod 4 cannot come from any bytes. */
const base64url = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .regex(BASE64URL, 'base64url (A-Z a-z 0-9 - _) without padding')
    .refine((s) => s.length % 4 !== 1, 'base64url of whole bytes');

const joinSchema = z.strictObject({
  uuid,
  role: z.enum(['dapp', 'wallet']),
  rejoinKey: base64url(16, 64),
  expiresAt: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  lastSeq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});

/** The total is bounded by the payload limit, checked before these run. */
const publicKey = base64url(1, 512);
const nonce = base64url(1, 256);
const data = base64url(1, Number.MAX_SAFE_INTEGER);

/** The envelope schemas: what the relay accepts, and what its refusals explain. */
export const ENVELOPES: Readonly<Record<MessageEvent, z.ZodType<Envelope>>> = {
  // An old wallet sends its public key alone; a new one adds the sealed session token, nonce and data together.
  connected_uuid: z
    .strictObject({ uuid, publicKey, nonce: nonce.optional(), data: data.optional() })
    .refine((e) => (e.nonce === undefined) === (e.data === undefined), { message: 'nonce and data come together, or neither' }),
  request: z.strictObject({ uuid, nonce, data }),
  response: z.strictObject({ uuid, nonce, data }),
};

function refusal(error: z.ZodError, what: string): Parsed<never> {
  const issue = error.issues[0]!;
  const path = issue.path.map(String).join('.');
  // zod's messages name the expectation, never the value received.
  return { ok: false, code: 'RELAY_ENVELOPE_INVALID', message: `${what}${path ? ` ${path}` : ''}: ${issue.message}` };
}

export function parseJoin(payload: unknown): Parsed<JoinRequest> {
  const parsed = joinSchema.safeParse(payload);
  return parsed.success ? { ok: true, value: parsed.data } : refusal(parsed.error, 'join');
}

const FIELDS: Readonly<Record<MessageEvent, { required: readonly string[]; optional: readonly string[] }>> = {
  connected_uuid: { required: ['uuid', 'publicKey'], optional: ['nonce', 'data'] },
  request: { required: ['uuid', 'nonce', 'data'], optional: [] },
  response: { required: ['uuid', 'nonce', 'data'], optional: [] },
};
const MAX_LENGTH: Readonly<Record<string, number>> = { publicKey: 512, nonce: 256, data: Number.MAX_SAFE_INTEGER };

function isBase64url(value: unknown, max: number): boolean {
  return typeof value === 'string' && value.length <= max && value.length % 4 !== 1 && BASE64URL.test(value);
}

/**
 * The hot path's check, without allocating: true only for what the zod schema above accepts (a test holds
 * the two to the same answers). Anything else goes to zod, which says what is wrong.
 */
function isWellFormed(event: MessageEvent, payload: object): boolean {
  const { required, optional } = FIELDS[event];
  let count = 0;
  for (const key in payload) {
    if (!Object.hasOwn(payload, key)) continue;
    count += 1;
    const value = (payload as Record<string, unknown>)[key];
    if (key === 'uuid') {
      if (typeof value !== 'string' || !UUID_V4.test(value)) return false;
    } else if (!(required.includes(key) || optional.includes(key)) || !isBase64url(value, MAX_LENGTH[key]!)) {
      return false;
    }
  }
  if (count < required.length) return false;
  for (const key of required) if (!Object.hasOwn(payload, key)) return false;
  if (optional.length > 0 && Object.hasOwn(payload, 'nonce') !== Object.hasOwn(payload, 'data')) return false;
  return Object.getPrototypeOf(payload) === Object.prototype || Object.getPrototypeOf(payload) === null;
}

/** The characters of an envelope's strings added up: what the payload and buffer limits count. */
export function payloadSize(envelope: Envelope): number {
  return envelope.uuid.length + (envelope.publicKey?.length ?? 0) + (envelope.nonce?.length ?? 0) + (envelope.data?.length ?? 0);
}

/**
 * Checks a forwarded event's envelope: its size first (so an oversized payload is never scanned), then its
 * shape (the schema above; a well-formed envelope takes a faster path to the same answer). Only the type,
 * length and alphabet of `nonce` and `data` are looked at, never what they hold.
 */
export function parseEnvelope(event: MessageEvent, payload: unknown, maxPayloadBytes: number): Parsed<Envelope> {
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    let size = 0;
    for (const key in payload) {
      const value = (payload as Record<string, unknown>)[key];
      if (typeof value === 'string') size += value.length;
    }
    if (size > maxPayloadBytes)
      return { ok: false, code: 'RELAY_PAYLOAD_TOO_LARGE', message: `${event}: over the relay's ${maxPayloadBytes} bytes` };
    if (isWellFormed(event, payload)) return { ok: true, value: payload as Envelope };
  }
  const parsed = ENVELOPES[event].safeParse(payload);
  return parsed.success ? { ok: true, value: parsed.data } : refusal(parsed.error, event);
}

/**
 * The envelope the recipient gets: a new object holding exactly the sender's strings and `seq`, so nothing
 * else the sender put on the object travels.
 */
export function sequenced(envelope: Envelope, seq: number): SequencedEnvelope {
  const out = { uuid: envelope.uuid } as SequencedEnvelope;
  if (envelope.publicKey !== undefined) out.publicKey = envelope.publicKey;
  if (envelope.nonce !== undefined) out.nonce = envelope.nonce;
  if (envelope.data !== undefined) out.data = envelope.data;
  out.seq = seq;
  return out;
}
