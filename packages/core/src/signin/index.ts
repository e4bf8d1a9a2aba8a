export { CONNECT_CHANNEL_NAMESPACE, CONNECT_CHANNEL_SCOPE, type ConnectSignInRequest } from './connect.js';
export { type SmartAccounts, verifyEthereumSignature } from './ethereum-signature.js';
export { NONCE_NAMESPACE, type SignInRequest } from './flow.js';
export type { ResolveSignIn, SignInMethod } from './host.js';
export {
  formatSignInMessage,
  isDateTime,
  parseSignInMessage,
  type SignInFamily,
  type SignInFields,
  type SignInMessage,
} from './message.js';
export {
  ETHEREUM_FAMILY,
  formatSiweMessage,
  parseSiweMessage,
  type SiweExpectations,
  type SiweMessage,
  type SmartAccountVerifier,
  type VerifiedSignIn,
  type VerifySiweOptions,
  verifySiweMessage,
} from './siwe.js';
export {
  formatSiwsMessage,
  parseSiwsMessage,
  type SiwsExpectations,
  SOLANA_CLUSTERS,
  SOLANA_FAMILY,
  verifySiwsMessage,
} from './siws.js';
export type { SignInExpectations } from './verify.js';
