export {
  APP_ID_PATTERN,
  type AppSettings,
  type AppSettingsInput,
  appSettingsSchema,
  type ConnectSettings,
  DEFAULT_APP_ID,
  type LatchkeyOptions,
} from './config.js';
export {
  type AuditQueryOptions,
  type InvalidSessionCode,
  type IssuedSession,
  Latchkey,
  type TokenUser,
  type ValidateOptions,
  type ValidationResult,
} from './engine.js';
export { type CreateSessionInput, MAX_SESSION_DATA_BYTES } from './inputs.js';
export { grants, permissionsFor } from './permissions.js';
export {
  type AuthMethod,
  type ChainType,
  type DeviceInfo,
  expiresAt,
  isLive,
  type RefreshState,
  type SessionRecord,
  type SessionScope,
  type SessionSnapshot,
} from './record.js';
export { decideRotation } from './rotation.js';
export type { Session } from './view.js';
