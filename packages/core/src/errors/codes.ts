/** Categories of failure, after origin document 003's error types. */
export type ErrorCategory = 'validation' | 'authentication' | 'authorization' | 'store' | 'encryption' | 'token' | 'system';

export interface ErrorCodeInfo {
  category: ErrorCategory;
  status: number;
  /** The fixed public message. Security failures say nothing more than this. */
  message: string;
}

/**
 * Every error code Latchkey produces. Codes are stable: never renamed, never reused once retired.
 * `docs/errors.md` lists the same table; a test keeps the two in sync.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { category: 'validation', status: 400, message: 'Input failed validation.' },
  VALIDATION_ACCOUNT_INVALID: { category: 'validation', status: 400, message: 'Account is not a valid CAIP-10 wallet account.' },
  APP_UNKNOWN: { category: 'validation', status: 404, message: 'Unknown app.' },
  TOKEN_MALFORMED: { category: 'token', status: 401, message: 'Token is malformed.' },
  TOKEN_INVALID: { category: 'token', status: 401, message: 'Token is invalid.' },
  REFRESH_TOKEN_INVALID: { category: 'token', status: 401, message: 'Refresh token is invalid.' },
  REFRESH_TOKEN_REUSED: {
    category: 'token',
    status: 401,
    message: 'Refresh token was already used; the session has been revoked.',
  },
  SESSION_NOT_FOUND: { category: 'authentication', status: 401, message: 'Session not found.' },
  SESSION_EXPIRED: { category: 'authentication', status: 401, message: 'Session expired.' },
  AUTHENTICATION_REQUIRED: { category: 'authentication', status: 401, message: 'Authentication is required.' },
  SESSION_LIMIT_REACHED: {
    category: 'authorization',
    status: 409,
    message: 'This wallet has reached its limit of live sessions.',
  },
  PERMISSION_DENIED: { category: 'authorization', status: 403, message: 'Permission denied.' },
  SESSION_DATA_UNREADABLE: { category: 'encryption', status: 500, message: 'Session data could not be decrypted.' },
  ENCRYPTION_KEY_MISSING: { category: 'encryption', status: 500, message: 'No session-data key is configured.' },
  SIGNIN_NOT_CONFIGURED: { category: 'system', status: 501, message: 'Sign-in is not configured for this app.' },
  SIWE_MESSAGE_INVALID: { category: 'validation', status: 400, message: 'The sign-in message is not a valid EIP-4361 message.' },
  SIWE_DOMAIN_MISMATCH: { category: 'authentication', status: 401, message: 'The sign-in message is for another domain.' },
  SIWE_URI_MISMATCH: { category: 'authentication', status: 401, message: 'The sign-in message URI is for another origin.' },
  SIWE_CHAIN_NOT_ALLOWED: {
    category: 'authentication',
    status: 401,
    message: 'The sign-in message names a chain this app does not accept.',
  },
  SIWE_NONCE_INVALID: {
    category: 'authentication',
    status: 401,
    message: 'The sign-in nonce is unknown, expired or already used.',
  },
  SIWE_EXPIRED: { category: 'authentication', status: 401, message: 'The sign-in message has expired.' },
  SIWE_NOT_YET_VALID: { category: 'authentication', status: 401, message: 'The sign-in message is not valid yet.' },
  SIWE_SIGNATURE_INVALID: { category: 'authentication', status: 401, message: 'Signature is invalid.' },
  SIWE_VERIFIER_UNAVAILABLE: { category: 'system', status: 503, message: 'The smart-account signature could not be checked.' },
  SIWS_MESSAGE_INVALID: {
    category: 'validation',
    status: 400,
    message: 'The sign-in message is not a valid Sign-In with Solana message.',
  },
  SIWS_DOMAIN_MISMATCH: { category: 'authentication', status: 401, message: 'The sign-in message is for another domain.' },
  SIWS_URI_MISMATCH: { category: 'authentication', status: 401, message: 'The sign-in message URI is for another origin.' },
  SIWS_CHAIN_NOT_ALLOWED: {
    category: 'authentication',
    status: 401,
    message: 'The sign-in message names a cluster this app does not accept.',
  },
  SIWS_NONCE_INVALID: {
    category: 'authentication',
    status: 401,
    message: 'The sign-in nonce is unknown, expired or already used.',
  },
  SIWS_EXPIRED: { category: 'authentication', status: 401, message: 'The sign-in message has expired.' },
  SIWS_NOT_YET_VALID: { category: 'authentication', status: 401, message: 'The sign-in message is not valid yet.' },
  SIWS_SIGNATURE_INVALID: { category: 'authentication', status: 401, message: 'Signature is invalid.' },
  ACCESS_TOKENS_NOT_CONFIGURED: { category: 'system', status: 501, message: 'Access tokens are not configured for this app.' },
  ACCESS_TOKEN_MALFORMED: { category: 'token', status: 401, message: 'Access token is malformed.' },
  ACCESS_TOKEN_KEY_UNKNOWN: { category: 'token', status: 401, message: 'Access token is signed with an unknown key.' },
  ACCESS_TOKEN_SIGNATURE_INVALID: { category: 'token', status: 401, message: 'Access token signature is invalid.' },
  ACCESS_TOKEN_EXPIRED: { category: 'token', status: 401, message: 'Access token expired.' },
  ACCESS_TOKEN_NOT_YET_VALID: { category: 'token', status: 401, message: 'Access token is not valid yet.' },
  ACCESS_TOKEN_ISSUER_INVALID: { category: 'token', status: 401, message: 'Access token has the wrong issuer.' },
  ACCESS_TOKEN_AUDIENCE_INVALID: { category: 'token', status: 401, message: 'Access token is for another audience.' },
  ACCESS_TOKEN_REVOKED: { category: 'token', status: 401, message: 'Access token belongs to a revoked session.' },
  VALIDATION_JSON_MALFORMED: { category: 'validation', status: 400, message: 'The request body is not valid JSON.' },
  VALIDATION_BODY_TOO_LARGE: { category: 'validation', status: 413, message: 'The request body is too large.' },
  VALIDATION_MEDIA_TYPE_UNSUPPORTED: {
    category: 'validation',
    status: 415,
    message: 'The request body must be application/json.',
  },
  VALIDATION_AUTHORIZATION_MALFORMED: { category: 'validation', status: 400, message: 'The Authorization header is malformed.' },
  ROUTE_NOT_FOUND: { category: 'validation', status: 404, message: 'No such route.' },
  METHOD_NOT_ALLOWED: { category: 'validation', status: 405, message: 'This route does not answer that method.' },
  SESSION_TARGET_NOT_FOUND: { category: 'validation', status: 404, message: 'No session of this wallet has that id.' },
  API_KEY_INVALID: { category: 'authentication', status: 401, message: 'API key is invalid.' },
  API_KEY_APP_MISMATCH: { category: 'authorization', status: 403, message: 'This API key belongs to another app.' },
  CSRF_REJECTED: { category: 'authorization', status: 403, message: 'Cross-site request refused.' },
  SCOPE_READ_ONLY: { category: 'authorization', status: 403, message: 'A read-only session cannot do this.' },
  RATE_LIMITED: { category: 'authorization', status: 429, message: 'Too many requests; retry later.' },
  // Session keys and stamps (docs/stamps.md).
  SIGNATURE_REQUIRED: { category: 'authentication', status: 401, message: 'This route requires a signed request.' },
  SIGNATURE_MALFORMED: { category: 'validation', status: 400, message: 'The Latchkey-Signature header is malformed.' },
  SIGNATURE_INVALID: { category: 'authentication', status: 401, message: 'Signature is invalid.' },
  SIGNATURE_STALE: { category: 'authentication', status: 401, message: 'The signed request is outside the allowed time window.' },
  SIGNATURE_REPLAYED: { category: 'authentication', status: 401, message: 'This signed request was already used.' },
  SESSION_KEY_NOT_FOUND: { category: 'authentication', status: 401, message: 'Session key not found.' },
  SESSION_KEY_EXPIRED: { category: 'authentication', status: 401, message: 'Session key expired.' },
  SESSION_KEY_REVOKED: { category: 'authentication', status: 401, message: 'Session key was revoked.' },
  SESSION_KEY_MISMATCH: { category: 'authorization', status: 403, message: 'The signing key belongs to another session.' },
  SESSION_KEY_LIMIT_REACHED: {
    category: 'authorization',
    status: 409,
    message: 'This session has reached its limit of live session keys.',
  },
  SESSION_KEY_TARGET_INVALID: { category: 'validation', status: 400, message: 'The public key is not a valid P-256 public key.' },
  SESSION_KEY_CHALLENGE_INVALID: {
    category: 'authentication',
    status: 401,
    message: 'The registration challenge is unknown, expired or already used.',
  },
  CREDENTIAL_BUNDLE_INVALID: { category: 'encryption', status: 400, message: 'The credential bundle could not be opened.' },
  SESSION_KEY_TARGET_NOT_FOUND: { category: 'validation', status: 404, message: 'No session key of this wallet has that id.' },
  // QR connect and the relay (docs/connect-protocol.md).
  CONNECT_URI_INVALID: { category: 'validation', status: 400, message: 'The connect URI is malformed.' },
  CONNECT_URI_EXPIRED: { category: 'validation', status: 400, message: 'The connect URI has expired.' },
  CONNECT_DECRYPT_FAILED: { category: 'encryption', status: 400, message: 'The message could not be decrypted.' },
  CONNECT_SESSION_TOKEN_MISSING: { category: 'authentication', status: 401, message: 'The wallet sent no session token.' },
  CONNECT_SESSION_TOKEN_INVALID: { category: 'authentication', status: 401, message: 'The connect session token is invalid.' },
  CONNECT_SESSION_TOKEN_EXPIRED: { category: 'authentication', status: 401, message: 'The connect session token has expired.' },
  CONNECT_KEY_MISMATCH: {
    category: 'authentication',
    status: 401,
    message: "The peer's encryption key does not match the session token.",
  },
  CONNECT_REQUEST_REPLAYED: { category: 'authentication', status: 401, message: 'This request id was already used.' },
  CONNECT_REQUEST_STALE: { category: 'authentication', status: 401, message: 'The request is outside the allowed time window.' },
  CONNECT_REQUEST_REJECTED: { category: 'authorization', status: 403, message: 'The wallet user rejected the request.' },
  CONNECT_REQUEST_TIMEOUT: { category: 'system', status: 504, message: 'The wallet did not answer in time.' },
  CONNECT_METHOD_UNSUPPORTED: { category: 'validation', status: 400, message: 'The wallet does not support this method.' },
  CONNECT_CHANNEL_USED: {
    category: 'authentication',
    status: 401,
    message: 'This connect channel was already used for a session.',
  },
  CONNECT_CHANNEL_EXPIRED: { category: 'authentication', status: 410, message: 'The connect channel has expired.' },
  CONNECT_CHANNEL_FULL: { category: 'authorization', status: 409, message: 'The channel already has a dApp and a wallet.' },
  RELAY_ENVELOPE_INVALID: { category: 'validation', status: 400, message: 'The relay message is malformed.' },
  RELAY_PAYLOAD_TOO_LARGE: { category: 'validation', status: 413, message: 'The relay message is too large.' },
  RELAY_RATE_LIMITED: { category: 'authorization', status: 429, message: 'Too many relay messages; slow down.' },
  RELAY_UNAVAILABLE: { category: 'system', status: 503, message: 'The relay could not be reached.' },
  STORE_UNAVAILABLE: { category: 'store', status: 503, message: 'The session store could not answer.' },
  CONFIG_INVALID: { category: 'system', status: 500, message: 'Configuration is invalid.' },
  INTERNAL_ERROR: { category: 'system', status: 500, message: 'Internal error.' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
