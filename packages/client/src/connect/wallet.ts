import { toBase64Url } from '@latchkey/protocol';
import {
  CONNECT_LIMITS,
  ConnectError,
  type ConnectMethod,
  createSessionToken,
  type DecodedSignRequest,
  decryptConnectPayload,
  deriveChannelKey,
  encryptConnectPayload,
  generateConnectKeyPair,
  parseConnectUri,
  parseRequestPayload,
  parseSealedEvent,
  type SealedEventName,
  type SessionTokenSignatureVerifier,
  sessionTokenAccount,
  verifySessionToken,
} from '@latchkey/protocol/connect';
import { getAddress, isAddress } from 'viem';
import { type ConnectClock, systemClock } from './clock.js';
import { decodeWalletRequest } from './decode.js';
import { TypedEmitter } from './emitter.js';
import { canServe, executeSignRequest, toConnectError } from './execute.js';
import { RelayLink, type RelayTransportOptions } from './relay-link.js';
import { ReplayWindow } from './replay-window.js';
import type { ConnectSigner } from './signers.js';
import { type SignRequestSummary, summarizeSignRequest } from './summary.js';

export interface ConnectWalletOptions extends RelayTransportOptions {
  /** Lifetime of the session token this wallet signs, ms. Default 24 h; at most 7 days. */
  sessionTtlMs?: number;
  /** How far a request's timestamp may be from this wallet's clock, either way, ms. Default 60 000. */
  requestWindowMs?: number;
  /** Checks this wallet's own token signature before each request; default EOA recovery / Ed25519. */
  verifySignature?: SessionTokenSignatureVerifier;
  clock?: ConnectClock;
}

/**
 * What the user is asked to approve: the request as it will be signed, never the dApp's raw params (a
 * transaction may spell a field twice; the decoded value is the one signed, and ambiguous ones are refused).
 */
export interface WalletSignRequest {
  id: string;
  method: ConnectMethod;
  /** The dApp's clock, ms. */
  timestamp: number;
  /** CAIP-10 account that will sign. */
  account: string;
  /** Exactly what the signer is given when the request is approved. */
  decoded: DecodedSignRequest;
  /** The fields to show, derived from `decoded`: a transaction's `to`/`value`/`chainId`, a typed-data domain, a message's text. */
  summary: SignRequestSummary;
}

/**
 * Answers whether the user approves `request`; false (or a throw) refuses it with `CONNECT_REQUEST_REJECTED`.
 * Called for one request at a time: the next waits until this one is answered (and signed).
 */
export type WalletRequestHandler = (request: WalletSignRequest) => boolean | Promise<boolean>;

/** The wallet's side of a connected channel. */
export interface WalletSession {
  uuid: string;
  relay: string;
  account: string;
  address: string;
  sessionToken: string;
  /** When the session token expires, ms. */
  expiresAt: number;
}

export type WalletDisconnectReason = 'closed' | 'dapp_disconnected' | 'channel_expired' | 'relay_closed';

export interface ConnectWalletEvents {
  /** A request was refused before the user saw it (tampering, replay, stale, bad token, bad params), or a message could not be read. */
  error: (error: ConnectError) => void;
  /** A request was answered (with a result or an error). */
  answered: (answer: { id: string; method: string; error?: ConnectError }) => void;
  disconnected: (event: { reason: WalletDisconnectReason }) => void;
}

interface ActiveChannel {
  session: WalletSession;
  signer: ConnectSigner;
  key: Uint8Array;
  dappPublicKey: Uint8Array;
  walletPublicKey: Uint8Array;
  link: RelayLink;
  replay: ReplayWindow;
}

/**
 * The wallet SDK: scan a dApp's QR URI, connect with one `connected_uuid` carrying a session token
 * signed by the wallet's chain key, then answer the dApp's encrypted sign requests after checking each
 * one (session token, freshness, replay) and asking the user.
 *
 * @example
 * ```ts
 * const wallet = new ConnectWallet();
 * wallet.onRequest(async (req) => confirm(`${req.method} for ${req.account}?`));
 * const session = await wallet.connect(scannedUri, ethereumSigner(privateKeyToAccount(key), { chainId: 1 }));
 * ```
 */
export class ConnectWallet extends TypedEmitter<ConnectWalletEvents> {
  readonly #options: Required<Pick<ConnectWalletOptions, 'sessionTtlMs' | 'requestWindowMs'>> & ConnectWalletOptions;
  readonly #clock: ConnectClock;
  #handler: WalletRequestHandler | null = null;
  #active: ActiveChannel | null = null;
  /** Settles when the request whose turn it is has been answered: requests take turns with the user. */
  #turn: Promise<void> = Promise.resolve();

  constructor(options: ConnectWalletOptions = {}) {
    super();
    const sessionTtlMs = options.sessionTtlMs ?? CONNECT_LIMITS.sessionTtlMs;
    if (!Number.isSafeInteger(sessionTtlMs) || sessionTtlMs < 1000 || sessionTtlMs > CONNECT_LIMITS.maxSessionTtlMs) {
      throw new TypeError('sessionTtlMs: expected 1 000 ms to 7 days');
    }
    const requestWindowMs = options.requestWindowMs ?? CONNECT_LIMITS.requestWindowMs;
    if (!Number.isSafeInteger(requestWindowMs) || requestWindowMs < 1000 || requestWindowMs > 600_000) {
      throw new TypeError('requestWindowMs: expected 1 000 to 600 000 ms');
    }
    this.#options = { ...options, sessionTtlMs, requestWindowMs };
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The user-approval callback for sign requests. Without one, every request is rejected. It is called for
   * one request at a time, in the order they passed their checks; a request that waited longer than
   * `requestWindowMs` for its turn is refused (`CONNECT_REQUEST_STALE`) without asking.
   */
  onRequest(handler: WalletRequestHandler): void {
    this.#handler = handler;
  }

  /** The connected session, or null. */
  get session(): WalletSession | null {
    return this.#active?.session ?? null;
  }

  /**
   * Parses `uri`, signs a session token with `signer`, joins the channel and sends `connected_uuid`.
   *
   * @throws ConnectError `CONNECT_URI_INVALID` / `CONNECT_URI_EXPIRED` (bad or stale QR code),
   *   `CONNECT_SESSION_TOKEN_INVALID` (the signer's signature does not verify for its address),
   *   `CONNECT_CHANNEL_EXPIRED` / `CONNECT_CHANNEL_FULL` / `RELAY_UNAVAILABLE` (relay).
   */
  async connect(uri: string, signer: ConnectSigner): Promise<WalletSession> {
    if (this.#active) throw new Error('ConnectWallet.connect: already connected; disconnect() first');
    const parsed = parseConnectUri(uri, { now: this.#clock.now() });
    const { chainId, address } = checkSigner(signer);
    const keys = generateConnectKeyPair();
    const key = deriveChannelKey({
      role: 'wallet',
      privateKey: keys.privateKey,
      peerPublicKey: parsed.dappPublicKey,
      uuid: parsed.uuid,
    });
    keys.privateKey.fill(0);
    const issuedAt = this.#clock.now();
    const claims = {
      uuid: parsed.uuid,
      relay: parsed.relay,
      chainType: signer.chainType,
      chainId,
      address,
      dappPublicKey: toBase64Url(parsed.dappPublicKey),
      walletPublicKey: toBase64Url(keys.publicKey),
      issuedAt,
      expiresAt: issuedAt + this.#options.sessionTtlMs,
    };
    const sessionToken = await createSessionToken(claims, (message) =>
      signer.chainType === 'eip155' ? signer.signMessage({ message }) : signer.signMessage(new TextEncoder().encode(message)),
    );
    await this.#verifyOwnToken(
      sessionToken,
      { signer, address },
      parsed.uuid,
      parsed.relay,
      parsed.dappPublicKey,
      keys.publicKey,
    );
    // Signing may have waited on the user; a QR code that expired meanwhile is not used.
    if (this.#clock.now() >= parsed.expiresAt) throw new ConnectError('CONNECT_URI_EXPIRED', { field: 'exp' });

    const session: WalletSession = {
      uuid: parsed.uuid,
      relay: parsed.relay,
      account: sessionTokenAccount(claims),
      address,
      sessionToken,
      expiresAt: claims.expiresAt,
    };
    const link = new RelayLink({
      relay: parsed.relay,
      uuid: parsed.uuid,
      role: 'wallet',
      rejoinKey: toBase64Url(randomRejoinKey()),
      transport: this.#options,
      handlers: {
        onEnvelope: (event, envelope) => void this.#onEnvelope(event, envelope),
        onPeer: () => {},
        onExpired: () => this.#end('channel_expired'),
        onClosed: () => this.#end('relay_closed'),
      },
    });
    const active: ActiveChannel = {
      session,
      signer,
      key,
      dappPublicKey: parsed.dappPublicKey,
      walletPublicKey: keys.publicKey,
      link,
      replay: new ReplayWindow(this.#options.requestWindowMs),
    };
    this.#active = active;
    try {
      await link.open();
      const sealed = encryptConnectPayload(
        key,
        { event: 'connected_uuid', uuid: parsed.uuid },
        {
          sessionToken,
          address,
          chainType: signer.chainType,
        },
      );
      await link.send('connected_uuid', { uuid: parsed.uuid, publicKey: toBase64Url(keys.publicKey), ...sealed });
    } catch (error) {
      this.#active = null;
      link.close();
      key.fill(0);
      throw error;
    }
    return session;
  }

  /** Tells the dApp the session ended (encrypted, so the relay cannot forge it) and leaves the channel. */
  async disconnect(): Promise<void> {
    const active = this.#active;
    if (!active) return;
    try {
      const sealed = encryptConnectPayload(active.key, { event: 'response', uuid: active.session.uuid }, { type: 'disconnect' });
      await active.link.send('response', { uuid: active.session.uuid, ...sealed });
    } catch {
      // Best effort: the dApp also learns from peer_left and the token's expiry.
    }
    this.#end('closed');
  }

  async #onEnvelope(event: SealedEventName, raw: unknown): Promise<void> {
    const active = this.#active;
    if (!active || event !== 'request') return;
    const { uuid } = active.session;
    let requestId: string | undefined;
    let method = '';
    try {
      const envelope = parseSealedEvent(raw);
      if (envelope.uuid !== uuid) throw new ConnectError('RELAY_ENVELOPE_INVALID', { field: 'uuid' });
      const payload = parseRequestPayload(decryptConnectPayload(active.key, { event: 'request', uuid }, envelope));
      if ('type' in payload) {
        this.#end('dapp_disconnected');
        return;
      }
      requestId = payload.id;
      method = payload.method;
      // The session token first: nothing else is looked at for a request this wallet did not sign for.
      if (payload.sessionToken === undefined) throw new ConnectError('CONNECT_SESSION_TOKEN_MISSING', { requestId });
      await this.#verifyOwnToken(
        payload.sessionToken,
        { signer: active.signer, address: active.session.address },
        uuid,
        active.session.relay,
        active.dappPublicKey,
        active.walletPublicKey,
      );
      active.replay.admit(payload.id, payload.timestamp, this.#clock.now());
      const decoded = decodeWalletRequest(payload.method, payload.params, {
        chainType: active.signer.chainType,
        chainId: String(active.signer.chainId),
        address: active.session.address,
      });
      if (!canServe(active.signer, decoded.method)) throw new ConnectError('CONNECT_METHOD_UNSUPPORTED', { field: 'method' });
      const request: WalletSignRequest = {
        id: payload.id,
        method: decoded.method,
        timestamp: payload.timestamp,
        account: active.session.account,
        decoded,
        summary: summarizeSignRequest(decoded),
      };
      const signed = await this.#inTurn(async () => {
        // Nobody to answer: the session ended while this request waited.
        if (this.#active !== active) return null;
        // The wait may have been long: the arrival checks that depend on time, again.
        const now = this.#clock.now();
        active.replay.checkFresh(payload.id, payload.timestamp, now);
        if (now >= active.session.expiresAt) throw new ConnectError('CONNECT_SESSION_TOKEN_EXPIRED', { requestId: payload.id });
        let approved = false;
        try {
          approved = (await this.#handler?.(request)) === true;
        } catch (error) {
          throw toConnectError(error, payload.id);
        }
        if (!approved) throw new ConnectError('CONNECT_REQUEST_REJECTED');
        if (this.#active !== active) return null;
        return { result: await executeSignRequest(active.signer, decoded) };
      });
      if (!signed) return;
      await this.#reply(active, { id: payload.id, result: signed.result });
      this.emit('answered', { id: payload.id, method: payload.method });
    } catch (error) {
      if (requestId === undefined && error instanceof ConnectError) requestId = error.requestId;
      const failure = toConnectError(error, requestId ?? '');
      if (failure.code !== 'CONNECT_REQUEST_REJECTED') this.emit('error', failure);
      // Without a readable id (undecryptable or malformed) there is nothing to answer. A replayed id is not
      // answered either: the first copy's answer stands, and a refusal must not race it to the dApp.
      if (requestId === undefined || failure.code === 'CONNECT_REQUEST_REPLAYED' || this.#active !== active) return;
      await this.#reply(active, { id: requestId, error: failure.toWire() }).catch((e: unknown) =>
        this.emit('error', toConnectError(e, requestId!)),
      );
      this.emit('answered', { id: requestId, method, error: failure });
    }
  }

  /** Runs `task` once every request before it has been answered: one request at a time reaches the user. */
  #inTurn<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(task);
    this.#turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #verifyOwnToken(
    token: string,
    own: { signer: ConnectSigner; address: string },
    uuid: string,
    relay: string,
    dappPublicKey: Uint8Array,
    walletPublicKey: Uint8Array,
  ): Promise<void> {
    await verifySessionToken(token, {
      now: this.#clock.now(),
      expected: { uuid, relay, dappPublicKey, walletPublicKey, address: own.address, chainType: own.signer.chainType },
      ...(this.#options.verifySignature ? { verifySignature: this.#options.verifySignature } : {}),
    });
  }

  async #reply(active: ActiveChannel, payload: unknown): Promise<void> {
    const sealed = encryptConnectPayload(active.key, { event: 'response', uuid: active.session.uuid }, payload);
    await active.link.send('response', { uuid: active.session.uuid, ...sealed });
  }

  #end(reason: WalletDisconnectReason): void {
    const active = this.#active;
    if (!active) return;
    this.#active = null;
    active.link.close();
    active.key.fill(0);
    this.emit('disconnected', { reason });
  }
}

/** The signer's chain id as the token states it, and its address: EIP-55 for eip155, whatever case the signer reports. */
function checkSigner(signer: ConnectSigner): { chainId: string; address: string } {
  if (signer?.chainType === 'eip155') {
    if (!Number.isSafeInteger(signer.chainId) || signer.chainId < 1)
      throw new TypeError('signer.chainId: expected a positive integer');
    if (typeof signer.address !== 'string' || !isAddress(signer.address, { strict: false }))
      throw new TypeError('signer.address: expected a 0x address');
    return { chainId: String(signer.chainId), address: getAddress(signer.address) };
  }
  if (signer?.chainType === 'solana') {
    if (typeof signer.chainId !== 'string') throw new TypeError('signer.chainId: expected the genesis-hash prefix');
    return { chainId: signer.chainId, address: signer.address };
  }
  throw new TypeError('signer.chainType: expected eip155 or solana');
}

function randomRejoinKey(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(16));
}
