export { CHALLENGE_TTL_MS } from './challenge.js';
export type { CreatedSessionKey, CreateSessionKeyInput, SessionKeyRequest } from './create.js';
export { sessionKeyRequest } from './create.js';
export { KEY_ID_PREFIX, type SessionKey, type SessionKeyOrigin, sessionIdOfKey } from './record.js';
export { SessionKeys } from './service.js';
export type { StampFailureCode, StampVerification, VerifiedStamp, VerifyStampInput } from './stamp.js';
