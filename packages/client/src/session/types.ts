/** A session as the server answers it: never a token. */
export interface Session {
  id: string;
  appId: string;
  /** CAIP-10 account, e.g. `eip155:1:0xAb…`. */
  account: string;
  chainType: 'eip155' | 'solana';
  address: string;
  userId: string | null;
  authMethod: string;
  scope: SessionScope;
  roles: string[];
  permissions: string[];
  device: { deviceId?: string; userAgent?: string; ip?: string };
  createdAt: number;
  lastActiveAt: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
  /** The earlier of the two expiries (ms since the epoch). */
  expiresAt: number;
  refreshGeneration: number;
  hasData: boolean;
}

export type SessionScope = 'read-only' | 'read-write';

/** One of the wallet's live sessions, from `sessions()`. */
export interface ListedSession extends Session {
  /** This client's own session. */
  current: boolean;
}

/** How a session key came to the device. */
export type SessionKeyMode = 'registered' | 'bundle' | 'server';

/** The session key this client holds (its private half stays in WebCrypto). */
export interface SessionKeyInfo {
  /** `lksk_…`, issued by the server. */
  id: string;
  /** Hex of the 65-byte uncompressed P-256 public key. */
  publicKey: string;
  scope: SessionScope;
  name: string | null;
  createdAt: number;
  expiresAt: number;
  /**
   * registered: made on this device, only its public half sent (with a proof of possession).
   * bundle: made by the server, sealed to a one-time key of this device, opened here.
   * server: like bundle, for a server process that keeps the key itself (custodial).
   */
  mode: SessionKeyMode;
}

/** One of the wallet's live session keys, from `sessionKeys()`. */
export interface ListedSessionKey {
  id: string;
  publicKey: string;
  scope: SessionScope;
  name: string | null;
  createdAt: number;
  expiresAt: number;
  sessionId: string;
  /** Belongs to this client's session. */
  current: boolean;
}

/** What sign-in and refresh answer in bearer mode. */
export interface IssuedTokens {
  session: Session;
  /** `lks_…` */
  token: string;
  /** `lkr_…` */
  refreshToken: string;
  accessToken?: string;
}
