import { LatchkeyError } from '../errors/index.js';
import type { ManualClock } from '../runtime.js';
import type { AppSettingsInput, LatchkeyOptions } from '../session/config.js';
import type { Latchkey } from '../session/engine.js';
import type { Store } from '../store/contract.js';
import type { StoreHarness } from './harness.js';

export const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
export const ALICE_CHECKSUMMED = 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';
export const BOB = 'eip155:1:0x71c7656ec7ab88b098defb751b7401b5f6d8976f';
export const SOL = 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy';

export const MIN = 60_000;
export const SETTINGS: AppSettingsInput = {
  idleTimeoutSeconds: 600,
  absoluteLifetimeSeconds: 3600,
  refreshWindowSeconds: 120,
  activityThrottleSeconds: 60,
  refreshGraceSeconds: 30,
  maxSessionsPerWallet: 5,
  roles: { admin: ['*'], member: ['read:sessions', 'write:profile'] },
};
export const DATA_KEYS = { current: 'k1', keys: { k1: Buffer.alloc(32, 1).toString('base64url') } };

/** The LatchkeyError a promise rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<LatchkeyError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof LatchkeyError) return error;
    throw error;
  }
  throw new Error('expected a LatchkeyError, got a result');
}

/** What each group of conformance cases gets: the harness, and a fresh engine over a fresh store. */
export interface SuiteContext<S extends Store> {
  harness: StoreHarness<S>;
  /** Stores to close after the suite. */
  opened: Store[];
  setup(options?: Partial<LatchkeyOptions>): Promise<{ store: S; clock: ManualClock; engine: Latchkey }>;
}
