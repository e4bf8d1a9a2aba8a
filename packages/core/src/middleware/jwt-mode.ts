import {
  type AccessTokenClaims,
  parseAccessJwt,
  type VerificationKey,
  verificationKeyFromJwk,
  verifyAccessJwt,
} from '../access/jwt.js';
import { LatchkeyError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../runtime.js';
import { permissionsFor } from '../session/permissions.js';
import { AUTHORITY_UNAVAILABLE, invalidToken } from './answers.js';
import { type AccessTokenContext, walletOf } from './context.js';
import type { FetchFunction, JwtSettings, PublicJwkInput } from './options.js';
import { refuse, type TokenValidator, type Verdict } from './verdict.js';

export interface JwtValidatorOptions extends JwtSettings {
  clock: Clock;
  logger: Logger;
  fetch: FetchFunction;
}

const MAX_JWKS_BYTES = 1 << 20;

function importKeys(keys: readonly PublicJwkInput[]): Map<string, VerificationKey> {
  const imported = new Map<string, VerificationKey>();
  for (const jwk of keys) {
    // Keys of other kinds (RSA, encryption keys) may share the set; they can never verify a Latchkey token.
    const key = typeof jwk === 'object' && jwk !== null ? verificationKeyFromJwk(jwk) : null;
    if (key) imported.set(key.kid, key);
  }
  return imported;
}

/**
 * Verifies Latchkey access tokens locally: signature with the authority's public keys, then issuer,
 * audience and time. No round trip per request. The JWKS is fetched on first use, again after
 * `jwksCacheMs`, and again when a token names a key id not in the set, at most once per
 * `jwksCooldownMs`. While it cannot be fetched, a set past `jwksCacheMs` still answers for the key
 * ids it holds, for at most `jwksMaxStaleMs` more; after that every token is a 503 until a fetch
 * succeeds (a key the authority withdrew is not trusted forever). Revocation is not seen: a revoked
 * session's access token works until it expires.
 */
export class JwtValidator implements TokenValidator {
  readonly #options: JwtValidatorOptions;
  #keys: Map<string, VerificationKey>;
  #isLoaded: boolean;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<boolean> | null = null;
  readonly #permissions = new Map<string, readonly string[]>();
  readonly #keyFor = (kid: string): VerificationKey | undefined => this.#keys.get(kid);

  constructor(options: JwtValidatorOptions) {
    this.#options = options;
    if (options.jwks) {
      this.#keys = importKeys(options.jwks.keys);
      if (this.#keys.size === 0) {
        throw new LatchkeyError('CONFIG_INVALID', {
          message: 'jwt.jwks: no usable key (Ed25519 or P-256 public JWK with kid and alg)',
          field: 'jwt.jwks',
        });
      }
      this.#isLoaded = true;
    } else {
      this.#keys = new Map();
      this.#isLoaded = false;
    }
  }

  async validate(token: string): Promise<Verdict> {
    const parsed = parseAccessJwt(token);
    if (!parsed) return refuse(invalidToken('ACCESS_TOKEN_MALFORMED'));
    const { clock, jwksUrl } = this.#options;
    if (jwksUrl !== null) {
      const now = clock.now();
      const isKnown = this.#keys.has(parsed.kid);
      const isStale = now - this.#loadedAt >= this.#options.jwksCacheMs;
      const mayFetch = !this.#isLoaded || now - this.#attemptedAt >= this.#options.jwksCooldownMs;
      if ((!isKnown || isStale) && mayFetch) {
        const isFetched = await this.#load();
        // A stale set still answers for keys it knows; an unknown key with no fresh set cannot be judged.
        if (!isFetched && (!this.#isLoaded || !isKnown)) return refuse(AUTHORITY_UNAVAILABLE);
      } else if (!this.#isLoaded) {
        return refuse(AUTHORITY_UNAVAILABLE);
      }
      // A fetch that just succeeded made the set fresh; otherwise it may be too old to judge anything.
      if (clock.now() - this.#loadedAt >= this.#options.jwksCacheMs + this.#options.jwksMaxStaleMs) {
        return refuse(AUTHORITY_UNAVAILABLE);
      }
    }
    const result = await verifyAccessJwt(token, this.#keyFor, {
      issuer: this.#options.issuer,
      audience: this.#options.audience,
      nowSeconds: Math.floor(clock.now() / 1000),
      clockSkewSeconds: this.#options.clockSkewSeconds,
    });
    if (!result.valid) return refuse(invalidToken(result.code));
    const context = this.#context(result.claims);
    return context ? { ok: true, context } : refuse(invalidToken('ACCESS_TOKEN_MALFORMED'));
  }

  #context(claims: AccessTokenClaims): AccessTokenContext | null {
    const { sub } = claims;
    const namespace = sub.slice(0, sub.indexOf(':'));
    if (namespace !== 'eip155' && namespace !== 'solana') return null;
    const address = sub.slice(sub.lastIndexOf(':') + 1);
    if (address.length === 0 || sub.split(':').length !== 3) return null;
    return {
      via: 'jwt',
      session: {
        id: claims.sid,
        account: sub,
        address,
        chainType: namespace,
        scope: claims.scope,
        roles: claims.roles,
        permissions: this.#permissionsOf(claims.roles, claims.scope),
        expiresAt: claims.exp * 1000,
      },
      wallet: walletOf(sub, address, namespace),
      claims,
      stamp: null,
    };
  }

  #permissionsOf(roles: readonly string[], scope: AccessTokenClaims['scope']): readonly string[] {
    const key = `${scope}|${roles.join('\u0000')}`;
    let permissions = this.#permissions.get(key);
    if (!permissions) {
      permissions = Object.freeze(permissionsFor(roles, scope, this.#options.roles));
      if (this.#permissions.size < 1024) this.#permissions.set(key, permissions);
    }
    return permissions;
  }

  /** One fetch at a time; true when a fresh set was installed. */
  #load(): Promise<boolean> {
    if (!this.#loading) {
      this.#loading = this.#fetchKeys().finally(() => {
        this.#loading = null;
      });
    }
    return this.#loading;
  }

  async #fetchKeys(): Promise<boolean> {
    const { jwksUrl, timeoutMs, logger, clock } = this.#options;
    this.#attemptedAt = clock.now();
    try {
      const response = await this.#options.fetch(jwksUrl!, {
        method: 'GET',
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        logger.error('JWKS fetch refused', { url: jwksUrl, status: response.status });
        return false;
      }
      const text = await response.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS document too large');
      const document = JSON.parse(text) as { keys?: unknown };
      if (typeof document !== 'object' || document === null || !Array.isArray(document.keys)) {
        throw new Error('not a JWKS document');
      }
      this.#keys = importKeys(document.keys as PublicJwkInput[]);
      this.#isLoaded = true;
      this.#loadedAt = clock.now();
      return true;
    } catch (error) {
      logger.error('JWKS fetch failed', { url: jwksUrl, error: String(error) });
      return false;
    }
  }
}
