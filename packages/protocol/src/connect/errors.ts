/**
 * The codes the connect protocol and its SDKs use, each with the fixed message of the Latchkey error
 * registry (`docs/errors.md`; `errors.test.ts` keeps the two in sync). Codes travel on the wire in
 * error responses, so a peer's code is checked against this list before it is trusted.
 */
export const CONNECT_ERROR_MESSAGES = {
  CONNECT_URI_INVALID: 'The connect URI is malformed.',
  CONNECT_URI_EXPIRED: 'The connect URI has expired.',
  CONNECT_DECRYPT_FAILED: 'The message could not be decrypted.',
  CONNECT_SESSION_TOKEN_MISSING: 'The wallet sent no session token.',
  CONNECT_SESSION_TOKEN_INVALID: 'The connect session token is invalid.',
  CONNECT_SESSION_TOKEN_EXPIRED: 'The connect session token has expired.',
  CONNECT_KEY_MISMATCH: "The peer's encryption key does not match the session token.",
  CONNECT_REQUEST_REPLAYED: 'This request id was already used.',
  CONNECT_REQUEST_STALE: 'The request is outside the allowed time window.',
  CONNECT_REQUEST_REJECTED: 'The wallet user rejected the request.',
  CONNECT_REQUEST_TIMEOUT: 'The wallet did not answer in time.',
  CONNECT_METHOD_UNSUPPORTED: 'The wallet does not support this method.',
  CONNECT_CHANNEL_USED: 'This connect channel was already used for a session.',
  CONNECT_CHANNEL_EXPIRED: 'The connect channel has expired.',
  CONNECT_CHANNEL_FULL: 'The channel already has a dApp and a wallet.',
  RELAY_ENVELOPE_INVALID: 'The relay message is malformed.',
  RELAY_PAYLOAD_TOO_LARGE: 'The relay message is too large.',
  RELAY_RATE_LIMITED: 'Too many relay messages; slow down.',
  RELAY_UNAVAILABLE: 'The relay could not be reached.',
  STORE_UNAVAILABLE: 'The session store could not answer.',
  VALIDATION_FAILED: 'Input failed validation.',
  INTERNAL_ERROR: 'Internal error.',
} as const;

/** A code a connect error can carry. */
export type ConnectErrorCode = keyof typeof CONNECT_ERROR_MESSAGES;

/** True when `value` is one of the {@link ConnectErrorCode}s. */
export function isConnectErrorCode(value: unknown): value is ConnectErrorCode {
  return typeof value === 'string' && Object.hasOwn(CONNECT_ERROR_MESSAGES, value);
}

/**
 * The one error the connect protocol and the connect SDKs throw (and emit). `code` is stable; the
 * message is the registry's fixed message unless a non-secret detail (a field name) helps the caller.
 *
 * @example
 * ```ts
 * try { parseConnectUri(scanned) } catch (e) {
 *   if (e instanceof ConnectError && e.code === 'CONNECT_URI_EXPIRED') showRescanHint();
 * }
 * ```
 */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  readonly code: ConnectErrorCode;
  /** Which input field was wrong, when one was (e.g. `exp` of a connect URI, `params[0]` of a request). */
  readonly field: string | undefined;
  /** The sign request this error answers, when there is one. */
  readonly requestId: string | undefined;

  constructor(code: ConnectErrorCode, options: { message?: string; field?: string; requestId?: string; cause?: unknown } = {}) {
    super(options.message ?? CONNECT_ERROR_MESSAGES[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.requestId = options.requestId;
  }

  /** The `{code, message}` an error response carries on the wire. */
  toWire(): { code: ConnectErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** True when `value` is a {@link ConnectError}, with `code` when given. */
export function isConnectError(value: unknown, code?: ConnectErrorCode): value is ConnectError {
  return value instanceof ConnectError && (code === undefined || value.code === code);
}

/** A CONNECT_URI_INVALID naming the field and why. */
export function uriInvalid(field: string, reason: string): ConnectError {
  return new ConnectError('CONNECT_URI_INVALID', { message: `${field}: ${reason}`, field });
}

/** A VALIDATION_FAILED naming the field and why. */
export function validationFailed(field: string, reason: string): ConnectError {
  return new ConnectError('VALIDATION_FAILED', { message: `${field}: ${reason}`, field });
}
