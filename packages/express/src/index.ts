export {
  type AccessTokenContext,
  type AccessTokenSession,
  type AnonymousContext,
  type AuthenticatedContext,
  type CommonOptions,
  type CookieOptions,
  defaultCookieName,
  type EngineModeOptions,
  type JwtModeOptions,
  type LatchkeyContext,
  type RemoteModeOptions,
  type SessionTokenContext,
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
