export {
  type AccessTokenContext,
  type AccessTokenSession,
  type AnonymousContext,
  type AuthenticatedContext,
  type CommonOptions,
  type CookieOptions,
  defaultCookieName,
  type EngineModeOptions,
  type GuardOptions,
  type JwtModeOptions,
  type LatchkeyContext,
  type RemoteModeOptions,
  type SessionTokenContext,
  type StampContext,
  type StampRequirement,
  type ValidationMode,
  type WalletAuthenticationOptions,
  WalletAuthenticator,
} from '@latchkey/core/middleware';
export {
  optionalWalletAuthentication,
  requirePermission,
  requireWalletAuthentication,
  type WalletAuthenticationHandler,
} from './middleware.js';
export { keepRawBody } from './raw-body.js';
