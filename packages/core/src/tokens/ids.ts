import { createHash } from 'node:crypto';
import type { RandomSource } from '../runtime.js';
import { bytesToHex } from '../runtime.js';

/**
 * Session ids are 32 lowercase hex characters: an 8-character wallet tag followed by 96 random
 * bits. The tag is derived from (appId, subject), so every session of one wallet carries the same
 * tag; the Redis store uses it as the hash tag that keeps a wallet's keys in one Cluster slot.
 * Ids are public, not secret.
 */
export const SESSION_ID_PATTERN = /^[0-9a-f]{32}$/;

export function walletTag(appId: string, subject: string): string {
  return createHash('sha256').update(`latchkey/wallet-tag/v1|${appId}|${subject}`).digest('hex').slice(0, 8);
}

export function newSessionId(appId: string, subject: string, random: RandomSource): string {
  return walletTag(appId, subject) + bytesToHex(random.bytes(12));
}

/** The wallet tag carried by a session id. */
export function sessionIdTag(id: string): string {
  return id.slice(0, 8);
}
