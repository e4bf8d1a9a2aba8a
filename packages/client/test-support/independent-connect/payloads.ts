// §8 encrypted payloads.
import { utf8Decode } from './encoding.js';
import { fail, IndependentConnectError, KNOWN_CODES } from './errors.js';
import type { ChainType } from './token.js';
import { UUID_RE } from './uri.js';

export function parseJsonBytes(bytes: Uint8Array): unknown {
  const text = utf8Decode(bytes);
  if (text === null) return fail('VALIDATION_FAILED', 'data', 'data: not UTF-8');
  try {
    return JSON.parse(text);
  } catch {
    return fail('VALIDATION_FAILED', 'data', 'data: not JSON');
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isDisconnect = (v: Record<string, unknown>): boolean => v.type === 'disconnect';

export interface ConnectedPayload {
  sessionToken: string;
  address: string;
  chainType: ChainType;
}

export function parseConnectedPayload(v: unknown): ConnectedPayload {
  if (!isObject(v)) return fail('VALIDATION_FAILED', 'data', 'data: not an object');
  if (typeof v.sessionToken !== 'string') fail('VALIDATION_FAILED', 'sessionToken', 'sessionToken: missing');
  if (typeof v.address !== 'string') fail('VALIDATION_FAILED', 'address', 'address: missing');
  if (v.chainType !== 'eip155' && v.chainType !== 'solana') fail('VALIDATION_FAILED', 'chainType', 'chainType: invalid');
  return { sessionToken: v.sessionToken as string, address: v.address as string, chainType: v.chainType as ChainType };
}

export interface SignRequest {
  id: string;
  method: string;
  params: unknown;
  timestamp: number;
  sessionToken?: string;
}

export type ParsedRequest =
  | { kind: 'disconnect' }
  | { kind: 'request'; request: SignRequest }
  | { kind: 'invalid'; id: string | undefined; field: string };

export function parseRequestPayload(v: unknown): ParsedRequest {
  if (!isObject(v)) return { kind: 'invalid', id: undefined, field: 'data' };
  // GUESS: an object whose `type` is "disconnect" is the §8.4 notice whatever else it carries.
  if (isDisconnect(v)) return { kind: 'disconnect' };
  // GUESS: the id is "readable" only when it has the §2 uuid form.
  const id = typeof v.id === 'string' && UUID_RE.test(v.id) ? v.id : undefined;
  if (id === undefined) return { kind: 'invalid', id: undefined, field: 'id' };
  if (typeof v.method !== 'string' || !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(v.method)) {
    return { kind: 'invalid', id, field: 'method' };
  }
  if (!Object.hasOwn(v, 'params') || v.params === undefined) return { kind: 'invalid', id, field: 'params' };
  // GUESS: timestamp must be a non-negative safe integer (the doc says only "ms").
  if (typeof v.timestamp !== 'number' || !Number.isSafeInteger(v.timestamp) || v.timestamp < 0) {
    return { kind: 'invalid', id, field: 'timestamp' };
  }
  if (v.sessionToken !== undefined && typeof v.sessionToken !== 'string') {
    return { kind: 'invalid', id, field: 'sessionToken' };
  }
  const request: SignRequest = { id, method: v.method, params: v.params, timestamp: v.timestamp };
  if (typeof v.sessionToken === 'string') request.sessionToken = v.sessionToken;
  return { kind: 'request', request };
}

export type ParsedResponse =
  | { kind: 'disconnect' }
  | { kind: 'result'; id: string; result: unknown }
  | { kind: 'error'; id: string; error: IndependentConnectError };

export function parseResponsePayload(v: unknown): ParsedResponse {
  if (!isObject(v)) return fail('VALIDATION_FAILED', 'data', 'data: not an object');
  if (isDisconnect(v)) return { kind: 'disconnect' };
  if (typeof v.id !== 'string') return fail('VALIDATION_FAILED', 'id', 'id: missing');
  const hasResult = Object.hasOwn(v, 'result');
  const hasError = Object.hasOwn(v, 'error');
  if (hasResult === hasError) return fail('VALIDATION_FAILED', 'result', 'exactly one of result and error');
  if (hasResult) return { kind: 'result', id: v.id, result: v.result };
  const e = v.error;
  if (!isObject(e) || typeof e.code !== 'string' || typeof e.message !== 'string') {
    return fail('VALIDATION_FAILED', 'error', 'error: malformed');
  }
  const known = KNOWN_CODES.has(e.code);
  return {
    kind: 'error',
    id: v.id,
    error: new IndependentConnectError(known ? e.code : 'INTERNAL_ERROR', known ? e.message : undefined),
  };
}
