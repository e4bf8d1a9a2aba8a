/** The protocol version this code speaks: the URI's `v`, the session token's `v`, the `lkc1.` prefix. */
export const CONNECT_PROTOCOL_VERSION = 1;

/** Every default and limit of the protocol, with its unit, in one place (docs/connect-protocol.md §10). */
export const CONNECT_LIMITS = {
  /** How long a QR code / channel accepts a wallet by default: 5 min, in ms. */
  channelTtlMs: 5 * 60_000,
  /** The longest join window a URI may announce: 1 h, in ms. */
  maxChannelTtlMs: 60 * 60_000,
  /** A session token's default lifetime, from issue to expiry: 24 h, in ms. */
  sessionTtlMs: 24 * 60 * 60_000,
  /** The longest lifetime a session token may claim: 7 days, in ms. */
  maxSessionTtlMs: 7 * 24 * 60 * 60_000,
  /** How far a sign request's timestamp may be from the wallet's clock, either way: 60 s, in ms. */
  requestWindowMs: 60_000,
  /** How long a dApp waits for an answer by default: 60 s, in ms. */
  requestTimeoutMs: 60_000,
  /** Clock skew allowed on a session token's `issuedAt` being in the future: 60 s, in ms. */
  clockSkewMs: 60_000,
  /** The longest connect URI accepted, in characters. */
  maxUriLength: 1024,
  /** The longest relay URL accepted, in characters. */
  maxRelayLength: 512,
} as const;

/** The URI scheme and path: `latchkey:connect?…`. */
export const CONNECT_URI_PREFIX = 'latchkey:connect?';

/** The socket.io namespace and path suffix of a Latchkey relay, below the relay URL. */
export const RELAY_NAMESPACE = '/connect';
export const RELAY_PATH = '/v1/relay';
