/**
 * The codes a Latchkey server answers with, in the order of its registry
 * (`packages/core/src/errors/codes.ts`; `codes.test.ts` keeps the two lists equal). The client cannot
 * import the registry: it is Node-only and carries HTTP statuses the browser has no use for.
 */
export const SERVER_ERROR_CODES = [
  'VALIDATION_FAILED',
  'VALIDATION_ACCOUNT_INVALID',
  'APP_UNKNOWN',
  'TOKEN_MALFORMED',
  'TOKEN_INVALID',
  'REFRESH_TOKEN_INVALID',
  'REFRESH_TOKEN_REUSED',
  'SESSION_NOT_FOUND',
  'SESSION_EXPIRED',
  'AUTHENTICATION_REQUIRED',
  'SESSION_LIMIT_REACHED',
  'PERMISSION_DENIED',
  'SESSION_DATA_UNREADABLE',
  'ENCRYPTION_KEY_MISSING',
  'SIGNIN_NOT_CONFIGURED',
  'SIWE_MESSAGE_INVALID',
  'SIWE_DOMAIN_MISMATCH',
  'SIWE_URI_MISMATCH',
  'SIWE_CHAIN_NOT_ALLOWED',
  'SIWE_NONCE_INVALID',
  'SIWE_EXPIRED',
  'SIWE_NOT_YET_VALID',
  'SIWE_SIGNATURE_INVALID',
  'SIWE_VERIFIER_UNAVAILABLE',
  'SIWS_MESSAGE_INVALID',
  'SIWS_DOMAIN_MISMATCH',
  'SIWS_URI_MISMATCH',
  'SIWS_CHAIN_NOT_ALLOWED',
  'SIWS_NONCE_INVALID',
  'SIWS_EXPIRED',
  'SIWS_NOT_YET_VALID',
  'SIWS_SIGNATURE_INVALID',
  'ACCESS_TOKENS_NOT_CONFIGURED',
  'ACCESS_TOKEN_MALFORMED',
  'ACCESS_TOKEN_KEY_UNKNOWN',
  'ACCESS_TOKEN_SIGNATURE_INVALID',
  'ACCESS_TOKEN_EXPIRED',
  'ACCESS_TOKEN_NOT_YET_VALID',
  'ACCESS_TOKEN_ISSUER_INVALID',
  'ACCESS_TOKEN_AUDIENCE_INVALID',
  'ACCESS_TOKEN_REVOKED',
  'VALIDATION_JSON_MALFORMED',
  'VALIDATION_BODY_TOO_LARGE',
  'VALIDATION_MEDIA_TYPE_UNSUPPORTED',
  'VALIDATION_AUTHORIZATION_MALFORMED',
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'SESSION_TARGET_NOT_FOUND',
  'API_KEY_INVALID',
  'API_KEY_APP_MISMATCH',
  'CSRF_REJECTED',
  'SCOPE_READ_ONLY',
  'RATE_LIMITED',
  'SIGNATURE_REQUIRED',
  'SIGNATURE_MALFORMED',
  'SIGNATURE_INVALID',
  'SIGNATURE_STALE',
  'SIGNATURE_REPLAYED',
  'SESSION_KEY_NOT_FOUND',
  'SESSION_KEY_EXPIRED',
  'SESSION_KEY_REVOKED',
  'SESSION_KEY_MISMATCH',
  'SESSION_KEY_LIMIT_REACHED',
  'SESSION_KEY_TARGET_INVALID',
  'SESSION_KEY_CHALLENGE_INVALID',
  'CREDENTIAL_BUNDLE_INVALID',
  'SESSION_KEY_TARGET_NOT_FOUND',
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
  'CONFIG_INVALID',
  'INTERNAL_ERROR',
] as const;

export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/**
 * Codes only the client raises: nothing went to the server, or what came back was not a Latchkey answer.
 * A server code the client also raises locally (CREDENTIAL_BUNDLE_INVALID when a bundle does not open,
 * SESSION_KEY_TARGET_INVALID for a bad public key) keeps its server name.
 */
export const CLIENT_ERROR_CODES = [
  /** No session in this client (never signed in, signed out, or the session was dropped after a failed refresh). */
  'NOT_SIGNED_IN',
  /** The request did not reach the server, or no answer came (fetch rejected). */
  'NETWORK_ERROR',
  /** The server answered something that is not a Latchkey answer (wrong status, not JSON, missing fields). */
  'RESPONSE_INVALID',
  /** The wallet did not give an account, a chain or a signature (the user rejected, the provider failed). */
  'SIGNER_FAILED',
  /** `client.fetch` was asked to send the session credential to an origin that is not the server's or a trusted one. */
  'ORIGIN_NOT_TRUSTED',
  /** The storage could not read or write (IndexedDB refused, the file could not be written). */
  'STORAGE_FAILED',
  /** An option is missing or wrong (thrown by the constructor or by the call that took it). */
  'CLIENT_OPTIONS_INVALID',
] as const;

export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

/** Every `code` a `LatchkeyClientError` carries: switch on it. */
export type LatchkeyClientErrorCode = ServerErrorCode | ClientErrorCode;
