import { createPublicKey, verify } from 'node:crypto';
import { base58, base64 } from '@scure/base';
import { LatchkeyError } from '../errors/index.js';
import {
  formatSignInMessage,
  parseSignInMessage,
  type SignInFamily,
  type SignInFields,
  type SignInMessage,
  toMillis,
  toSignInMessage,
} from './message.js';
import type { VerifiedSignIn } from './siwe.js';
import { checkSignedFields, type SignInExpectations } from './verify.js';

/**
 * Solana clusters by the names Sign-In with Solana messages use, and the genesis-hash prefix
 * CAIP-2 names them by.
 */
export const SOLANA_CLUSTERS: Readonly<Record<string, string>> = Object.freeze({
  mainnet: '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
  devnet: 'EtWTRABZaYq6iMfeYKouRu166VU2xqa1',
  testnet: '4uhcVJyU9pJkvQyS88uRDiswHXSCkY3z',
});

function isSolanaAddress(text: string): boolean {
  if (!/^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(text)) return false;
  try {
    return base58.decode(text).length === 32;
  } catch {
    return false;
  }
}

export const SOLANA_FAMILY: SignInFamily = Object.freeze({
  chainName: 'Solana',
  invalidCode: 'SIWS_MESSAGE_INVALID',
  address: (text: string) => (isSolanaAddress(text) ? text : null),
  // "mainnet", "solana:mainnet", or a CAIP-2 genesis-hash prefix.
  chainId: /^(?:solana:)?(?:mainnet|devnet|testnet|localnet|[1-9A-HJ-NP-Za-km-z]{32})$/,
  isChainIdOptional: true,
  isSingleBlankAllowed: true,
});

/** Parses a Sign-In with Solana message (the EIP-4361 grammar with "Solana account"). */
export function parseSiwsMessage(text: string): SignInMessage {
  return parseSignInMessage(text, SOLANA_FAMILY);
}

/** Formats the Sign-In with Solana message a wallet signs (Chain ID optional). */
export function formatSiwsMessage(fields: SignInFields): string {
  return formatSignInMessage(toSignInMessage(fields), SOLANA_FAMILY);
}

/** The CAIP-2 reference (genesis-hash prefix) a message's Chain ID names; `fallback` when it has none. */
export function solanaReference(chainId: string, fallback: string): string | null {
  if (chainId === '') return fallback;
  const name = chainId.startsWith('solana:') ? chainId.slice('solana:'.length) : chainId;
  if (name === 'localnet') return null;
  return SOLANA_CLUSTERS[name] ?? name;
}

export interface SiwsExpectations extends SignInExpectations {
  /** Allowed clusters as CAIP-2 references (genesis-hash prefixes); the first is assumed when the message names none. */
  clusters: readonly string[];
}

/** A 64-byte signature in base58 (what Solana wallets print) or base64 (padded or not). */
function decodeSignature(signature: string): Uint8Array | null {
  for (const decode of [
    (s: string) => base58.decode(s),
    (s: string) => base64.decode(s.padEnd(Math.ceil(s.length / 4) * 4, '=')),
  ]) {
    try {
      const bytes = decode(signature);
      if (bytes.length === 64) return bytes;
    } catch {
      // try the next encoding
    }
  }
  return null;
}

/**
 * The eight small-order points of edwards25519 (RFC 8032 does not forbid them as public keys, and
 * OpenSSL accepts them): with such a key, R = identity and S = 0 "verifies" any message.
 */
const SMALL_ORDER_KEYS = new Set([
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  // The same points with the sign bit set (non-canonical x = 0), accepted by lenient decoders.
  '0100000000000000000000000000000000000000000000000000000000000080',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
]);

/** True for a key whose y coordinate is not below the field prime (a non-canonical encoding). */
function isNonCanonicalY(key: Uint8Array): boolean {
  const y = Buffer.from(key);
  y[31]! &= 0x7f;
  // p = 2^255 - 19: y >= p iff y is 2^255-19 .. 2^255-1, i.e. bytes ed..ff ff..ff 7f.
  if (y[31] !== 0x7f) return false;
  for (let i = 30; i >= 1; i--) if (y[i] !== 0xff) return false;
  return y[0]! >= 0xed;
}

/**
 * Verifies a signed Sign-In with Solana message: every signed field against the server's
 * expectations, then the Ed25519 signature (base58 or base64, 64 bytes) over the message's UTF-8 bytes.
 */
export function verifySiwsMessage(options: { message: string; signature: string; expected: SiwsExpectations }): VerifiedSignIn {
  const message = parseSiwsMessage(options.message);
  checkSignedFields(message, options.expected, {
    domain: 'SIWS_DOMAIN_MISMATCH',
    uri: 'SIWS_URI_MISMATCH',
    chain: 'SIWS_CHAIN_NOT_ALLOWED',
    nonce: 'SIWS_NONCE_INVALID',
    expired: 'SIWS_EXPIRED',
    notYetValid: 'SIWS_NOT_YET_VALID',
  });
  const reference = solanaReference(message.chainId, options.expected.clusters[0] ?? SOLANA_CLUSTERS.mainnet!);
  if (reference === null || !options.expected.clusters.includes(reference)) throw new LatchkeyError('SIWS_CHAIN_NOT_ALLOWED');
  const signature = typeof options.signature === 'string' ? decodeSignature(options.signature) : null;
  if (!signature) throw new LatchkeyError('SIWS_SIGNATURE_INVALID');
  const publicKey = base58.decode(message.address);
  if (SMALL_ORDER_KEYS.has(Buffer.from(publicKey).toString('hex')) || isNonCanonicalY(publicKey)) {
    throw new LatchkeyError('SIWS_SIGNATURE_INVALID');
  }
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(base58.decode(message.address)).toString('base64url') },
    format: 'jwk',
  });
  if (!verify(null, Buffer.from(options.message, 'utf8'), key, signature)) throw new LatchkeyError('SIWS_SIGNATURE_INVALID');
  const verified: VerifiedSignIn = { message, account: `solana:${reference}:${message.address}`, signer: 'eoa' };
  if (message.expirationTime !== undefined) verified.expiresAt = toMillis(message.expirationTime);
  return verified;
}
