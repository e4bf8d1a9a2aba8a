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
  type LatchkeyDecorator,
  type LatchkeyHook,
  type LatchkeyPluginOptions,
  latchkey,
  latchkey as default,
} from './plugin.js';
