import { fromBase64Url, toBase64Url } from '@latchkey/protocol';
import {
  CONNECT_LIMITS,
  type ConnectChainType,
  ConnectError,
  type ConnectKeyPair,
  decryptConnectPayload,
  deriveChannelKey,
  encryptConnectPayload,
  formatConnectUri,
  generateConnectKeyPair,
  isConnectErrorCode,
  normalizeRelayUrl,
  parseConnectedPayload,
  parseConnectedUuidEvent,
  parseResponsePayload,
  parseSealedEvent,
  randomChannelId,
  type SealedEventName,
  type SessionTokenSignatureVerifier,
  sessionTokenAccount,
  verifySessionToken,
} from '@latchkey/protocol/connect';
import { type ConnectClock, systemClock } from './clock.js';
import { TypedEmitter } from './emitter.js';
import { type ConnectQr, renderConnectQr } from './qr.js';
import { type ConnectRole, RelayLink, type RelayTransportOptions } from './relay-link.js';

export interface ConnectDappOptions extends RelayTransportOptions {
  /** The relay's base URL (a Latchkey server), e.g. `https://auth.example.com`. https, or http on loopback. */
  relay: string;
  /** Refuse wallets that send no session token (old wallets). Default false. */
  requireSessionToken?: boolean;
  /** How long the QR code accepts a wallet, ms. Default 300 000 (5 min); 1 000 to 3 600 000. */
  channelTtlMs?: number;
  /** How long `request()` waits for the wallet by default, ms. Default 60 000. */
  requestTimeoutMs?: number;
  /** Checks the wallet's token signature; default EOA recovery / Ed25519. Pass one for smart accounts. */
  verifySignature?: SessionTokenSignatureVerifier;
  clock?: ConnectClock;
}

/** A channel waiting for a wallet: show `qr` (or `uri` as a link) to the user. */
export interface ConnectChannel {
  uuid: string;
  uri: string;
  qr: ConnectQr;
  /** When the QR code stops being accepted, ms. */
  expiresAt: number;
}

/** A connected wallet, as the dApp knows it. Fields are null for an old wallet that sent no session token. */
export interface ConnectSession {
  uuid: string;
  relay: string;
  hasSessionToken: boolean;
  sessionToken: string | null;
  account: string | null;
  address: string | null;
  chainType: ConnectChainType | null;
  chainId: string | null;
  /** The wallet's X25519 key for this channel, base64url. */
  walletPublicKey: string;
  /** When the session token expires, ms; null without a token. */
  expiresAt: number | null;
}

export type DappDisconnectReason = 'closed' | 'wallet_disconnected' | 'channel_expired' | 'session_expired' | 'relay_closed';

export interface ConnectDappEvents {
  session_connected: (session: ConnectSession) => void;
  disconnected: (event: { reason: DappDisconnectReason }) => void;
  /** Something arrived that could not be accepted (tampered, mismatched key, bad token, an old wallet under requireSessionToken). */
  error: (error: ConnectError) => void;
  peer_joined: (event: { role: ConnectRole }) => void;
  peer_left: (event: { role: ConnectRole }) => void;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: ConnectError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface OpenChannel {
  uuid: string;
  expiresAt: number;
  keys: ConnectKeyPair;
  link: RelayLink;
  session: ConnectSession | null;
  key: Uint8Array | null;
}

/**
 * The dApp SDK: shows a QR code, receives the wallet's one `connected_uuid` (decrypts it, verifies
 * the session token's signature and bindings), then sends encrypted sign requests.
 *
 * @example
 * ```ts
 * const dapp = new ConnectDapp({ relay: 'https://auth.example.com' });
 * dapp.on('session_connected', (s) => console.log('connected', s.account));
 * const { qr } = await dapp.createChannel(); img.src = qr.dataUrl;
 * const signature = await dapp.request('personal_sign', [toHex('hello'), address]);
 * ```
 */
export class ConnectDapp extends TypedEmitter<ConnectDappEvents> {
  readonly #options: ConnectDappOptions & { channelTtlMs: number; requestTimeoutMs: number };
  readonly #relay: string;
  readonly #clock: ConnectClock;
  readonly #pending = new Map<string, Pending>();
  #channel: OpenChannel | null = null;

  constructor(options: ConnectDappOptions) {
    super();
    const channelTtlMs = options.channelTtlMs ?? CONNECT_LIMITS.channelTtlMs;
    if (!Number.isSafeInteger(channelTtlMs) || channelTtlMs < 1000 || channelTtlMs > CONNECT_LIMITS.maxChannelTtlMs) {
      throw new TypeError('channelTtlMs: expected 1 000 to 3 600 000 ms');
    }
    const requestTimeoutMs = options.requestTimeoutMs ?? CONNECT_LIMITS.requestTimeoutMs;
    if (!Number.isSafeInteger(requestTimeoutMs) || requestTimeoutMs < 1)
      throw new TypeError('requestTimeoutMs: expected a positive integer');
    this.#relay = normalizeRelayUrl(options.relay);
    this.#options = { ...options, channelTtlMs, requestTimeoutMs };
    this.#clock = options.clock ?? systemClock;
  }

  /** The connected wallet, or null. */
  get session(): ConnectSession | null {
    return this.#channel?.session ?? null;
  }

  /**
   * Opens a fresh channel (new keys, new UUID) on the relay and returns its URI and QR code. A channel
   * this instance had before is closed first.
   *
   * @throws ConnectError `RELAY_UNAVAILABLE` or the relay's refusal.
   */
  async createChannel(): Promise<ConnectChannel> {
    this.#close('closed');
    const uuid = randomChannelId();
    const keys = generateConnectKeyPair();
    const requested = Math.floor((this.#clock.now() + this.#options.channelTtlMs) / 1000) * 1000;
    const link = new RelayLink({
      relay: this.#relay,
      uuid,
      role: 'dapp',
      rejoinKey: toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(16))),
      expiresAt: requested,
      transport: this.#options,
      handlers: {
        onEnvelope: (event, envelope) => void this.#onEnvelope(event, envelope),
        onPeer: (event, role) => this.emit(event, { role }),
        onExpired: () => this.#close('channel_expired'),
        onClosed: () => this.#close('relay_closed'),
      },
    });
    const channel: OpenChannel = { uuid, expiresAt: requested, keys, link, session: null, key: null };
    this.#channel = channel;
    let granted: number;
    try {
      granted = (await link.open()).expiresAt;
    } catch (error) {
      if (this.#channel === channel) this.#channel = null;
      throw error;
    }
    // The relay may cap the join window below what was asked: the QR code never promises more than the relay keeps.
    const expiresAt = granted > 0 ? Math.min(requested, Math.floor(granted / 1000) * 1000) : requested;
    channel.expiresAt = expiresAt;
    const uri = formatConnectUri({ uuid, relay: this.#relay, dappPublicKey: keys.publicKey, expiresAt });
    return { uuid, uri, qr: await renderConnectQr(uri), expiresAt };
  }

  /**
   * Sends an encrypted sign request and waits for the wallet's answer.
   * Methods: `personal_sign` [hexMessage, address], `eth_signTypedData_v4` [address, typedData],
   * `eth_signTransaction` / `eth_sendTransaction` [tx with 0x-hex quantities], `solana_signMessage`
   * {message: base58, pubkey}. Params must be JSON (no bigint).
   *
   * @throws ConnectError the wallet's typed error (`CONNECT_REQUEST_REJECTED`, `CONNECT_SESSION_TOKEN_EXPIRED`,
   *   …), `CONNECT_REQUEST_TIMEOUT` after `timeoutMs`, or the relay's refusal.
   */
  async request(method: string, params: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    const channel = this.#channel;
    const session = channel?.session;
    if (!channel || !session || !channel.key) throw new Error('ConnectDapp.request: no wallet is connected');
    const now = this.#clock.now();
    if (session.expiresAt !== null && now >= session.expiresAt) {
      this.#close('session_expired');
      throw new ConnectError('CONNECT_SESSION_TOKEN_EXPIRED');
    }
    const id = randomChannelId();
    const payload = {
      id,
      method,
      params,
      timestamp: now,
      ...(session.sessionToken ? { sessionToken: session.sessionToken } : {}),
    };
    const sealed = encryptConnectPayload(channel.key, { event: 'request', uuid: channel.uuid }, payload);
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ConnectError('CONNECT_REQUEST_TIMEOUT', { requestId: id }));
      }, options.timeoutMs ?? this.#options.requestTimeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    try {
      await channel.link.send('request', { uuid: channel.uuid, ...sealed });
    } catch (error) {
      this.#settle(id, { error: error as ConnectError });
    }
    return answer;
  }

  /** Tells the wallet the session ended (encrypted) and leaves the channel. */
  async disconnect(): Promise<void> {
    const channel = this.#channel;
    if (channel?.key && channel.session) {
      const sealed = encryptConnectPayload(channel.key, { event: 'request', uuid: channel.uuid }, { type: 'disconnect' });
      await channel.link.send('request', { uuid: channel.uuid, ...sealed }).catch(() => {});
    }
    this.#close('closed');
  }

  async #onEnvelope(event: SealedEventName, raw: unknown): Promise<void> {
    const channel = this.#channel;
    if (!channel) return;
    try {
      if (event === 'connected_uuid') await this.#onConnected(channel, raw);
      else if (event === 'response') this.#onResponse(channel, raw);
    } catch (error) {
      this.emit('error', error instanceof ConnectError ? error : new ConnectError('INTERNAL_ERROR', { cause: error }));
    }
  }

  async #onConnected(channel: OpenChannel, raw: unknown): Promise<void> {
    if (channel.session) return; // one wallet per channel; later copies are ignored
    const event = parseConnectedUuidEvent(raw);
    if (event.uuid !== channel.uuid) throw new ConnectError('RELAY_ENVELOPE_INVALID', { field: 'uuid' });
    const key = deriveChannelKey({
      role: 'dapp',
      privateKey: channel.keys.privateKey,
      peerPublicKey: fromKey(event.publicKey),
      uuid: channel.uuid,
    });
    const base = { uuid: channel.uuid, relay: this.#relay, walletPublicKey: event.publicKey };
    let session: ConnectSession;
    if (event.nonce === undefined || event.data === undefined) {
      if (this.#options.requireSessionToken) throw new ConnectError('CONNECT_SESSION_TOKEN_MISSING');
      session = {
        ...base,
        hasSessionToken: false,
        sessionToken: null,
        account: null,
        address: null,
        chainType: null,
        chainId: null,
        expiresAt: null,
      };
    } else {
      const payload = parseConnectedPayload(
        decryptConnectPayload(key, { event: 'connected_uuid', uuid: channel.uuid }, { nonce: event.nonce, data: event.data }),
      );
      const claims = await verifySessionToken(payload.sessionToken, {
        now: this.#clock.now(),
        expected: {
          uuid: channel.uuid,
          relay: this.#relay,
          dappPublicKey: channel.keys.publicKey,
          walletPublicKey: event.publicKey,
        },
        ...(this.#options.verifySignature ? { verifySignature: this.#options.verifySignature } : {}),
      });
      if (payload.address !== claims.address || payload.chainType !== claims.chainType) {
        throw new ConnectError('CONNECT_SESSION_TOKEN_INVALID', { field: 'address' });
      }
      // A token signed after this QR code expired did not come from scanning it in time.
      if (claims.issuedAt > channel.expiresAt + CONNECT_LIMITS.clockSkewMs)
        throw new ConnectError('CONNECT_SESSION_TOKEN_INVALID', { field: 'issuedAt' });
      session = {
        ...base,
        hasSessionToken: true,
        sessionToken: payload.sessionToken,
        account: sessionTokenAccount(claims),
        address: claims.address,
        chainType: claims.chainType,
        chainId: claims.chainId,
        expiresAt: claims.expiresAt,
      };
    }
    if (this.#channel !== channel || channel.session) return;
    channel.key = key;
    channel.session = session;
    channel.keys.privateKey.fill(0);
    this.emit('session_connected', session);
  }

  #onResponse(channel: OpenChannel, raw: unknown): void {
    if (!channel.key) return;
    const envelope = parseSealedEvent(raw);
    if (envelope.uuid !== channel.uuid) throw new ConnectError('RELAY_ENVELOPE_INVALID', { field: 'uuid' });
    const response = parseResponsePayload(
      decryptConnectPayload(channel.key, { event: 'response', uuid: channel.uuid }, envelope),
    );
    if ('type' in response) {
      this.#close('wallet_disconnected');
      return;
    }
    if ('result' in response) {
      this.#settle(response.id, { result: response.result });
      return;
    }
    const { code, message } = response.error;
    const error = isConnectErrorCode(code)
      ? new ConnectError(code, { message: message.slice(0, 300), requestId: response.id })
      : new ConnectError('INTERNAL_ERROR', { requestId: response.id });
    this.#settle(response.id, { error });
  }

  #settle(id: string, outcome: { result: unknown } | { error: ConnectError }): void {
    const pending = this.#pending.get(id);
    if (!pending) return; // already answered, timed out, or never ours
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if ('error' in outcome) pending.reject(outcome.error);
    else pending.resolve(outcome.result);
  }

  #close(reason: DappDisconnectReason): void {
    const channel = this.#channel;
    if (!channel) return;
    this.#channel = null;
    channel.link.close();
    channel.keys.privateKey.fill(0);
    channel.key?.fill(0);
    for (const id of [...this.#pending.keys()]) {
      this.#settle(id, {
        error: new ConnectError('CONNECT_REQUEST_TIMEOUT', {
          message: 'The session ended before the wallet answered.',
          requestId: id,
        }),
      });
    }
    if (channel.session || reason !== 'closed') this.emit('disconnected', { reason });
  }
}

function fromKey(text: string): Uint8Array {
  try {
    return fromBase64Url(text);
  } catch {
    throw new ConnectError('RELAY_ENVELOPE_INVALID', { field: 'publicKey' });
  }
}
