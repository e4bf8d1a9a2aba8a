import { base58 } from '@scure/base';
import { getAddress, isHex } from 'viem';
import { canonicalize } from '../canonical.js';
import { fromBase64Url, fromHex, toBase64Url } from '../encoding.js';
import { CONNECT_LIMITS, CONNECT_PROTOCOL_VERSION } from './constants.js';
import { ConnectError } from './errors.js';
import { isChannelId, normalizeRelayUrl } from './uri.js';

/** The chains a session token can be signed on: CAIP-2 namespaces. */
export type ConnectChainType = 'eip155' | 'solana';

/**
 * What a session token binds (docs/connect-protocol.md §5). The wallet signs a text rendering of
 * these claims ({@link sessionTokenMessage}) with its chain key.
 */
export interface SessionTokenClaims {
  v: typeof CONNECT_PROTOCOL_VERSION;
  /** The channel id from the connect URI. */
  uuid: string;
  /** The relay URL from the connect URI (canonical form). */
  relay: string;
  chainType: ConnectChainType;
  /** CAIP-2 reference: eip155 decimal chain id (`"1"`); solana genesis-hash prefix (32 base58 characters). */
  chainId: string;
  /** eip155: EIP-55 checksummed `0x` address; solana: base58 of the 32-byte Ed25519 public key. */
  address: string;
  /** The dApp's X25519 public key from the URI, base64url. */
  dappPublicKey: string;
  /** The wallet's own X25519 public key for this channel, base64url. */
  walletPublicKey: string;
  /** ms since the epoch. */
  issuedAt: number;
  /** ms since the epoch; after `issuedAt`, at most 7 days later. */
  expiresAt: number;
}

/** A token split into its claims, the exact text that was signed and the signature bytes. */
export interface DecodedSessionToken {
  claims: SessionTokenClaims;
  message: string;
  signature: Uint8Array;
}

/** The session token prefix: protocol `lkc` (Latchkey connect), version 1. */
export const SESSION_TOKEN_PREFIX = 'lkc1';

const CLAIM_KEYS = [
  'address',
  'chainId',
  'chainType',
  'dappPublicKey',
  'expiresAt',
  'issuedAt',
  'relay',
  'uuid',
  'v',
  'walletPublicKey',
] as const;
const EIP155_CHAIN_ID = /^[1-9][0-9]{0,19}$/;
const SOLANA_CHAIN_ID = /^[1-9A-HJ-NP-Za-km-z]{32}$/;
const EVM_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const SOLANA_ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;
const KEY_B64URL = /^[A-Za-z0-9_-]{43}$/;
const MAX_TIME = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z: the last instant toISOString renders in four digits
const TOKEN = /^lkc1\.([A-Za-z0-9_-]{1,4096})\.([A-Za-z0-9_-]{86,87})$/;

/**
 * Why `claims` are not well-formed, or null when they are. Shared by create (a TypeError for the
 * caller) and decode (a CONNECT_SESSION_TOKEN_INVALID for the peer).
 */
export function sessionTokenClaimsProblem(claims: unknown): string | null {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return 'claims: expected an object';
  const c = claims as Record<string, unknown>;
  const keys = Object.keys(c).sort();
  if (keys.length !== CLAIM_KEYS.length || keys.some((k, i) => k !== CLAIM_KEYS[i])) {
    return `claims: expected exactly ${CLAIM_KEYS.join(', ')}`;
  }
  if (c.v !== CONNECT_PROTOCOL_VERSION) return 'v: unsupported version';
  if (!isChannelId(c.uuid)) return 'uuid: expected an RFC 4122 v4 UUID in lowercase';
  if (typeof c.relay !== 'string' || !isCanonicalRelay(c.relay)) return 'relay: expected a canonical relay URL';
  if (c.chainType === 'eip155') {
    if (typeof c.chainId !== 'string' || !EIP155_CHAIN_ID.test(c.chainId)) return 'chainId: expected a decimal chain id';
    if (typeof c.address !== 'string' || !EVM_ADDRESS.test(c.address) || getAddress(c.address) !== c.address) {
      return 'address: expected an EIP-55 checksummed address';
    }
  } else if (c.chainType === 'solana') {
    if (typeof c.chainId !== 'string' || !SOLANA_CHAIN_ID.test(c.chainId))
      return 'chainId: expected a 32-character genesis hash prefix';
    if (typeof c.address !== 'string' || !isSolanaAddress(c.address)) return 'address: expected a base58 Ed25519 public key';
  } else {
    return 'chainType: expected eip155 or solana';
  }
  if (!isKey(c.dappPublicKey)) return 'dappPublicKey: expected a base64url 32-byte key';
  if (!isKey(c.walletPublicKey)) return 'walletPublicKey: expected a base64url 32-byte key';
  if (!isTime(c.issuedAt)) return 'issuedAt: expected ms since the epoch';
  if (!isTime(c.expiresAt)) return 'expiresAt: expected ms since the epoch';
  if (c.expiresAt <= c.issuedAt) return 'expiresAt: must be after issuedAt';
  if (c.expiresAt - c.issuedAt > CONNECT_LIMITS.maxSessionTtlMs) return 'expiresAt: at most 7 days after issuedAt';
  return null;
}

/** True when `address` is base58 of exactly 32 bytes. */
export function isSolanaAddress(address: unknown): address is string {
  if (typeof address !== 'string' || !SOLANA_ADDRESS.test(address)) return false;
  try {
    return base58.decode(address).length === 32;
  } catch {
    return false;
  }
}

/** The CAIP-10 account of a token: `<chainType>:<chainId>:<address>`. */
export function sessionTokenAccount(claims: Pick<SessionTokenClaims, 'chainType' | 'chainId' | 'address'>): string {
  return `${claims.chainType}:${claims.chainId}:${claims.address}`;
}

/**
 * The exact text the wallet signs: EIP-191 `personal_sign` of its UTF-8 bytes on eip155, Ed25519
 * over its UTF-8 bytes on solana. Lines are joined with `\n`, no trailing newline; times are
 * `Date.prototype.toISOString` (`YYYY-MM-DDTHH:mm:ss.sssZ`).
 */
export function sessionTokenMessage(claims: SessionTokenClaims): string {
  return [
    'Latchkey Connect session token',
    '',
    `Account: ${sessionTokenAccount(claims)}`,
    `Channel: ${claims.uuid}`,
    `Relay: ${claims.relay}`,
    `dApp Key: ${claims.dappPublicKey}`,
    `Wallet Key: ${claims.walletPublicKey}`,
    `Issued At: ${new Date(claims.issuedAt).toISOString()}`,
    `Expiration Time: ${new Date(claims.expiresAt).toISOString()}`,
    `Version: ${claims.v}`,
  ].join('\n');
}

/** `lkc1.<base64url(RFC 8785 JSON of claims)>.<base64url(signature)>`. */
export function encodeSessionToken(claims: SessionTokenClaims, signature: Uint8Array): string {
  const problem = sessionTokenClaimsProblem(claims);
  if (problem) throw new TypeError(problem);
  if (signature.length !== signatureLength(claims.chainType)) {
    throw new TypeError(`signature: expected ${signatureLength(claims.chainType)} bytes for ${claims.chainType}`);
  }
  return `${SESSION_TOKEN_PREFIX}.${toBase64Url(new TextEncoder().encode(canonicalize(claims)))}.${toBase64Url(signature)}`;
}

/**
 * Splits and checks a session token's form; does NOT verify the signature or any binding (use
 * `verifySessionToken`). The claims segment must be the canonical JSON of the claims, so every token
 * has exactly one spelling.
 *
 * @throws ConnectError `CONNECT_SESSION_TOKEN_INVALID`, `field` naming the part that is wrong.
 */
export function decodeSessionToken(token: string): DecodedSessionToken {
  const match = typeof token === 'string' ? TOKEN.exec(token) : null;
  if (!match) throw invalid('sessionToken');
  let claimsText: string;
  let signature: Uint8Array;
  try {
    claimsText = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(match[1]!));
    signature = fromBase64Url(match[2]!);
  } catch {
    throw invalid('sessionToken');
  }
  let claims: unknown;
  try {
    claims = JSON.parse(claimsText);
  } catch {
    throw invalid('claims');
  }
  const problem = sessionTokenClaimsProblem(claims);
  if (problem) throw invalid(problem.slice(0, problem.indexOf(':')));
  const valid = claims as SessionTokenClaims;
  if (canonicalize(valid) !== claimsText) throw invalid('claims');
  if (signature.length !== signatureLength(valid.chainType)) throw invalid('signature');
  return { claims: valid, message: sessionTokenMessage(valid), signature };
}

/** Signs a session token's message: EIP-191 on eip155 (65-byte r||s||v, as bytes or 0x-hex), Ed25519 on solana (64 bytes). */
export type SessionTokenSigner = (message: string) => Promise<Uint8Array | `0x${string}`>;

/**
 * Builds and signs a session token. The caller supplies every claim except `v`.
 *
 * @example
 * ```ts
 * const account = privateKeyToAccount(key);
 * const token = await createSessionToken({ uuid, relay, chainType: 'eip155', chainId: '1', address: account.address,
 *   dappPublicKey, walletPublicKey, issuedAt: now, expiresAt: now + 86_400_000 }, (message) => account.signMessage({ message }));
 * ```
 */
export async function createSessionToken(claims: Omit<SessionTokenClaims, 'v'>, sign: SessionTokenSigner): Promise<string> {
  const full: SessionTokenClaims = { v: CONNECT_PROTOCOL_VERSION, ...claims };
  const problem = sessionTokenClaimsProblem(full);
  if (problem) throw new TypeError(problem);
  const raw = await sign(sessionTokenMessage(full));
  let signature: Uint8Array;
  if (typeof raw === 'string') {
    if (!isHex(raw, { strict: true })) throw new TypeError('sign: expected the signature as bytes or 0x-hex');
    signature = fromHex(raw.slice(2));
  } else {
    signature = raw;
  }
  return encodeSessionToken(full, signature);
}

function signatureLength(chainType: ConnectChainType): number {
  return chainType === 'eip155' ? 65 : 64;
}

function isCanonicalRelay(relay: string): boolean {
  try {
    return normalizeRelayUrl(relay) === relay;
  } catch {
    return false;
  }
}

function isKey(value: unknown): boolean {
  if (typeof value !== 'string' || !KEY_B64URL.test(value)) return false;
  try {
    return fromBase64Url(value).length === 32;
  } catch {
    return false;
  }
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_TIME;
}

function invalid(field: string): ConnectError {
  return new ConnectError('CONNECT_SESSION_TOKEN_INVALID', { field });
}
