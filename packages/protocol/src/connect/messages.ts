import { ConnectError, validationFailed } from './errors.js';
import type { SealedPayload } from './seal.js';
import type { ConnectChainType } from './token.js';
import { isChannelId } from './uri.js';

// ——— Relay events (plaintext envelopes; docs/connect-protocol.md §6) ———

/** `connected_uuid`, wallet → dApp. `nonce` and `data` are both present (new wallets) or both absent (old wallets). */
export interface ConnectedUuidEvent {
  uuid: string;
  publicKey: string;
  nonce?: string;
  data?: string;
  /** Added by the relay: per-recipient increasing integer. */
  seq?: number;
}

/** `request` (dApp → wallet) and `response` (wallet → dApp): an encrypted payload for one channel. */
export interface SealedEvent extends SealedPayload {
  uuid: string;
  seq?: number;
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const KEY_B64URL = /^[A-Za-z0-9_-]{43}$/;
const NONCE_B64URL = /^[A-Za-z0-9_-]{32}$/;

/**
 * Checks the envelope of a `connected_uuid` event (not its encrypted content).
 * @throws ConnectError `RELAY_ENVELOPE_INVALID` naming the field.
 */
export function parseConnectedUuidEvent(value: unknown): ConnectedUuidEvent {
  const e = record(value, 'RELAY_ENVELOPE_INVALID');
  if (!isChannelId(e.uuid)) throw envelope('uuid');
  if (typeof e.publicKey !== 'string' || !KEY_B64URL.test(e.publicKey)) throw envelope('publicKey');
  const event: ConnectedUuidEvent = { uuid: e.uuid, publicKey: e.publicKey };
  if (e.nonce !== undefined || e.data !== undefined) {
    if (typeof e.nonce !== 'string' || !NONCE_B64URL.test(e.nonce)) throw envelope('nonce');
    if (typeof e.data !== 'string' || !B64URL.test(e.data)) throw envelope('data');
    event.nonce = e.nonce;
    event.data = e.data;
  }
  if (e.seq !== undefined) event.seq = seq(e.seq);
  return event;
}

/**
 * Checks the envelope of a `request` or `response` event.
 * @throws ConnectError `RELAY_ENVELOPE_INVALID` naming the field.
 */
export function parseSealedEvent(value: unknown): SealedEvent {
  const e = record(value, 'RELAY_ENVELOPE_INVALID');
  if (!isChannelId(e.uuid)) throw envelope('uuid');
  if (typeof e.nonce !== 'string' || !NONCE_B64URL.test(e.nonce)) throw envelope('nonce');
  if (typeof e.data !== 'string' || !B64URL.test(e.data)) throw envelope('data');
  const event: SealedEvent = { uuid: e.uuid, nonce: e.nonce, data: e.data };
  if (e.seq !== undefined) event.seq = seq(e.seq);
  return event;
}

// ——— Encrypted payloads (docs/connect-protocol.md §7, §8) ———

/** What `connected_uuid.data` decrypts to. */
export interface ConnectedPayload {
  sessionToken: string;
  address: string;
  chainType: ConnectChainType;
}

/** A sign request, dApp → wallet. `sessionToken` is absent only for a wallet that sent none. */
export interface SignRequest {
  id: string;
  method: string;
  params: unknown;
  /** ms since the epoch, the dApp's clock. */
  timestamp: number;
  sessionToken?: string;
}

/** The answer to one request: a result, or a typed error. */
export type SignResponse = { id: string; result: unknown } | { id: string; error: { code: string; message: string } };

/** Ends the session; either side may send it (as a `request` from the dApp, as a `response` from the wallet). */
export interface DisconnectNotice {
  type: 'disconnect';
}

const METHOD = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** @throws ConnectError `VALIDATION_FAILED` naming the field. */
export function parseConnectedPayload(value: unknown): ConnectedPayload {
  const p = record(value, 'VALIDATION_FAILED');
  if (typeof p.sessionToken !== 'string' || p.sessionToken.length === 0)
    throw validationFailed('sessionToken', 'expected a string');
  if (typeof p.address !== 'string' || p.address.length === 0) throw validationFailed('address', 'expected a string');
  if (p.chainType !== 'eip155' && p.chainType !== 'solana') throw validationFailed('chainType', 'expected eip155 or solana');
  return { sessionToken: p.sessionToken, address: p.address, chainType: p.chainType };
}

/**
 * Parses a decrypted `request` payload.
 * @throws ConnectError `VALIDATION_FAILED` naming the field, with `requestId` when the id was readable.
 */
export function parseRequestPayload(value: unknown): SignRequest | DisconnectNotice {
  const p = record(value, 'VALIDATION_FAILED');
  if (p.type === 'disconnect') return { type: 'disconnect' };
  if (!isChannelId(p.id)) throw validationFailed('id', 'expected an RFC 4122 v4 UUID in lowercase');
  const requestId = p.id;
  const fail = (field: string, reason: string) =>
    new ConnectError('VALIDATION_FAILED', { message: `${field}: ${reason}`, field, requestId });
  if (typeof p.method !== 'string' || !METHOD.test(p.method)) throw fail('method', 'expected a method name');
  if (!('params' in p)) throw fail('params', 'missing');
  if (typeof p.timestamp !== 'number' || !Number.isSafeInteger(p.timestamp) || p.timestamp < 0) {
    throw fail('timestamp', 'expected ms since the epoch');
  }
  const request: SignRequest = { id: requestId, method: p.method, params: p.params, timestamp: p.timestamp };
  if (p.sessionToken !== undefined && p.sessionToken !== null) {
    if (typeof p.sessionToken !== 'string') throw fail('sessionToken', 'expected a string');
    request.sessionToken = p.sessionToken;
  }
  return request;
}

/**
 * Parses a decrypted `response` payload.
 * @throws ConnectError `VALIDATION_FAILED` naming the field.
 */
export function parseResponsePayload(value: unknown): SignResponse | DisconnectNotice {
  const p = record(value, 'VALIDATION_FAILED');
  if (p.type === 'disconnect') return { type: 'disconnect' };
  if (!isChannelId(p.id)) throw validationFailed('id', 'expected an RFC 4122 v4 UUID in lowercase');
  const hasResult = 'result' in p;
  const hasError = 'error' in p;
  if (hasResult === hasError) throw validationFailed('result', 'expected exactly one of result and error');
  if (hasResult) return { id: p.id, result: p.result };
  const error = p.error;
  if (typeof error !== 'object' || error === null) throw validationFailed('error', 'expected {code, message}');
  const { code, message } = error as Record<string, unknown>;
  if (typeof code !== 'string' || typeof message !== 'string') throw validationFailed('error', 'expected {code, message}');
  return { id: p.id, error: { code, message } };
}

function record(value: unknown, code: 'RELAY_ENVELOPE_INVALID' | 'VALIDATION_FAILED'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConnectError(code, { message: 'expected a JSON object', field: 'payload' });
  }
  return value as Record<string, unknown>;
}

function seq(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw envelope('seq');
  return value;
}

function envelope(field: string): ConnectError {
  return new ConnectError('RELAY_ENVELOPE_INVALID', { message: `${field}: malformed`, field });
}
