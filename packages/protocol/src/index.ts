/**
 * `@latchkey/protocol`: the session-key wire formats shared by the server and every client —
 * credential bundles (HPKE, Turnkey-compatible), request stamps and registration proofs.
 * Browser-safe: WebCrypto and pure-JS libraries only.
 */
export { openCredentialBundle, sealCredentialBundle } from './bundle.js';
export { fromBase64Url, fromHex, toBase64Url, toHex } from './encoding.js';
export { isProtocolError, ProtocolError } from './errors.js';
export { compressP256PublicKey, generateP256KeyPair, type P256KeyPair, p256PublicKey, parseP256PublicKey } from './p256.js';
export {
  type RegistrationClaims,
  registrationPayload,
  signRegistration,
  verifyRegistration,
} from './registration.js';
export type { StampSigner } from './signer.js';
export {
  bodyDigest,
  createStamp,
  type StampClaims,
  type StampRequest,
  stampPayload,
  verifyStampSignature,
} from './stamp.js';
export { formatStampHeader, type ParsedStamp, parseStampHeader, STAMP_HEADER } from './stamp-header.js';
