import { xchacha20poly1305 } from '@noble/ciphers/chacha';
import { randomBytes } from '@noble/hashes/utils';
import { assertBytes, fromBase64Url, toBase64Url, utf8 } from '../encoding.js';
import { ConnectError, validationFailed } from './errors.js';
import { isChannelId } from './uri.js';

/** The relay events that carry an encrypted payload. The event names the direction. */
export type SealedEventName = 'connected_uuid' | 'request' | 'response';

/** Where a payload travels: the AEAD binds both, so a sealed payload opens only on its own event and channel. */
export interface SealContext {
  event: SealedEventName;
  uuid: string;
}

/** An encrypted payload as it crosses the relay: base64url (no padding) of the 24-byte nonce and of ciphertext || tag. */
export interface SealedPayload {
  nonce: string;
  data: string;
}

export const NONCE_BYTES = 24;
const TAG_BYTES = 16;
const EVENTS: ReadonlySet<string> = new Set(['connected_uuid', 'request', 'response']);

/** The additional authenticated data: UTF-8 of `latchkey-connect-v1:<event>:<uuid>`. */
export function connectAad(context: SealContext): Uint8Array {
  if (!EVENTS.has(context.event))
    throw new TypeError(`event: expected connected_uuid, request or response, got ${context.event}`);
  if (!isChannelId(context.uuid)) throw new TypeError('uuid: expected an RFC 4122 v4 UUID in lowercase');
  return utf8(`latchkey-connect-v1:${context.event}:${context.uuid}`);
}

/**
 * Encrypts `payload` (any JSON value) with XChaCha20-Poly1305 under the channel key. The nonce is 24
 * fresh random bytes per message; `options.nonce` exists only for published test vectors.
 *
 * @example
 * ```ts
 * const { nonce, data } = encryptConnectPayload(key, { event: 'request', uuid }, { id, method, params, timestamp });
 * ```
 */
export function encryptConnectPayload(
  key: Uint8Array,
  context: SealContext,
  payload: unknown,
  options: { nonce?: Uint8Array } = {},
): SealedPayload {
  assertBytes('key', key, 32);
  const nonce = options.nonce ?? randomBytes(NONCE_BYTES);
  assertBytes('nonce', nonce, NONCE_BYTES);
  const json = JSON.stringify(payload);
  if (json === undefined) throw new TypeError('payload: expected a JSON value');
  const sealed = xchacha20poly1305(key, nonce, connectAad(context)).encrypt(utf8(json));
  return { nonce: toBase64Url(nonce), data: toBase64Url(sealed) };
}

/**
 * Decrypts and parses a payload sealed by {@link encryptConnectPayload} for the same event and channel.
 *
 * @throws ConnectError `CONNECT_DECRYPT_FAILED` (one fixed message) for a wrong key, event, channel,
 *   nonce or any altered byte; `VALIDATION_FAILED` when what decrypts is not JSON.
 */
export function decryptConnectPayload(key: Uint8Array, context: SealContext, sealed: SealedPayload): unknown {
  assertBytes('key', key, 32);
  let nonce: Uint8Array;
  let data: Uint8Array;
  try {
    nonce = fromBase64Url(sealed.nonce);
    data = fromBase64Url(sealed.data);
  } catch {
    throw new ConnectError('CONNECT_DECRYPT_FAILED');
  }
  if (nonce.length !== NONCE_BYTES || data.length < TAG_BYTES) throw new ConnectError('CONNECT_DECRYPT_FAILED');
  let plaintext: Uint8Array;
  try {
    plaintext = xchacha20poly1305(key, nonce, connectAad(context)).decrypt(data);
  } catch {
    throw new ConnectError('CONNECT_DECRYPT_FAILED');
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    throw validationFailed('data', 'the decrypted payload is not UTF-8 JSON');
  }
}
