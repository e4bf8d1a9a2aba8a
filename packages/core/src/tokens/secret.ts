import { createHash, timingSafeEqual } from 'node:crypto';
import { base58 } from '@scure/base';
import type { RandomSource } from '../runtime.js';
import { SESSION_ID_PATTERN } from './ids.js';

/**
 * Bearer tokens are `<prefix>_<session id>.<secret>`: the prefix says what the token is (and lets
 * secret scanners find leaked ones), the id finds the session in one lookup, and the secret is
 * 256 bits from a CSPRNG in base58, so a token is one double-clickable word. Only
 * `hashSecret(secret)` is ever stored.
 */
export const TOKEN_PREFIX = {
  session: 'lks',
  refresh: 'lkr',
} as const;

export type TokenKind = keyof typeof TOKEN_PREFIX;

const SECRET_BYTES = 32;
const SECRET_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{40,46}$/;

export interface ParsedToken {
  id: string;
  secret: string;
}

export function newSecret(random: RandomSource): string {
  return base58.encode(random.bytes(SECRET_BYTES));
}

export function formatToken(kind: TokenKind, id: string, secret: string): string {
  return `${TOKEN_PREFIX[kind]}_${id}.${secret}`;
}

/** Splits a token of the given kind; null for anything that is not exactly that shape. */
export function parseToken(kind: TokenKind, token: unknown): ParsedToken | null {
  if (typeof token !== 'string' || token.length > 128) return null;
  const prefix = TOKEN_PREFIX[kind];
  if (!token.startsWith(prefix) || token[prefix.length] !== '_') return null;
  const dot = token.indexOf('.', prefix.length + 1);
  if (dot < 0) return null;
  const id = token.slice(prefix.length + 1, dot);
  const secret = token.slice(dot + 1);
  if (!SESSION_ID_PATTERN.test(id) || !SECRET_PATTERN.test(secret)) return null;
  return { id, secret };
}

/** SHA-256 of the secret, base64url. Enough for 256-bit random secrets (no salt or stretching needed). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** Constant-time comparison of two hashes produced by `hashSecret`. */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
