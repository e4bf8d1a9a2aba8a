import { asClientError, isLatchkeyClientError, LatchkeyClientError } from '../errors/index.js';
import { type Credential, errorOf, expectJson, jsonRequest, type ReplayableRequest, refusalCode, send } from '../http/request.js';
import { createKey, type KeyRequest, type KeyTransport } from '../keys/create.js';
import { SingleFlight, withCrossTabLock } from '../refresh/single-flight.js';
import type { LatchkeyStorage } from '../storage/index.js';
import { dueTimes, RefreshTimer } from './schedule.js';
import { type ClientState, type HeldKey, StateStore } from './state.js';
import type { IssuedTokens, Session, SessionKeyInfo } from './types.js';

/** What the client tells its listeners. */
export type ClientEvent =
  | { type: 'signed-in'; session: Session }
  | { type: 'signed-out'; reason: 'sign-out' | 'revoked' | 'session-ended' }
  | { type: 'session-refreshed'; session: Session }
  | { type: 'session-key-created'; sessionKey: SessionKeyInfo }
  /**
   * A live key the client replaced could not be revoked (the new key is held all the same): until it
   * expires, a copy of it still signs. Retry with `revokeSessionKey(sessionKeyId)`.
   */
  | { type: 'session-key-revocation-failed'; sessionKeyId: string; error: LatchkeyClientError }
  | { type: 'refresh-failed'; error: LatchkeyClientError };

export interface Clock {
  now(): number;
}

export interface AgentOptions {
  base: URL;
  appId: string | undefined;
  storage: LatchkeyStorage;
  storageKey: string;
  fetch: typeof fetch;
  clock: Clock;
  /** false: no timer (call `maintain()` yourself). */
  autoRefresh: boolean;
  /** Refresh this long before a lapse (capped at half the lifetime). */
  leadMs: number;
}

/** Refresh answers after which the session cannot come back: the local state is dropped. */
const SESSION_GONE = new Set<string>(['SESSION_EXPIRED', 'SESSION_NOT_FOUND', 'REFRESH_TOKEN_INVALID', 'REFRESH_TOKEN_REUSED']);
/**
 * Answers to a creation stamped by the held key saying that key can stamp no creation any more:
 * revoked (or it made its successor already), gone, another session's, or expired longer ago than the
 * server's rotation grace (`sessionKeys.rotationGraceSeconds`).
 */
const KEY_GONE = new Set<string>(['SESSION_KEY_REVOKED', 'SESSION_KEY_NOT_FOUND', 'SESSION_KEY_MISMATCH', 'SESSION_KEY_EXPIRED']);
/** Answers to a replaced key's revocation, stamped by that key, saying it is revoked or gone already. */
const KEY_ALREADY_DEAD = new Set<string>(['SESSION_KEY_REVOKED', 'SESSION_KEY_NOT_FOUND', 'SESSION_KEY_TARGET_NOT_FOUND']);

function notSignedIn(): LatchkeyClientError {
  return new LatchkeyClientError('NOT_SIGNED_IN', { message: 'This client holds no session: sign in first.' });
}

function isIssued(value: unknown): value is IssuedTokens {
  const v = value as Partial<IssuedTokens> | null;
  return typeof v?.token === 'string' && typeof v.refreshToken === 'string' && typeof v.session?.id === 'string';
}

/**
 * The client's session state and the rules that keep it usable: every authenticated request, the one
 * refresh and the one retry, single-flight recovery (in process and across tabs), and the proactive timer.
 */
export class SessionAgent {
  readonly #o: AgentOptions;
  readonly #store: StateStore;
  readonly #flight = new SingleFlight();
  readonly #listeners = new Set<(event: ClientEvent) => void>();
  readonly #timer: RefreshTimer;
  readonly #lockName: string;
  readonly #ready: Promise<void>;
  #state: ClientState | null = null;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#store = new StateStore(options.storage, options.storageKey);
    this.#lockName = `latchkey-refresh:${options.storageKey}`;
    this.#timer = new RefreshTimer({
      clock: options.clock,
      leadMs: options.leadMs,
      isEnabled: options.autoRefresh,
      run: () => this.maintain(),
      failed: (error) => this.#emit({ type: 'refresh-failed', error }),
    });
    this.#ready = this.#store.load().then((state) => {
      this.#state = state;
      this.#timer.schedule(state);
    });
    // Whoever awaits ready() sees a load failure; nobody else gets an unhandled rejection for it.
    this.#ready.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /** The state as this realm holds it right now (no storage read). */
  get state(): ClientState | null {
    return this.#state;
  }

  get extractableKeys(): boolean {
    return this.#o.storage.requiresExtractableKeys;
  }

  now(): number {
    return this.#o.clock.now();
  }

  subscribe(listener: (event: ClientEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: ClientEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  async #adopt(state: ClientState | null, event?: ClientEvent): Promise<void> {
    await this.#store.save(state);
    this.#state = state;
    this.#timer.schedule(state);
    if (event) this.#emit(event);
  }

  /** Picks up what another tab (or client over the same storage) wrote since this one last looked. */
  async #reload(): Promise<ClientState | null> {
    const stored = await this.#store.load();
    const mine = this.#state;
    if (stored?.tokens.token !== mine?.tokens.token || stored?.key?.info.id !== mine?.key?.info.id) {
      this.#state = stored;
      this.#timer.schedule(stored);
    }
    return this.#state;
  }

  /** Replaces the whole state (sign-in, sign-out), after any refresh in flight has finished. */
  async replace(state: ClientState | null, event?: ClientEvent): Promise<void> {
    await this.#ready;
    await this.#flight.serial(() => this.#adopt(state, event));
  }

  #credential(): Credential {
    const state = this.#state;
    if (!state) throw notSignedIn();
    const key = state.key ? { id: state.key.info.id, privateKey: state.key.privateKey } : null;
    return { token: state.tokens.token, key };
  }

  /** One attempt, with the given credential (or none). */
  send(request: ReplayableRequest, credential: Credential | null): Promise<Response> {
    return send(request, credential, { fetch: this.#o.fetch, appId: this.#o.appId, now: this.#o.clock.now() });
  }

  /**
   * An authenticated request. A 401 SESSION_KEY_EXPIRED gets a new key, a 401 SESSION_EXPIRED a
   * refreshed session (and a new key); then the request goes once more, and whatever that answers is the
   * answer. A failed refresh throws its typed error.
   */
  async request(request: ReplayableRequest): Promise<Response> {
    await this.#ready;
    await this.#flight.idle();
    const used = this.#credential();
    const response = await this.send(request, used);
    const code = await refusalCode(response);
    if (code === undefined) return response;
    if (code === 'SESSION_KEY_EXPIRED' && used.key) await this.#replaceKey(used.key.id);
    else if (code === 'SESSION_EXPIRED') await this.#refresh(used.token, { newKey: true });
    else if (code !== 'TOKEN_INVALID' || (await this.#reload())?.tokens.token === used.token) return response;
    // TOKEN_INVALID after another refresh (here or in another tab) rotated the token away: just go again.
    await response.body?.cancel().catch(() => undefined);
    return this.send(request, this.#credential());
  }

  #keyTransport(): KeyTransport {
    return { base: this.#o.base, extractable: this.extractableKeys, send: (r, c) => this.send(r, c) };
  }

  /** Refreshes the session tokens (and replaces the key when `newKey`), once for all callers that used `usedToken`. */
  #refresh(usedToken: string, options: { newKey: boolean }): Promise<void> {
    return this.#flight.once(`session:${usedToken}`, () =>
      withCrossTabLock(this.#lockName, async () => {
        const state = await this.#reload();
        if (!state) throw notSignedIn();
        if (state.tokens.token !== usedToken) return;
        const body = { refreshToken: state.tokens.refreshToken };
        const answer = await this.send(jsonRequest(this.#o.base, 'POST', '/v1/session/refresh', body), null);
        if (answer.status !== 200) {
          const error = await errorOf(answer);
          if (SESSION_GONE.has(error.code)) await this.#adopt(null, { type: 'signed-out', reason: 'session-ended' });
          throw error;
        }
        const tokens = await expectJson<unknown>(answer, 200);
        if (!isIssued(tokens)) throw new LatchkeyClientError('RESPONSE_INVALID', { message: 'refresh: no tokens in the answer' });
        await this.#adopt({ tokens, key: state.key }, { type: 'session-refreshed', session: tokens.session });
        if (options.newKey && state.key) await this.#rotate(state.key);
      }),
    );
  }

  /** Replaces the key `usedKeyId`, once for all callers that used it. */
  #replaceKey(usedKeyId: string): Promise<void> {
    return this.#flight.once(`key:${usedKeyId}`, () =>
      withCrossTabLock(this.#lockName, async () => {
        const state = await this.#reload();
        if (!state) throw notSignedIn();
        if (state.key?.info.id !== usedKeyId) return;
        await this.#rotate(state.key);
      }),
    );
  }

  /** A new key like `old` (scope, mode, lifetime, name), its creation stamped by `old`. */
  async #rotate(old: HeldKey): Promise<void> {
    const request: KeyRequest = {
      scope: old.info.scope,
      mode: old.info.mode,
      ttlSeconds: old.ttlSeconds,
      name: old.info.name ?? undefined,
    };
    await this.#install(await this.#create(request, old));
  }

  async #create(request: KeyRequest, held: HeldKey | null): Promise<HeldKey> {
    const state = this.#state;
    if (!state) throw notSignedIn();
    // A read-only key may make only read-only keys: a read-write one is asked for unstamped (which the
    // server allows unless the app requires stamps; then it refuses, as it should).
    const signer = held && !(held.info.scope === 'read-only' && request.scope === 'read-write') ? held : null;
    const credential: Credential = {
      token: state.tokens.token,
      key: signer ? { id: signer.info.id, privateKey: signer.privateKey } : null,
    };
    try {
      return await createKey(this.#keyTransport(), credential, request);
    } catch (error) {
      // The held key is dead on the server: a stamp by it can never pass, so ask without one (a first key).
      if (!credential.key || !isLatchkeyClientError(error) || !KEY_GONE.has(error.code)) throw error;
      return createKey(this.#keyTransport(), { ...credential, key: null }, request);
    }
  }

  /**
   * Makes `key` the held key; a replaced key that is still live is then revoked, so a copy of it is worth
   * nothing. (An expired one needs nothing: the server retired it when it stamped its successor.)
   */
  async #install(key: HeldKey): Promise<void> {
    const state = this.#state;
    if (!state) throw notSignedIn();
    const old = state.key;
    await this.#adopt({ tokens: state.tokens, key }, { type: 'session-key-created', sessionKey: key.info });
    if (old && old.info.id !== key.info.id && this.now() < old.info.expiresAt) await this.#revokeReplaced(old);
  }

  /**
   * Revokes a replaced key with a stamp by that very key: a key may always revoke itself, whereas the new
   * one may not (a read-only key signs no other key's revocation). A failure does not undo the
   * replacement; it is told to listeners as `session-key-revocation-failed`.
   */
  async #revokeReplaced(old: HeldKey): Promise<void> {
    const state = this.#state;
    if (!state) return;
    const path = `/v1/session-keys/${encodeURIComponent(old.info.id)}`;
    const credential: Credential = { token: state.tokens.token, key: { id: old.info.id, privateKey: old.privateKey } };
    let error: LatchkeyClientError;
    try {
      const answer = await this.send(jsonRequest(this.#o.base, 'DELETE', path), credential);
      const refusal = answer.status === 204 ? null : await errorOf(answer);
      await answer.body?.cancel().catch(() => undefined);
      if (refusal === null || KEY_ALREADY_DEAD.has(refusal.code)) return;
      error = refusal;
    } catch (cause) {
      error = asClientError(cause, 'NETWORK_ERROR');
    }
    this.#emit({ type: 'session-key-revocation-failed', sessionKeyId: old.info.id, error });
  }

  /** Creates a session key and makes it the held one (a live key it replaces is revoked). */
  createKey(request: KeyRequest): Promise<HeldKey> {
    return this.#flight.serial(async () => {
      await this.#ready;
      const key = await this.#create(request, this.#state?.key ?? null);
      await this.#install(key);
      return key;
    });
  }

  /** Refreshes the session now and replaces the held key (origin 000's refreshUserSession). */
  async refreshNow(options: { newKey: KeyRequest | null }): Promise<void> {
    await this.#ready;
    const state = this.#state;
    if (!state) throw notSignedIn();
    await this.#refresh(state.tokens.token, { newKey: state.key !== null });
    if (!state.key && options.newKey) await this.createKey(options.newKey);
  }

  /** Does whatever is due now: a session refresh before idle expiry, a new key before the key lapses. */
  async maintain(): Promise<void> {
    await this.#ready;
    const state = this.#state;
    if (!state) return;
    const now = this.now();
    if ((dueTimes(state, this.#o.leadMs).session ?? Number.POSITIVE_INFINITY) <= now) {
      await this.#refresh(state.tokens.token, { newKey: false });
    }
    const after = this.#state;
    if (after?.key && (dueTimes(after, this.#o.leadMs).key ?? Number.POSITIVE_INFINITY) <= now) {
      await this.#replaceKey(after.key.info.id);
    }
  }

  close(): void {
    this.#timer.stop();
  }
}
