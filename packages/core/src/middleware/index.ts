/**
 * `@latchkey/core/middleware`: the framework-neutral half of `@latchkey/express` and
 * `@latchkey/fastify`. Options, the three validation modes (engine, remote server, JWT via JWKS),
 * the remote answer cache and the RFC 6750 answers live here once; the adapters only move headers
 * in and answers out. No framework and no I/O module is imported: the remote and JWKS modes call the
 * `fetch` they are given (the global one by default). Stamps (`Latchkey-Signature`) are verified here
 * too; the adapters only hand over the request's target and raw body bytes.
 */
export {
  type Answer,
  AUTHORITY_UNAVAILABLE,
  type BearerError,
  bearerChallenge,
  CREDENTIAL_MISSING,
  CROSS_SITE_REFUSED,
  type ErrorBody,
  HEADER_MALFORMED,
  invalidToken,
  permissionDenied,
  REALM,
  SIGNATURE_REQUIRED,
  STAMP_UNCHECKABLE,
  type StampRefusalCode,
  stampRefused,
} from './answers.js';
export {
  type AuthenticationOptions,
  type AuthenticationOutcome,
  assertPermission,
  type CredentialHeaders,
  type FinishedResponse,
  permissionAnswer,
  type RememberedToken,
  WalletAuthenticator,
} from './authenticator.js';
export type {
  AccessTokenContext,
  AccessTokenSession,
  AnonymousContext,
  AuthenticatedContext,
  LatchkeyContext,
  SessionTokenContext,
  StampContext,
  ValidationMode,
} from './context.js';
export { type Credential, cookieValue, isCookieRequestAllowed, readCredential } from './credentials.js';
export {
  type CommonOptions,
  type CookieOptions,
  defaultCookieName,
  type EngineModeOptions,
  type FetchFunction,
  type GuardOptions,
  type JwtModeOptions,
  type PublicJwkInput,
  type RemoteModeOptions,
  type StampRequirement,
  type WalletAuthenticationOptions,
} from './options.js';
export { hasRequestBody, STAMP_HEADER_NAME } from './stamps.js';
