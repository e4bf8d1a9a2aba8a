import { ed25519 } from '@noble/curves/ed25519';
import { base58 } from '@scure/base';
import { bytesToHex, recoverMessageAddress } from 'viem';
import { fromBase64Url, toBase64Url, utf8 } from '../encoding.js';
import { CONNECT_LIMITS } from './constants.js';
import { ConnectError, validationFailed } from './errors.js';
import {
  type ConnectChainType,
  type DecodedSessionToken,
  decodeSessionToken,
  type SessionTokenClaims,
  sessionTokenAccount,
} from './token.js';
import { isChannelId, normalizeRelayUrl } from './uri.js';

/**
 * Checks a decoded token's signature. The default ({@link verifySessionTokenSignature}) recovers an
 * EOA for eip155 and verifies Ed25519 for solana; a server that accepts smart accounts passes its own
 * (ERC-1271 / ERC-6492 through an RPC client).
 */
export type SessionTokenSignatureVerifier = (token: DecodedSessionToken) => Promise<boolean> | boolean;

/** What the verifier already knows and the token must match. Keys are base64url strings or bytes. */
export interface SessionTokenExpectations {
  uuid?: string;
  relay?: string;
  address?: string;
  chainType?: ConnectChainType;
  dappPublicKey?: string | Uint8Array;
  walletPublicKey?: string | Uint8Array;
}

export interface VerifySessionTokenOptions {
  /** ms since the epoch. */
  now: number;
  expected?: SessionTokenExpectations;
  verifySignature?: SessionTokenSignatureVerifier;
  /** How far `issuedAt` may be in the future, ms (default 60 000). */
  clockSkewMs?: number;
}

/**
 * The default signature check: eip155 — EIP-191 `personal_sign` recovers to `claims.address` (an EOA);
 * solana — strict RFC 8032 Ed25519 over the message's UTF-8 bytes with `claims.address` as the key.
 */
export async function verifySessionTokenSignature(token: DecodedSessionToken): Promise<boolean> {
  const { claims, message, signature } = token;
  try {
    if (claims.chainType === 'eip155') {
      const recovered = await recoverMessageAddress({ message, signature: bytesToHex(signature) });
      return recovered === claims.address;
    }
    return ed25519.verify(signature, utf8(message), base58.decode(claims.address), { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Verifies a session token: its form, every expectation the caller passes, its times, then its
 * signature. The wallet calls this before every sign request; the dApp once, on connect.
 *
 * @returns the claims when everything holds.
 * @throws ConnectError `CONNECT_KEY_MISMATCH` (walletPublicKey differs), `CONNECT_SESSION_TOKEN_EXPIRED`
 *   (now >= expiresAt), otherwise `CONNECT_SESSION_TOKEN_INVALID` with `field` naming what failed.
 * @example
 * ```ts
 * const claims = await verifySessionToken(token, { now: Date.now(), expected: { uuid, relay, walletPublicKey } });
 * ```
 */
export async function verifySessionToken(token: string, options: VerifySessionTokenOptions): Promise<SessionTokenClaims> {
  const decoded = decodeSessionToken(token);
  const { claims } = decoded;
  const expected = options.expected ?? {};
  if (expected.walletPublicKey !== undefined && claims.walletPublicKey !== keyText(expected.walletPublicKey)) {
    throw new ConnectError('CONNECT_KEY_MISMATCH', { field: 'walletPublicKey' });
  }
  if (expected.uuid !== undefined && claims.uuid !== expected.uuid) throw invalid('uuid');
  if (expected.relay !== undefined && claims.relay !== expected.relay) throw invalid('relay');
  if (expected.dappPublicKey !== undefined && claims.dappPublicKey !== keyText(expected.dappPublicKey))
    throw invalid('dappPublicKey');
  if (expected.chainType !== undefined && claims.chainType !== expected.chainType) throw invalid('chainType');
  if (expected.address !== undefined && !sameAddress(claims, expected.address)) throw invalid('address');
  if (claims.issuedAt > options.now + (options.clockSkewMs ?? CONNECT_LIMITS.clockSkewMs)) throw invalid('issuedAt');
  if (options.now >= claims.expiresAt) throw new ConnectError('CONNECT_SESSION_TOKEN_EXPIRED', { field: 'expiresAt' });
  const verify = options.verifySignature ?? verifySessionTokenSignature;
  let ok = false;
  try {
    ok = (await verify(decoded)) === true;
  } catch {
    ok = false;
  }
  if (!ok) throw invalid('signature');
  return claims;
}

/** What a dApp posts to `POST /v1/auth/connect`: the session token and the channel it came through. */
export interface ConnectAuthRequest {
  sessionToken: string;
  uuid: string;
}

/** A verified connect session token, ready to become a Latchkey session. */
export interface VerifiedConnectSession {
  /** CAIP-10 account, e.g. `eip155:1:0xAbC…`. */
  account: string;
  chainType: ConnectChainType;
  chainId: string;
  address: string;
  uuid: string;
  relay: string;
  dappPublicKey: string;
  walletPublicKey: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * Parses the body of `POST /v1/auth/connect`. Unknown fields are refused.
 *
 * @throws ConnectError `VALIDATION_FAILED` naming the field.
 */
export function parseConnectAuthRequest(body: unknown): ConnectAuthRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw validationFailed('body', 'expected a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (key !== 'sessionToken' && key !== 'uuid') throw validationFailed(key, 'unknown field');
  }
  if (typeof b.sessionToken !== 'string' || b.sessionToken.length === 0 || b.sessionToken.length > 8192) {
    throw validationFailed('sessionToken', 'expected a session token string');
  }
  if (!isChannelId(b.uuid)) throw validationFailed('uuid', 'expected an RFC 4122 v4 UUID in lowercase');
  return { sessionToken: b.sessionToken, uuid: b.uuid };
}

/**
 * The check behind `POST /v1/auth/connect`: the token is well formed, names this channel and one of
 * this server's relay URLs, is inside its lifetime (and younger than `maxAgeMs` when given), and its
 * signature holds. The caller consumes the channel id atomically BEFORE calling this
 * (`CONNECT_CHANNEL_USED` on a second use) and maps the account to a session.
 *
 * @throws ConnectError `CONNECT_SESSION_TOKEN_INVALID` / `CONNECT_SESSION_TOKEN_EXPIRED`.
 * @example
 * ```ts
 * const body = parseConnectAuthRequest(request.body);
 * await consumeChannel(body.uuid); // atomic, throws CONNECT_CHANNEL_USED
 * const verified = await verifyConnectSessionToken(body, { relay: 'https://auth.example.com', now: Date.now() });
 * await latchkey.createSession({ account: verified.account, authMethod: 'connect' });
 * ```
 */
export async function verifyConnectSessionToken(
  request: ConnectAuthRequest,
  options: {
    /** The relay URL(s) this server answers on; the token's relay must be one of them. */
    relay: string | readonly string[];
    now: number;
    verifySignature?: SessionTokenSignatureVerifier;
    /** Refuse tokens issued longer ago than this, ms (default: no limit beyond `expiresAt`). */
    maxAgeMs?: number;
    clockSkewMs?: number;
  },
): Promise<VerifiedConnectSession> {
  const relays = (typeof options.relay === 'string' ? [options.relay] : options.relay).map(normalizeRelayUrl);
  const decoded = decodeSessionToken(request.sessionToken);
  if (!relays.includes(decoded.claims.relay)) throw invalid('relay');
  const claims = await verifySessionToken(request.sessionToken, {
    now: options.now,
    expected: { uuid: request.uuid },
    ...(options.verifySignature ? { verifySignature: options.verifySignature } : {}),
    ...(options.clockSkewMs !== undefined ? { clockSkewMs: options.clockSkewMs } : {}),
  });
  if (options.maxAgeMs !== undefined && options.now - claims.issuedAt > options.maxAgeMs) {
    throw new ConnectError('CONNECT_SESSION_TOKEN_EXPIRED', { field: 'issuedAt' });
  }
  return {
    account: sessionTokenAccount(claims),
    chainType: claims.chainType,
    chainId: claims.chainId,
    address: claims.address,
    uuid: claims.uuid,
    relay: claims.relay,
    dappPublicKey: claims.dappPublicKey,
    walletPublicKey: claims.walletPublicKey,
    issuedAt: claims.issuedAt,
    expiresAt: claims.expiresAt,
  };
}

function keyText(key: string | Uint8Array): string {
  return typeof key === 'string' ? toBase64Url(fromBase64Url(key)) : toBase64Url(key);
}

function sameAddress(claims: SessionTokenClaims, address: string): boolean {
  return claims.chainType === 'eip155' ? claims.address.toLowerCase() === address.toLowerCase() : claims.address === address;
}

function invalid(field: string): ConnectError {
  return new ConnectError('CONNECT_SESSION_TOKEN_INVALID', { field });
}
