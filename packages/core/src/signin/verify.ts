import { LatchkeyError } from '../errors/index.js';
import { type SignInMessage, toMillis } from './message.js';

/** The codes one sign-in family answers with, so Ethereum and Solana share the checks. */
export interface SignInCodes {
  domain: 'SIWE_DOMAIN_MISMATCH' | 'SIWS_DOMAIN_MISMATCH';
  uri: 'SIWE_URI_MISMATCH' | 'SIWS_URI_MISMATCH';
  chain: 'SIWE_CHAIN_NOT_ALLOWED' | 'SIWS_CHAIN_NOT_ALLOWED';
  nonce: 'SIWE_NONCE_INVALID' | 'SIWS_NONCE_INVALID';
  expired: 'SIWE_EXPIRED' | 'SIWS_EXPIRED';
  notYetValid: 'SIWE_NOT_YET_VALID' | 'SIWS_NOT_YET_VALID';
}

/** What the server expects of every signed field: its own state, never the request's. */
export interface SignInExpectations {
  /** The RFC 3986 authority the message must name (`app.example.com`, `localhost:3000`). */
  domain: string;
  /** The origin the message's URI must have (`https://app.example.com`). */
  origin: string;
  /** The nonce the server issued (and has already consumed). */
  nonce: string;
  /** Milliseconds since the epoch. */
  now: number;
  /** Tolerated clock difference between wallet and server, in ms. */
  clockSkewMs: number;
}

/** Origin of an absolute URI, or null for one without a web origin. */
function originOf(uri: string): string | null {
  try {
    const origin = new URL(uri).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

/**
 * Checks every signed field but the signature and the chain (which each family checks itself):
 * domain, URI origin, nonce, and the time bounds with the allowed skew. The expiration bound is
 * exclusive: a message is expired AT its Expiration Time.
 */
export function checkSignedFields(message: SignInMessage, expected: SignInExpectations, codes: SignInCodes): void {
  if (message.domain !== expected.domain) throw new LatchkeyError(codes.domain);
  if (message.scheme !== undefined && originOf(`${message.scheme}://${message.domain}`) !== expected.origin)
    throw new LatchkeyError(codes.domain);
  if (originOf(message.uri) !== expected.origin) throw new LatchkeyError(codes.uri);
  if (message.nonce !== expected.nonce) throw new LatchkeyError(codes.nonce);
  const { now, clockSkewMs } = expected;
  if (toMillis(message.issuedAt) > now + clockSkewMs) throw new LatchkeyError(codes.notYetValid);
  if (message.notBefore !== undefined && toMillis(message.notBefore) > now + clockSkewMs)
    throw new LatchkeyError(codes.notYetValid);
  if (message.expirationTime !== undefined && now - clockSkewMs >= toMillis(message.expirationTime))
    throw new LatchkeyError(codes.expired);
}

/** Rejects after `ms` with the given error unless `work` settles first. */
export async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
