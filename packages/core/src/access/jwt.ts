import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';

/** The JWS algorithms Latchkey signs access tokens with. */
export type AccessTokenAlgorithm = 'EdDSA' | 'ES256' | 'HS256';

/** A key that can verify: its algorithm travels with it, so a token's header never chooses it. */
export interface VerificationKey {
  kid: string;
  alg: AccessTokenAlgorithm;
  key: KeyObject | Uint8Array;
}

/** The claims of a Latchkey access token (RFC 9068 profile, `typ: at+jwt`). */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly aud: string;
  /** CAIP-10 account. */
  readonly sub: string;
  /** Session id. */
  readonly sid: string;
  readonly scope: 'read-only' | 'read-write';
  readonly roles: readonly string[];
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
}

export type AccessTokenFailure =
  | 'ACCESS_TOKEN_MALFORMED'
  | 'ACCESS_TOKEN_KEY_UNKNOWN'
  | 'ACCESS_TOKEN_SIGNATURE_INVALID'
  | 'ACCESS_TOKEN_EXPIRED'
  | 'ACCESS_TOKEN_NOT_YET_VALID'
  | 'ACCESS_TOKEN_ISSUER_INVALID'
  | 'ACCESS_TOKEN_AUDIENCE_INVALID'
  | 'ACCESS_TOKEN_REVOKED';

export type AccessTokenResult = { valid: true; claims: AccessTokenClaims } | { valid: false; code: AccessTokenFailure };

export interface VerifyExpectations {
  issuer: string;
  audience: string;
  /** Seconds since the epoch. */
  nowSeconds: number;
  clockSkewSeconds: number;
}

const MAX_TOKEN_LENGTH = 8192;
const B64URL = /^[A-Za-z0-9_-]+$/;

interface Header {
  alg: string;
  kid: string;
}

/** Headers repeat (one per key), so their decoding is cached. */
const headerCache = new Map<string, Header | null>();

function decodeHeader(segment: string): Header | null {
  const cached = headerCache.get(segment);
  if (cached !== undefined) return cached;
  let header: Header | null = null;
  try {
    const h = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
    const keys = Object.keys(h);
    // `crit` or anything unexpected means a token we did not mint.
    const isKnownShape = keys.every((k) => k === 'alg' || k === 'kid' || k === 'typ');
    if (isKnownShape && typeof h.alg === 'string' && typeof h.kid === 'string' && h.typ === 'at+jwt')
      header = { alg: h.alg, kid: h.kid };
  } catch {
    header = null;
  }
  if (headerCache.size < 256) headerCache.set(segment, header);
  return header;
}

function isClaims(value: unknown): value is AccessTokenClaims {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.iss === 'string' &&
    typeof c.aud === 'string' &&
    typeof c.sub === 'string' &&
    typeof c.sid === 'string' &&
    (c.scope === 'read-only' || c.scope === 'read-write') &&
    Array.isArray(c.roles) &&
    c.roles.every((r) => typeof r === 'string') &&
    Number.isInteger(c.iat) &&
    Number.isInteger(c.exp) &&
    typeof c.jti === 'string'
  );
}

/** HMAC is cheap and done inline; public-key signatures run on libuv's thread pool, off the event loop. */
function signatureValid(key: VerificationKey, signingInput: string, signature: Buffer): Promise<boolean> {
  const data = Buffer.from(signingInput);
  return new Promise((resolve) => {
    const done = (error: Error | null, isValid: boolean): void => resolve(error === null && isValid);
    switch (key.alg) {
      case 'EdDSA':
        if (signature.length !== 64) return resolve(false);
        return verify(null, data, key.key as KeyObject, signature, done);
      case 'ES256':
        if (signature.length !== 64) return resolve(false);
        return verify('sha256', data, { key: key.key as KeyObject, dsaEncoding: 'ieee-p1363' }, signature, done);
      case 'HS256': {
        const expected = createHmac('sha256', key.key as Uint8Array)
          .update(data)
          .digest();
        return resolve(signature.length === expected.length && timingSafeEqual(signature, expected));
      }
    }
  });
}

/** A token split and its header checked, before any signature work. */
export interface ParsedAccessJwt {
  kid: string;
  alg: string;
  signingInput: string;
  payload: string;
  signature: string;
}

/** Splits a compact JWS and checks the header's shape; null for anything Latchkey did not mint. */
export function parseAccessJwt(token: string): ParsedAccessJwt | null {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return null;
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || second === token.length - 1 || token.indexOf('.', second + 1) !== -1) return null;
  const payload = token.slice(first + 1, second);
  const signature = token.slice(second + 1);
  if (!B64URL.test(payload) || !B64URL.test(signature)) return null;
  const header = decodeHeader(token.slice(0, first));
  if (!header) return null;
  return { kid: header.kid, alg: header.alg, signingInput: token.slice(0, second), payload, signature };
}

/** Claim checks that must run on every request, cached signature or not: issuer, audience, time. */
export function checkClaims(claims: AccessTokenClaims, expected: VerifyExpectations): AccessTokenFailure | null {
  if (claims.iss !== expected.issuer) return 'ACCESS_TOKEN_ISSUER_INVALID';
  if (claims.aud !== expected.audience) return 'ACCESS_TOKEN_AUDIENCE_INVALID';
  const { nowSeconds, clockSkewSeconds } = expected;
  if (nowSeconds - clockSkewSeconds >= claims.exp) return 'ACCESS_TOKEN_EXPIRED';
  if (claims.iat > nowSeconds + clockSkewSeconds) return 'ACCESS_TOKEN_NOT_YET_VALID';
  return null;
}

/**
 * Verifies a compact JWS access token with node:crypto and keys resolved once (no per-request key
 * import). The key's algorithm is authoritative: a header naming another algorithm fails. Checks,
 * in order: shape, key id, signature, issuer, audience, time.
 */
export async function verifyAccessJwt(
  token: string,
  keyFor: (kid: string) => VerificationKey | undefined,
  expected: VerifyExpectations,
): Promise<AccessTokenResult> {
  const parsed = parseAccessJwt(token);
  if (!parsed) return { valid: false, code: 'ACCESS_TOKEN_MALFORMED' };
  const key = keyFor(parsed.kid);
  if (!key) return { valid: false, code: 'ACCESS_TOKEN_KEY_UNKNOWN' };
  if (parsed.alg !== key.alg) return { valid: false, code: 'ACCESS_TOKEN_SIGNATURE_INVALID' };
  if (!(await signatureValid(key, parsed.signingInput, Buffer.from(parsed.signature, 'base64url')))) {
    return { valid: false, code: 'ACCESS_TOKEN_SIGNATURE_INVALID' };
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parsed.payload, 'base64url').toString('utf8'));
  } catch {
    return { valid: false, code: 'ACCESS_TOKEN_MALFORMED' };
  }
  if (!isClaims(claims)) return { valid: false, code: 'ACCESS_TOKEN_MALFORMED' };
  const failure = checkClaims(claims, expected);
  return failure ? { valid: false, code: failure } : { valid: true, claims };
}

/** A verification key from a public JWK (Ed25519 or P-256), as published in a JWKS. */
export function verificationKeyFromJwk(jwk: {
  kid?: unknown;
  alg?: unknown;
  kty?: unknown;
  crv?: unknown;
  x?: unknown;
  y?: unknown;
}): VerificationKey | null {
  if (typeof jwk.kid !== 'string') return null;
  try {
    if (jwk.alg === 'EdDSA' && jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && typeof jwk.x === 'string') {
      return {
        kid: jwk.kid,
        alg: 'EdDSA',
        key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }),
      };
    }
    if (
      jwk.alg === 'ES256' &&
      jwk.kty === 'EC' &&
      jwk.crv === 'P-256' &&
      typeof jwk.x === 'string' &&
      typeof jwk.y === 'string'
    ) {
      return {
        kid: jwk.kid,
        alg: 'ES256',
        key: createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' }),
      };
    }
  } catch {
    return null;
  }
  return null;
}
