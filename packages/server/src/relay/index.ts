export type { ChannelStore, MissedMessage } from './channels.js';
export type { Envelope, JoinRequest, MessageEvent, Role, SequencedEnvelope } from './envelope.js';
export { type MountedRelay, mountRelay } from './mount.js';
export {
  RELAY_NAMESPACE,
  RELAY_PATH,
  type RelayOptions,
  type ResolvedRelayOptions,
  resolveRelayOptions,
} from './options.js';
export type { Relay } from './relay.js';
export { ManualScheduler, type RelayScheduler, type ScheduledTask, systemScheduler } from './scheduler.js';
