export {
  type AccessTokenAlgorithm,
  type AccessTokenClaims,
  type AccessTokenFailure,
  type AccessTokenResult,
  checkClaims,
  type ParsedAccessJwt,
  parseAccessJwt,
  type VerificationKey,
  verificationKeyFromJwk,
  verifyAccessJwt,
} from './jwt.js';
export { type PublicJwk, REVOCATION_NAMESPACE, SIGNING_KEY_NAMESPACE } from './service.js';
