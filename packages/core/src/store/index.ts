export {
  type AuditQuery,
  type CreateSessionInput as StoreCreateSessionInput,
  type CreateSessionResult,
  type LimitPolicy,
  type RotateRefreshInput,
  type RotateRefreshResult,
  STATS_COUNTERS,
  type StatsCounter,
  type Store,
  type StoreStats,
  type ValidateSessionInput,
  zeroCounters,
} from './contract.js';
