import { describe, expect, it } from 'vitest';
import { ManualScheduler, systemScheduler } from './scheduler.js';
import { TokenBucket } from './token-bucket.js';

describe('relay time', () => {
  it('the system scheduler runs a task at its time, and never once cancelled', async () => {
    const ran: string[] = [];
    const start = systemScheduler.now();
    systemScheduler.at(start + 30, () => ran.push('due'));
    systemScheduler.at(start + 30, () => ran.push('cancelled')).cancel();
    systemScheduler.at(start - 1000, () => ran.push('past'));
    await new Promise((r) => setTimeout(r, 80));
    expect(ran).toEqual(['past', 'due']);
  });

  it('the manual scheduler runs due tasks in time order when moved, including ones they schedule', () => {
    const time = new ManualScheduler(1000);
    const ran: number[] = [];
    time.at(1300, () => ran.push(1300));
    time.at(1100, () => {
      ran.push(1100);
      time.at(1200, () => ran.push(1200));
    });
    time.at(1400, () => ran.push(1400)).cancel();
    time.set(1299);
    expect(ran).toEqual([1100, 1200]);
    time.advance(1);
    expect(ran).toEqual([1100, 1200, 1300]);
    expect(time.pending).toBe(0);
  });

  it('a token bucket allows its burst, then refills at its rate, never past the burst', () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 3, now: 0 });
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.take(99)).toBe(false);
    expect(bucket.take(100)).toBe(true);
    expect([bucket.take(10_000), bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });
});
