import { LatchkeyClientError } from './errors/index.js';
import { expectEmpty, expectJson, jsonRequest, type ReplayableRequest, toReplayable } from './http/request.js';
import { exportPrivateKeyJwk, generateSessionKeyPair, type SessionKeyPair } from './keys/webcrypto.js';
import { checkOptions, type LatchkeyClientOptions } from './options.js';
import { type ClientEvent, type Clock, SessionAgent } from './session/agent.js';
import type { IssuedTokens, ListedSession, ListedSessionKey, Session, SessionKeyInfo, SessionScope } from './session/types.js';
import { resolveSigner, type WalletSigner } from './signin/signer.js';
import { buildSiweMessage, type SiweOptions } from './signin/siwe.js';
import { defaultStorage, type LatchkeyStorage } from './storage/index.js';

/** Answers that say the token is dead for good (not merely expired, which refresh already handled). */
const SESSION_REVOKED = new Set<string>(['TOKEN_MALFORMED', 'TOKEN_INVALID', 'SESSION_NOT_FOUND']);

/** The codes a server-checked session answers when there is no usable session: `validateUserSession` makes them null. */
const NO_SESSION = new Set<string>([
  'NOT_SIGNED_IN',
  'AUTHENTICATION_REQUIRED',
  'TOKEN_MALFORMED',
  'TOKEN_INVALID',
  'SESSION_NOT_FOUND',
  'SESSION_EXPIRED',
  'REFRESH_TOKEN_INVALID',
  'REFRESH_TOKEN_REUSED',
]);

export interface SignInOptions {
  /** Ask for a read-only session (default read-write). */
  scope?: SessionScope;
  /** A label for this device, recorded with the session and shown in `sessions()`. */
  deviceId?: string;
  /** Overrides the client's `siwe` options for this sign-in. */
  siwe?: SiweOptions;
}

export interface CreateSessionKeyOptions {
  /** read-only keys can sign only GET/HEAD/OPTIONS (the server answers 403 SCOPE_READ_ONLY otherwise). */
  scope: SessionScope;
  /** How the key reaches this device (default: the client's `sessionKeys.mode`, `registered` unless set). */
  mode?: 'registered' | 'bundle';
  /** Lifetime asked for; the app's `sessionKeys.ttlSeconds` (15 min) by default, never past the session's end. */
  ttlSeconds?: number;
  name?: string;
}

/** A custodial session key for a server process, with its private key as a JWK. */
export interface ServerSession {
  sessionKey: SessionKeyInfo;
  /** Whoever holds `privateKey` can sign as this session until the key lapses. Keep it as you keep a password. */
  credentials: { publicKey: string; privateKey: JsonWebKey };
}

/**
 * The Latchkey client SDK: wallet sign-in (SIWE), the session's lifecycle, device-bound session keys,
 * and `fetch` with the session credential and a request stamp, refreshed and retried once when needed.
 *
 * @example
 * const client = new LatchkeyClient({ baseUrl: 'https://auth.example.com', appId: 'shop' });
 * await client.signIn(window.ethereum);
 * await client.createSessionKey({ scope: 'read-write' });
 * const orders = await client.fetch('/api/orders');
 */
export class LatchkeyClient {
  readonly #base: URL;
  readonly #appId: string | undefined;
  readonly #siwe: SiweOptions;
  readonly #keyMode: 'registered' | 'bundle';
  readonly #trusted: ReadonlySet<string>;
  readonly #agent: SessionAgent;

  constructor(options: LatchkeyClientOptions) {
    const o = checkOptions(options);
    this.#base = o.base;
    this.#appId = o.appId;
    this.#siwe = o.siwe;
    this.#keyMode = o.keyMode;
    this.#trusted = o.trustedOrigins;
    const storage: LatchkeyStorage = options.storage ?? defaultStorage();
    const clock: Clock = options.clock ?? { now: () => Date.now() };
    this.#agent = new SessionAgent({
      base: o.base,
      appId: o.appId,
      storage,
      storageKey: o.storageKey,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      clock,
      autoRefresh: o.autoRefresh,
      leadMs: o.leadMs,
    });
  }

  /** Settles once the stored session (if any) is loaded; rejects with STORAGE_FAILED when the storage cannot be read. */
  ready(): Promise<void> {
    return this.#agent.ready();
  }

  /** Listens to sign-in, sign-out, refreshes, new keys and proactive refresh failures. Returns the unsubscribe function. */
  subscribe(listener: (event: ClientEvent) => void): () => void {
    return this.#agent.subscribe(listener);
  }

  #api(method: string, path: string, payload?: unknown): ReplayableRequest {
    return jsonRequest(this.#base, method, path, payload);
  }

  /**
   * Signs in with a wallet: the server's nonce, an EIP-4361 message (viem `createSiweMessage`), the
   * wallet's signature, a new session. A session key of an earlier session is dropped.
   */
  async signIn(signer: WalletSigner, options: SignInOptions = {}): Promise<Session> {
    await this.ready();
    const wallet = await resolveSigner(signer);
    const { nonce } = await expectJson<{ nonce: string }>(await this.#agent.send(this.#api('POST', '/v1/auth/nonce'), null), 200);
    const message = buildSiweMessage({
      options: { ...this.#siwe, ...options.siwe },
      address: wallet.address,
      walletChainId: wallet.chainId,
      nonce,
      now: this.#agent.now(),
    });
    const signature = await wallet.sign(message);
    const body = {
      message,
      signature,
      ...(options.scope === undefined ? {} : { scope: options.scope }),
      ...(options.deviceId === undefined ? {} : { deviceId: options.deviceId }),
    };
    const tokens = await expectJson<IssuedTokens>(await this.#agent.send(this.#api('POST', '/v1/auth/siwe', body), null), 200);
    if (typeof tokens?.token !== 'string' || typeof tokens.refreshToken !== 'string') {
      throw new LatchkeyClientError('RESPONSE_INVALID', {
        message: 'sign-in: no tokens in the answer (cookie mode is not for this client)',
      });
    }
    await this.#agent.replace({ tokens, key: null }, { type: 'signed-in', session: tokens.session });
    return tokens.session;
  }

  /** The session, checked by the server. Throws NOT_SIGNED_IN or the server's refusal. */
  async session(): Promise<Session> {
    return (await expectJson<{ session: Session }>(await this.#agent.request(this.#api('GET', '/v1/session')), 200)).session;
  }

  /** Origin 000's `validateUserSession`: the server-checked session, or null when there is none that works. */
  async validateUserSession(): Promise<Session | null> {
    try {
      return await this.session();
    } catch (error) {
      if (!(error instanceof LatchkeyClientError) || !NO_SESSION.has(error.code)) throw error;
      // The server no longer knows this token (revoked elsewhere, signed out on another device): forget it here too.
      if (SESSION_REVOKED.has(error.code)) await this.#agent.replace(null, { type: 'signed-out', reason: 'revoked' });
      return null;
    }
  }

  /**
   * Origin 000's `checkActiveUserSession`: signed in and not past the session's expiry by this client's
   * clock. Local: no network, so a revoked session still counts until the server says otherwise.
   * Reads the loaded state: false until `ready()` has settled.
   */
  checkActiveUserSession(): boolean {
    const state = this.#agent.state;
    return state !== null && this.#agent.now() < state.tokens.session.expiresAt;
  }

  /** The session key this client signs with, if any (local). */
  sessionKey(): SessionKeyInfo | null {
    return this.#agent.state?.key?.info ?? null;
  }

  /** Ends this session on the server and forgets it here (here even when the server cannot be reached; then this throws). */
  async signOut(): Promise<void> {
    await this.ready();
    const state = this.#agent.state;
    if (!state) return;
    let failure: unknown;
    try {
      const answer = await this.#agent.send(this.#api('DELETE', '/v1/session'), { token: state.tokens.token, key: null });
      if (answer.status !== 401) await expectEmpty(answer, 204);
    } catch (error) {
      failure = error;
    }
    await this.#agent.replace(null, { type: 'signed-out', reason: 'sign-out' });
    if (failure !== undefined) throw failure;
  }

  /** The wallet's live sessions in this app, oldest first; this one is `current`. */
  async sessions(): Promise<ListedSession[]> {
    return (await expectJson<{ sessions: ListedSession[] }>(await this.#agent.request(this.#api('GET', '/v1/sessions')), 200))
      .sessions;
  }

  /** Revokes one of the wallet's sessions ("sign out that device"); revoking this one signs this client out. */
  async revoke(sessionId: string): Promise<void> {
    const path = `/v1/sessions/${encodeURIComponent(sessionId)}`;
    await expectEmpty(await this.#agent.request(this.#api('DELETE', path)), 204);
    if (this.#agent.state?.tokens.session.id === sessionId) {
      await this.#agent.replace(null, { type: 'signed-out', reason: 'revoked' });
    }
  }

  /** Revokes all of the wallet's sessions, or all but this one (`keepCurrent`). Answers how many went. */
  async revokeAll(options: { keepCurrent: boolean }): Promise<number> {
    const path = options.keepCurrent ? '/v1/sessions?keep=current' : '/v1/sessions';
    const { revoked } = await expectJson<{ revoked: number }>(await this.#agent.request(this.#api('DELETE', path)), 200);
    if (!options.keepCurrent) await this.#agent.replace(null, { type: 'signed-out', reason: 'revoked' });
    return revoked;
  }

  /**
   * Creates a device-bound session key and makes it the one `fetch` stamps with (a live key it replaces
   * is revoked). `registered`: the key is made here, non-extractable. `bundle`: the server makes it and
   * seals it to this device (HPKE); it is opened and imported non-extractable, the raw bytes wiped.
   */
  async createSessionKey(options: CreateSessionKeyOptions): Promise<SessionKeyInfo> {
    const mode = options.mode ?? this.#keyMode;
    const key = await this.#agent.createKey({ scope: options.scope, mode, ttlSeconds: options.ttlSeconds, name: options.name });
    return key.info;
  }

  /** Origin 001's `create_read_only_session`: a read-only session key (writes signed with it are refused). */
  createReadOnlySession(options: Omit<CreateSessionKeyOptions, 'scope'> = {}): Promise<SessionKeyInfo> {
    return this.createSessionKey({ ...options, scope: 'read-only' });
  }

  /**
   * Origin 001's `create_read_write_session_for_server`: CUSTODIAL. For a server process acting for the
   * wallet: the key comes as a credential bundle like `bundle` mode, but stays extractable and is handed
   * back as a JWK, so whoever holds the process (or its FileStorage) holds the key.
   */
  async createServerSession(options: { scope: SessionScope; ttlSeconds?: number; name?: string }): Promise<ServerSession> {
    const key = await this.#agent.createKey({ ...options, mode: 'server' });
    return {
      sessionKey: key.info,
      credentials: { publicKey: key.info.publicKey, privateKey: await exportPrivateKeyJwk(key.privateKey) },
    };
  }

  /** The wallet's live session keys in this app (`current`: of this session). */
  async sessionKeys(): Promise<ListedSessionKey[]> {
    const answer = await this.#agent.request(this.#api('GET', '/v1/session-keys'));
    return (await expectJson<{ sessionKeys: ListedSessionKey[] }>(answer, 200)).sessionKeys;
  }

  /** Revokes one of the wallet's session keys. */
  async revokeSessionKey(id: string): Promise<void> {
    await expectEmpty(await this.#agent.request(this.#api('DELETE', `/v1/session-keys/${encodeURIComponent(id)}`)), 204);
  }

  /** Origin 000's `refreshUserSession`: new session tokens and a new key pair (same scope and mode; the session's scope if none was held). */
  async refreshUserSession(): Promise<Session> {
    await this.ready();
    const scope = this.#agent.state?.tokens.session.scope ?? 'read-write';
    await this.#agent.refreshNow({ newKey: { scope, mode: this.#keyMode } });
    const state = this.#agent.state;
    if (!state) throw new LatchkeyClientError('NOT_SIGNED_IN');
    return state.tokens.session;
  }

  /** Origin 000's `generateSessionKeyPair`: a P-256 key pair in WebCrypto, non-extractable unless the storage must write keys out. */
  generateSessionKeyPair(): Promise<SessionKeyPair> {
    return generateSessionKeyPair({ extractable: this.#agent.extractableKeys });
  }

  /** Does now what the proactive timer would: refresh the session or replace the key when due. */
  refreshIfDue(): Promise<void> {
    return this.#agent.maintain();
  }

  /**
   * `fetch` with the session: `Authorization: Bearer`, `Latchkey-App`, and a `Latchkey-Signature` stamp
   * over method, path and query, and body when a session key is held. On 401 SESSION_KEY_EXPIRED (new
   * key) or SESSION_EXPIRED (refreshed session) the request is sent once more; never more than once.
   * Only the server's origin and `trustedOrigins` get the credential (else ORIGIN_NOT_TRUSTED).
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = await toReplayable(input, init, this.#base);
    if (request.url.origin !== this.#base.origin && !this.#trusted.has(request.url.origin)) {
      throw new LatchkeyClientError('ORIGIN_NOT_TRUSTED', {
        message: `${request.url.origin} is not the Latchkey server's origin or a trusted one`,
      });
    }
    return this.#agent.request(request);
  }

  /** The app this client speaks for (`Latchkey-App`), undefined for the server's default app. */
  get appId(): string | undefined {
    return this.#appId;
  }

  /** Stops the proactive timer. */
  close(): void {
    this.#agent.close();
  }
}
