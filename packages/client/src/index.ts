/**
 * `@latchkey/client`: the Latchkey SDK for browsers and Node — wallet sign-in, sessions, device-bound
 * session keys and stamped requests with one refresh and one retry. Node-only helpers (FileStorage)
 * are under `@latchkey/client/node`; the QR connect clients under `@latchkey/client/connect`.
 */
export {
  type CreateSessionKeyOptions,
  LatchkeyClient,
  type ServerSession,
  type SignInOptions,
} from './client.js';
export {
  CLIENT_ERROR_CODES,
  type ClientErrorCode,
  isLatchkeyClientError,
  LatchkeyClientError,
  type LatchkeyClientErrorCode,
  SERVER_ERROR_CODES,
  type ServerErrorCode,
} from './errors/index.js';
export { generateSessionKeyPair, type SessionKeyPair } from './keys/webcrypto.js';
export type { LatchkeyClientOptions } from './options.js';
export type { ClientEvent, Clock } from './session/agent.js';
export type {
  IssuedTokens,
  ListedSession,
  ListedSessionKey,
  Session,
  SessionKeyInfo,
  SessionKeyMode,
  SessionScope,
} from './session/types.js';
export type { Eip1193Provider, MessageSigner, WalletSigner } from './signin/signer.js';
export type { SiweOptions } from './signin/siwe.js';
export {
  defaultStorage,
  IndexedDbStorage,
  type LatchkeyStorage,
  MemoryStorage,
  type StoredValue,
} from './storage/index.js';
