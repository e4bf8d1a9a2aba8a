import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SessionDataCipher } from '../crypto/keyring.js';
import { LatchkeyError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import { bytesToHex, type Clock, type RandomSource } from '../runtime.js';
import type { AccessTokenSettings, AppSettings } from '../session/config.js';
import { expiresAt, type SessionSnapshot } from '../session/record.js';
import type { Store } from '../store/contract.js';
import {
  type AccessTokenAlgorithm,
  type AccessTokenClaims,
  type AccessTokenResult,
  checkClaims,
  parseAccessJwt,
  type VerificationKey,
  verifyAccessJwt,
} from './jwt.js';

/** Where signing keys and recent revocations live in the store. */
export const SIGNING_KEY_NAMESPACE = 'signing-keys';
export const REVOCATION_NAMESPACE = 'revoked-sessions';

/**
 * How long a node trusts its copy of the key set: 30 s, but never more than half the publish delay,
 * so every node sees a rotation before the new key signs (and stops signing with the old one then).
 */
const KEY_CACHE_MS = 30_000;
const UNKNOWN_KID_REFETCH_MS = 1_000;
const REVOCATION_POLL_MS = 500;
const REVOCATION_PAGE = 1000;
const REVOCATION_LOOKBACK_MS = 10_000;
const REVOCATION_SWEEP_MS = 10_000;
const VERIFIED_CACHE_SIZE = 10_000;
/** A revocation list older than this is not trusted: verification fails closed. */
const REVOCATION_STALE_MS = 3_000;
const TEN_YEARS_MS = 10 * 365 * 24 * 3600_000;

/** A public JWK as published in the JWKS document. */
export interface PublicJwk {
  kid: string;
  alg: 'EdDSA' | 'ES256';
  use: 'sig';
  kty: string;
  crv: string;
  x: string;
  y?: string;
}

/** A signing key as stored: public JWK in clear, private key sealed with the data key ring. */
interface StoredSigningKey {
  kid: string;
  alg: 'EdDSA' | 'ES256';
  publicJwk: PublicJwk;
  sealedPrivateKey: string;
  createdAt: number;
  /** Signs from this moment; published from `createdAt`. */
  activatesAt: number;
  /** Stops signing at this moment (a newer key took over); stays published until its tokens expire. */
  retiresAt: number | null;
}

interface AppKeys {
  loadedAt: number;
  stored: StoredSigningKey[];
  verification: Map<string, VerificationKey>;
  privateKeys: Map<string, KeyObject>;
}

interface RevocationState {
  revoked: Map<string, number>;
  /** The last entry seen in (expiresAt, key) order: each poll asks only for entries after it. */
  cursor: { expiringAfter: number; afterKey?: string };
  /** When the last look-back sweep ran (see REVOCATION_SWEEP_MS). */
  sweptAt: number;
  polledAt: number;
  timer: ReturnType<typeof setInterval> | null;
  first: Promise<void> | null;
}

export interface AccessTokenHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly cipher: SessionDataCipher | null;
  readonly logger: () => Logger;
  settings(appId: string): AppSettings;
  storeCall<T>(operation: string, call: () => Promise<T>): Promise<T>;
}

const keyAad = (appId: string, kid: string): string => `latchkey/signing-key/v1|${appId}|${kid}`;

function parseStoredKey(value: string): StoredSigningKey | null {
  try {
    const k = JSON.parse(value) as StoredSigningKey;
    return typeof k.kid === 'string' && (k.alg === 'EdDSA' || k.alg === 'ES256') && typeof k.sealedPrivateKey === 'string'
      ? k
      : null;
  } catch {
    return null;
  }
}

/**
 * JWT access tokens: keys generated on first use and stored encrypted, rotation that publishes a
 * key before it signs, a JWKS document, fast local verification with keys imported once, and an
 * opt-in revocation list polled from the store.
 */
export class AccessTokens {
  readonly #host: AccessTokenHost;
  readonly #keys = new Map<string, AppKeys>();
  readonly #loading = new Map<string, Promise<AppKeys>>();
  readonly #revocations = new Map<string, RevocationState>();
  /** Tokens whose signature verified, by app and exact bytes; most clients send one token many times. */
  readonly #verified = new Map<string, { claims: AccessTokenClaims; kid: string }>();

  constructor(host: AccessTokenHost) {
    this.#host = host;
  }

  /** Throws CONFIG_INVALID at start-up when an app's access tokens cannot work as configured. */
  static check(appId: string, settings: AccessTokenSettings | null, cipher: SessionDataCipher | null): void {
    if (settings && settings.algorithm !== 'HS256' && !cipher) {
      throw new LatchkeyError('CONFIG_INVALID', {
        message: `apps.${appId}.accessTokens: ${settings.algorithm} signing keys are stored encrypted, which needs dataKeys`,
        field: 'dataKeys',
      });
    }
  }

  #settings(appId: string): AccessTokenSettings {
    const s = this.#host.settings(appId).accessTokens;
    if (!s)
      throw new LatchkeyError('ACCESS_TOKENS_NOT_CONFIGURED', {
        message: `Access tokens are not configured for app "${appId}".`,
      });
    return s;
  }

  /** Whether the app issues access tokens. */
  isEnabled(appId: string): boolean {
    return this.#host.settings(appId).accessTokens !== null;
  }

  /** Mints an access token for a session: lifetime shortened by up to 5% at random, never past the session. */
  async issue(appId: string, session: SessionSnapshot): Promise<string> {
    const settings = this.#settings(appId);
    const now = this.#host.clock.now();
    const jitter = (this.#host.random.bytes(1)[0]! / 255) * 0.05;
    const exp = Math.min(Math.floor((now + settings.lifetimeMs * (1 - jitter)) / 1000), Math.floor(expiresAt(session) / 1000));
    const signer = await this.#signer(appId, settings, now);
    return new SignJWT({ sid: session.id, scope: session.scope, roles: session.roles })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setSubject(session.subject)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(exp)
      .setJti(bytesToHex(this.#host.random.bytes(16)))
      .sign(signer.key);
  }

  /**
   * Verifies locally (no store round trip unless a key id is new or the key cache is 30 s old).
   * With `revocationCheck`, a token of a session revoked on any node fails within about a second;
   * a revocation list that could not be refreshed makes verification fail closed.
   */
  async verify(appId: string, token: string): Promise<AccessTokenResult | { valid: false; code: 'STORE_UNAVAILABLE' }> {
    const settings = this.#settings(appId);
    const now = this.#host.clock.now();
    let keys: AppKeys;
    try {
      keys = await this.#appKeys(appId, settings, now);
    } catch {
      return { valid: false, code: 'STORE_UNAVAILABLE' };
    }
    const expected = {
      issuer: settings.issuer,
      audience: settings.audience,
      nowSeconds: Math.floor(now / 1000),
      clockSkewSeconds: settings.clockSkewMs / 1000,
    };
    let result: AccessTokenResult;
    const cacheKey = `${appId}\u0000${token}`;
    const cached = this.#verified.get(cacheKey);
    if (cached && keys.verification.has(cached.kid)) {
      // The same bytes under a key still in the set: the signature holds; claims are checked again.
      const failure = checkClaims(cached.claims, expected);
      result = failure ? { valid: false, code: failure } : { valid: true, claims: cached.claims };
    } else {
      result = await verifyAccessJwt(token, (kid) => keys.verification.get(kid), expected);
      if (!result.valid && result.code === 'ACCESS_TOKEN_KEY_UNKNOWN' && now - keys.loadedAt >= UNKNOWN_KID_REFETCH_MS) {
        try {
          keys = await this.#appKeys(appId, settings, now, { force: true });
        } catch {
          return { valid: false, code: 'STORE_UNAVAILABLE' };
        }
        result = await verifyAccessJwt(token, (kid) => keys.verification.get(kid), expected);
      }
      if (result.valid) this.#remember(cacheKey, result.claims, parseAccessJwt(token)!.kid);
    }
    if (!result.valid || !settings.isRevocationChecked) return result;
    const revocations = await this.#revocationState(appId);
    if (this.#host.clock.now() - revocations.polledAt > REVOCATION_STALE_MS) return { valid: false, code: 'STORE_UNAVAILABLE' };
    if (revocations.revoked.has(result.claims.sid)) return { valid: false, code: 'ACCESS_TOKEN_REVOKED' };
    return result;
  }

  /** The JWKS document: every key that signs, will sign, or signed a token that has not expired. */
  async jwks(appId: string): Promise<{ keys: PublicJwk[] }> {
    const settings = this.#settings(appId);
    if (settings.algorithm === 'HS256') return { keys: [] };
    const keys = await this.#appKeys(appId, settings, this.#host.clock.now(), { force: true });
    return { keys: keys.stored.map((k) => k.publicJwk) };
  }

  /**
   * Adds a new signing key, published now and signing after `keyPublishSeconds`; the current key
   * stops signing then and stays published until the last token it signed has expired.
   */
  async rotate(appId: string): Promise<{ kid: string; activatesAt: number }> {
    const settings = this.#settings(appId);
    if (settings.algorithm === 'HS256') {
      throw new LatchkeyError('CONFIG_INVALID', {
        message: 'HS256 has one configured secret; rotate it by configuration.',
        field: 'accessTokens.secret',
      });
    }
    const now = this.#host.clock.now();
    const activatesAt = now + settings.keyPublishMs;
    const current = await this.#appKeys(appId, settings, now, { force: true });
    for (const old of current.stored) {
      if (old.retiresAt !== null && old.retiresAt <= activatesAt) continue;
      const retired: StoredSigningKey = { ...old, retiresAt: activatesAt };
      await this.#host.storeCall('putEntry', () =>
        this.#host.store.putEntry(
          appId,
          SIGNING_KEY_NAMESPACE,
          { key: old.kid, value: JSON.stringify(retired), expiresAt: activatesAt + settings.lifetimeMs + settings.clockSkewMs },
          now,
        ),
      );
    }
    const created = await this.#createKey(appId, settings, now, activatesAt);
    this.#keys.delete(appId);
    return { kid: created.kid, activatesAt };
  }

  /** Whether the app's verifiers consult the revocation list. */
  isRevocationChecked(appId: string): boolean {
    return this.#host.settings(appId).accessTokens?.isRevocationChecked === true;
  }

  /** Records revoked sessions so that every node's verifier refuses their access tokens (apps with `revocationCheck`). */
  async noteRevoked(appId: string, sessionIds: readonly string[]): Promise<void> {
    const settings = this.#host.settings(appId).accessTokens;
    if (!settings?.isRevocationChecked || sessionIds.length === 0) return;
    const now = this.#host.clock.now();
    const keepUntil = now + settings.lifetimeMs + settings.clockSkewMs;
    const local = this.#revocations.get(appId);
    for (const sid of sessionIds) local?.revoked.set(sid, keepUntil);
    await Promise.all(
      sessionIds.map((sid) =>
        this.#host.store.putEntry(appId, REVOCATION_NAMESPACE, { key: sid, value: String(now), expiresAt: keepUntil }, now),
      ),
    );
  }

  #remember(cacheKey: string, claims: AccessTokenClaims, kid: string): void {
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(cacheKey, { claims: Object.freeze({ ...claims, roles: Object.freeze([...claims.roles]) }), kid });
  }

  close(): void {
    for (const state of this.#revocations.values()) if (state.timer) clearInterval(state.timer);
    this.#revocations.clear();
  }

  async #signer(
    appId: string,
    settings: AccessTokenSettings,
    now: number,
  ): Promise<{ kid: string; alg: AccessTokenAlgorithm; key: KeyObject | Uint8Array }> {
    if (settings.algorithm === 'HS256') {
      return { kid: hs256Kid(settings.secret!), alg: 'HS256', key: new TextEncoder().encode(settings.secret!) };
    }
    let keys = await this.#appKeys(appId, settings, now);
    let active = activeKey(keys.stored, now);
    if (!active) {
      // First use (or every key retired): a key that signs at once, since no verifier can hold a stale JWKS yet.
      await this.#createKey(appId, settings, now, now);
      keys = await this.#appKeys(appId, settings, now, { force: true });
      active = activeKey(keys.stored, now);
      if (!active) throw new LatchkeyError('INTERNAL_ERROR', { message: 'No signing key after creating one.' });
    }
    return { kid: active.kid, alg: active.alg, key: keys.privateKeys.get(active.kid)! };
  }

  async #createKey(appId: string, settings: AccessTokenSettings, now: number, activatesAt: number): Promise<StoredSigningKey> {
    const cipher = this.#host.cipher!;
    const kid = bytesToHex(this.#host.random.bytes(8));
    const alg = settings.algorithm as 'EdDSA' | 'ES256';
    const pair = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const publicJwk: PublicJwk = {
      kid,
      alg,
      use: 'sig',
      kty: jwk.kty!,
      crv: jwk.crv!,
      x: jwk.x!,
      ...(jwk.y ? { y: jwk.y } : {}),
    };
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const stored: StoredSigningKey = {
      kid,
      alg,
      publicJwk,
      sealedPrivateKey: cipher.sealWith(keyAad(appId, kid), pkcs8),
      createdAt: now,
      activatesAt,
      retiresAt: null,
    };
    await this.#host.storeCall('putEntry', () =>
      this.#host.store.putEntry(
        appId,
        SIGNING_KEY_NAMESPACE,
        { key: kid, value: JSON.stringify(stored), expiresAt: now + TEN_YEARS_MS },
        now,
      ),
    );
    this.#host.logger().info('access-token signing key created', { appId, kid, alg, activatesAt });
    return stored;
  }

  async #appKeys(appId: string, settings: AccessTokenSettings, now: number, options: { force?: boolean } = {}): Promise<AppKeys> {
    const cached = this.#keys.get(appId);
    const cacheMs = Math.min(KEY_CACHE_MS, settings.keyPublishMs / 2);
    if (cached && !options.force && now - cached.loadedAt < cacheMs) return cached;
    if (settings.algorithm === 'HS256') {
      const kid = hs256Kid(settings.secret!);
      const keys: AppKeys = {
        loadedAt: now,
        stored: [],
        verification: new Map([[kid, { kid, alg: 'HS256', key: new TextEncoder().encode(settings.secret!) }]]),
        privateKeys: new Map(),
      };
      this.#keys.set(appId, keys);
      return keys;
    }
    let loading = this.#loading.get(appId);
    if (!loading) {
      loading = this.#load(appId, now).finally(() => this.#loading.delete(appId));
      this.#loading.set(appId, loading);
    }
    return loading;
  }

  async #load(appId: string, now: number): Promise<AppKeys> {
    const entries = await this.#host.storeCall('listEntries', () =>
      this.#host.store.listEntries(appId, SIGNING_KEY_NAMESPACE, now),
    );
    const keys: AppKeys = { loadedAt: now, stored: [], verification: new Map(), privateKeys: new Map() };
    for (const entry of entries) {
      const stored = parseStoredKey(entry.value);
      if (!stored) continue;
      try {
        const pkcs8 = this.#host.cipher!.openWith(keyAad(appId, stored.kid), stored.sealedPrivateKey) as string;
        const privateKey = createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
        keys.privateKeys.set(stored.kid, privateKey);
        keys.verification.set(stored.kid, { kid: stored.kid, alg: stored.alg, key: createPublicKey(privateKey) });
        keys.stored.push(stored);
      } catch {
        this.#host.logger().error('access-token signing key could not be opened; skipped', { appId, kid: stored.kid });
      }
    }
    keys.stored.sort((a, b) => a.activatesAt - b.activatesAt || (a.kid < b.kid ? -1 : 1));
    this.#keys.set(appId, keys);
    return keys;
  }

  async #revocationState(appId: string): Promise<RevocationState> {
    let state = this.#revocations.get(appId);
    if (!state) {
      const fresh: RevocationState = {
        revoked: new Map(),
        cursor: { expiringAfter: 0 },
        sweptAt: Number.NEGATIVE_INFINITY,
        polledAt: Number.NEGATIVE_INFINITY,
        timer: null,
        first: null,
      };
      state = fresh;
      this.#revocations.set(appId, fresh);
      fresh.first = this.#poll(appId, fresh);
      fresh.timer = setInterval(() => void this.#poll(appId, fresh), REVOCATION_POLL_MS);
      fresh.timer.unref?.();
    }
    if (state.first) await state.first;
    return state;
  }

  async #poll(appId: string, state: RevocationState): Promise<void> {
    const now = this.#host.clock.now();
    try {
      // Incremental: a revocation's expiry is its time plus the token lifetime, so entries after the
      // cursor are the new ones. A node whose clock runs behind writes entries that sort before the
      // cursor: every REVOCATION_SWEEP_MS a poll starts REVOCATION_LOOKBACK_MS earlier to catch them.
      const isSweep = now - state.sweptAt >= REVOCATION_SWEEP_MS;
      let cursor = isSweep ? { expiringAfter: Math.max(0, state.cursor.expiringAfter - REVOCATION_LOOKBACK_MS) } : state.cursor;
      let furthest = state.cursor;
      for (;;) {
        const page = await this.#host.store.scanEntries(appId, REVOCATION_NAMESPACE, { ...cursor, limit: REVOCATION_PAGE, now });
        for (const e of page) state.revoked.set(e.key, e.expiresAt);
        const last = page[page.length - 1];
        if (last) {
          cursor = { expiringAfter: last.expiresAt, afterKey: last.key };
          if (isAfter(cursor, furthest)) furthest = cursor;
        }
        if (!last || page.length < REVOCATION_PAGE) break;
      }
      state.cursor = furthest;
      if (isSweep) state.sweptAt = now;
      for (const [sid, until] of state.revoked) if (until <= now) state.revoked.delete(sid);
      state.polledAt = now;
    } catch (error) {
      this.#host.logger().error('revocation list poll failed', { appId, error: String(error) });
    }
  }
}

/** (expiresAt, key) order, as the store scans. */
function isAfter(a: { expiringAfter: number; afterKey?: string }, b: { expiringAfter: number; afterKey?: string }): boolean {
  if (a.expiringAfter !== b.expiringAfter) return a.expiringAfter > b.expiringAfter;
  return (a.afterKey ?? '') > (b.afterKey ?? '');
}

function activeKey(keys: readonly StoredSigningKey[], now: number): StoredSigningKey | undefined {
  let best: StoredSigningKey | undefined;
  for (const k of keys) if (k.activatesAt <= now && (k.retiresAt === null || now < k.retiresAt)) best = k;
  return best;
}

/** A stable, non-reversible key id for the configured HS256 secret. */
function hs256Kid(secret: string): string {
  return createHash('sha256').update(`latchkey/hs256-kid|${secret}`).digest('base64url').slice(0, 12);
}
