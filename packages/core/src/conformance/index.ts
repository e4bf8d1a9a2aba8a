import { afterAll, describe } from 'vitest';
import { ManualClock } from '../runtime.js';
import type { LatchkeyOptions } from '../session/config.js';
import { Latchkey } from '../session/engine.js';
import type { Store } from '../store/contract.js';
import { durabilityCases } from './durability.js';
import { entryCases } from './entries.js';
import { DATA_KEYS, SETTINGS, type SuiteContext } from './fixtures.js';
import type { StoreHarness } from './harness.js';
import { recordCases } from './records.js';
import { refreshCases } from './refresh.js';
import { sessionCases } from './sessions.js';

export type { StoreHarness } from './harness.js';

/**
 * The behaviour every Store must show, exercised through the engine and directly. Run it from a
 * store package's test file: `describeStoreConformance(harness)`.
 */
export function describeStoreConformance<S extends Store>(harness: StoreHarness<S>): void {
  const opened: Store[] = [];
  const context: SuiteContext<S> = {
    harness,
    opened,
    async setup(options: Partial<LatchkeyOptions> = {}) {
      const store = await harness.open();
      opened.push(store);
      const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
      const engine = new Latchkey({
        store,
        clock,
        defaults: SETTINGS,
        dataKeys: DATA_KEYS,
        cleanupIntervalSeconds: 0,
        ...options,
      });
      return { store, clock, engine };
    },
  };
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
    await harness.teardown?.();
  });

  describe(`store conformance: ${harness.name}`, () => {
    sessionCases(context);
    refreshCases(context);
    recordCases(context);
    entryCases(context);
    durabilityCases(context);
  });
}
