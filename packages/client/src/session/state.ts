import type { LatchkeyStorage, StoredValue } from '../storage/index.js';
import { isCryptoKey } from '../storage/index.js';
import type { IssuedTokens, SessionKeyInfo } from './types.js';

/** The session key this client signs with. */
export interface HeldKey {
  info: SessionKeyInfo;
  privateKey: CryptoKey;
  /** The lifetime asked for at creation, asked for again when the key is replaced. */
  ttlSeconds: number | undefined;
}

/** Everything the client keeps between runs, as one value (written in one `set`). */
export interface ClientState {
  tokens: IssuedTokens;
  key: HeldKey | null;
}

const VERSION = 1;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseKey(value: unknown): HeldKey | null {
  if (!isObject(value) || !isObject(value.info) || !isCryptoKey(value.privateKey)) return null;
  const info = value.info;
  if (typeof info.id !== 'string' || typeof info.publicKey !== 'string' || typeof info.expiresAt !== 'number') return null;
  return {
    info: info as unknown as SessionKeyInfo,
    privateKey: value.privateKey,
    ttlSeconds: typeof value.ttlSeconds === 'number' ? value.ttlSeconds : undefined,
  };
}

/** The client state in a storage, under one key. Anything unreadable there counts as signed out. */
export class StateStore {
  readonly #storage: LatchkeyStorage;
  readonly #key: string;

  constructor(storage: LatchkeyStorage, key: string) {
    this.#storage = storage;
    this.#key = key;
  }

  async load(): Promise<ClientState | null> {
    const value = await this.#storage.get(this.#key);
    if (!isObject(value) || value.version !== VERSION || !isObject(value.tokens)) return null;
    const tokens = value.tokens;
    if (typeof tokens.token !== 'string' || typeof tokens.refreshToken !== 'string' || !isObject(tokens.session)) return null;
    return { tokens: tokens as unknown as IssuedTokens, key: parseKey(value.key) };
  }

  async save(state: ClientState | null): Promise<void> {
    if (state === null) return this.#storage.delete(this.#key);
    const key = state.key
      ? { info: state.key.info, privateKey: state.key.privateKey, ttlSeconds: state.key.ttlSeconds ?? null }
      : null;
    const value = { version: VERSION, tokens: state.tokens, key } as unknown as StoredValue;
    await this.#storage.set(this.#key, value);
  }
}
