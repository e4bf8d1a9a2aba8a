/**
 * The Latchkey connect protocol (docs/connect-protocol.md): the QR URI, X25519 + HKDF-SHA256 channel
 * keys, XChaCha20-Poly1305 payloads, the wallet-signed session token, and the relay's event shapes.
 * Browser-safe; no I/O. The SDKs in `@latchkey/client/connect` and the server's relay and
 * `POST /v1/auth/connect` build on these functions.
 */
export { CONNECT_LIMITS, CONNECT_PROTOCOL_VERSION, CONNECT_URI_PREFIX, RELAY_NAMESPACE, RELAY_PATH } from './constants.js';
export {
  CONNECT_ERROR_MESSAGES,
  ConnectError,
  type ConnectErrorCode,
  isConnectError,
  isConnectErrorCode,
} from './errors.js';
export { CHANNEL_KEY_SALT, type ConnectKeyPair, connectPublicKey, deriveChannelKey, generateConnectKeyPair } from './keys.js';
export {
  type ConnectedPayload,
  type ConnectedUuidEvent,
  type DisconnectNotice,
  parseConnectedPayload,
  parseConnectedUuidEvent,
  parseRequestPayload,
  parseResponsePayload,
  parseSealedEvent,
  type SealedEvent,
  type SignRequest,
  type SignResponse,
} from './messages.js';
export {
  CONNECT_METHODS,
  type ConnectMethod,
  type DecodedSignRequest,
  decodeSignRequestParams,
  decodeSolanaSignMessageResult,
  isConnectMethod,
  type SignRequestWallet,
  solanaSignMessageParams,
  solanaSignMessageResult,
} from './methods.js';
export {
  connectAad,
  decryptConnectPayload,
  encryptConnectPayload,
  NONCE_BYTES,
  type SealContext,
  type SealedEventName,
  type SealedPayload,
} from './seal.js';
export {
  type ConnectChainType,
  createSessionToken,
  type DecodedSessionToken,
  decodeSessionToken,
  encodeSessionToken,
  isSolanaAddress,
  SESSION_TOKEN_PREFIX,
  type SessionTokenClaims,
  type SessionTokenSigner,
  sessionTokenAccount,
  sessionTokenMessage,
} from './token.js';
export {
  type ConnectUri,
  formatConnectUri,
  isChannelId,
  isUsableX25519PublicKey,
  normalizeRelayUrl,
  parseConnectUri,
  randomChannelId,
  relaySocketTarget,
} from './uri.js';
export {
  type ConnectAuthRequest,
  parseConnectAuthRequest,
  type SessionTokenExpectations,
  type SessionTokenSignatureVerifier,
  type VerifiedConnectSession,
  type VerifySessionTokenOptions,
  verifyConnectSessionToken,
  verifySessionToken,
  verifySessionTokenSignature,
} from './verify.js';
