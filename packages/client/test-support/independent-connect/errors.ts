// Independent implementation of docs/connect-protocol.md (test-only). Written from the document alone.

export type ConnectErrorCode =
  | 'CONNECT_URI_INVALID'
  | 'CONNECT_URI_EXPIRED'
  | 'CONNECT_DECRYPT_FAILED'
  | 'CONNECT_SESSION_TOKEN_MISSING'
  | 'CONNECT_SESSION_TOKEN_INVALID'
  | 'CONNECT_SESSION_TOKEN_EXPIRED'
  | 'CONNECT_KEY_MISMATCH'
  | 'CONNECT_REQUEST_REPLAYED'
  | 'CONNECT_REQUEST_STALE'
  | 'CONNECT_REQUEST_REJECTED'
  | 'CONNECT_REQUEST_TIMEOUT'
  | 'CONNECT_METHOD_UNSUPPORTED'
  | 'CONNECT_CHANNEL_USED'
  | 'CONNECT_CHANNEL_EXPIRED'
  | 'CONNECT_CHANNEL_FULL'
  | 'RELAY_ENVELOPE_INVALID'
  | 'RELAY_PAYLOAD_TOO_LARGE'
  | 'RELAY_RATE_LIMITED'
  | 'RELAY_UNAVAILABLE'
  | 'STORE_UNAVAILABLE'
  | 'VALIDATION_FAILED'
  | 'INTERNAL_ERROR';

/** §10.4 codes a dApp accepts in `response.error.code`; anything else maps to INTERNAL_ERROR (§8.3). */
export const KNOWN_CODES: ReadonlySet<string> = new Set<ConnectErrorCode>([
  'CONNECT_URI_INVALID',
  'CONNECT_URI_EXPIRED',
  'CONNECT_DECRYPT_FAILED',
  'CONNECT_SESSION_TOKEN_MISSING',
  'CONNECT_SESSION_TOKEN_INVALID',
  'CONNECT_SESSION_TOKEN_EXPIRED',
  'CONNECT_KEY_MISMATCH',
  'CONNECT_REQUEST_REPLAYED',
  'CONNECT_REQUEST_STALE',
  'CONNECT_REQUEST_REJECTED',
  'CONNECT_REQUEST_TIMEOUT',
  'CONNECT_METHOD_UNSUPPORTED',
  'CONNECT_CHANNEL_USED',
  'CONNECT_CHANNEL_EXPIRED',
  'CONNECT_CHANNEL_FULL',
  'RELAY_ENVELOPE_INVALID',
  'RELAY_PAYLOAD_TOO_LARGE',
  'RELAY_RATE_LIMITED',
  'RELAY_UNAVAILABLE',
  'STORE_UNAVAILABLE',
  'VALIDATION_FAILED',
  'INTERNAL_ERROR',
]);

/** Fixed messages (the document refers to docs/errors.md for the texts; these are our own). */
export const FIXED_MESSAGES: Record<ConnectErrorCode, string> = {
  CONNECT_URI_INVALID: 'The connect URI is invalid.',
  CONNECT_URI_EXPIRED: 'The connect URI has expired.',
  CONNECT_DECRYPT_FAILED: 'The message could not be decrypted.',
  CONNECT_SESSION_TOKEN_MISSING: 'The session token is missing.',
  CONNECT_SESSION_TOKEN_INVALID: 'The session token is invalid.',
  CONNECT_SESSION_TOKEN_EXPIRED: 'The session token has expired.',
  CONNECT_KEY_MISMATCH: 'The encryption key does not match the session token.',
  CONNECT_REQUEST_REPLAYED: 'The request was replayed.',
  CONNECT_REQUEST_STALE: 'The request timestamp is outside the allowed window.',
  CONNECT_REQUEST_REJECTED: 'The wallet user rejected the request.',
  CONNECT_REQUEST_TIMEOUT: 'The request timed out.',
  CONNECT_METHOD_UNSUPPORTED: 'The method is not supported.',
  CONNECT_CHANNEL_USED: 'The channel was already used.',
  CONNECT_CHANNEL_EXPIRED: 'The channel does not exist or has expired.',
  CONNECT_CHANNEL_FULL: 'The channel is full.',
  RELAY_ENVELOPE_INVALID: 'The envelope is invalid.',
  RELAY_PAYLOAD_TOO_LARGE: 'The payload is too large.',
  RELAY_RATE_LIMITED: 'Rate limited.',
  RELAY_UNAVAILABLE: 'The relay is unavailable.',
  STORE_UNAVAILABLE: 'The store is unavailable.',
  VALIDATION_FAILED: 'Validation failed.',
  INTERNAL_ERROR: 'Internal error.',
};

export class IndependentConnectError extends Error {
  readonly code: string;
  readonly field: string | undefined;
  constructor(code: string, message?: string, field?: string) {
    super(message ?? FIXED_MESSAGES[code as ConnectErrorCode] ?? code);
    this.name = 'IndependentConnectError';
    this.code = code;
    this.field = field;
  }
}

export function fail(code: ConnectErrorCode, field?: string, message?: string): never {
  throw new IndependentConnectError(code, message ?? FIXED_MESSAGES[code], field);
}
