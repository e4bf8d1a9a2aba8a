import { describe, expect, it } from 'vitest';
import { ConnectError } from './index.js';
import { ReplayWindow } from './replay-window.js';

function code(fn: () => void): string {
  try {
    fn();
    return 'admitted';
  } catch (e) {
    return (e as ConnectError).code;
  }
}

describe('ReplayWindow', () => {
  const T = 1_767_225_000_000;

  it('admits a timestamp exactly at the window edge, either way, and refuses one past it', () => {
    const w = new ReplayWindow(60_000);
    expect(code(() => w.admit('a', T - 60_000, T))).toBe('admitted');
    expect(code(() => w.admit('b', T + 60_000, T))).toBe('admitted');
    expect(code(() => w.admit('c', T - 60_001, T))).toBe('CONNECT_REQUEST_STALE');
    expect(code(() => w.admit('d', T + 60_001, T))).toBe('CONNECT_REQUEST_STALE');
  });

  it('checks the time alone with the same edges, for a request that waited its turn', () => {
    const w = new ReplayWindow(60_000);
    w.admit('a', T, T);
    expect(code(() => w.checkFresh('a', T, T + 60_000))).toBe('admitted');
    expect(code(() => w.checkFresh('a', T, T + 60_001))).toBe('CONNECT_REQUEST_STALE');
    expect(code(() => w.admit('a', T, T + 60_000))).toBe('CONNECT_REQUEST_REPLAYED'); // still remembered while fresh
  });

  it('refuses an id it has seen, with the request id on the error', () => {
    const w = new ReplayWindow(60_000);
    w.admit('a', T, T);
    let error: unknown;
    try {
      w.admit('a', T, T + 10);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: 'CONNECT_REQUEST_REPLAYED', requestId: 'a' });
  });

  it('forgets ids once their timestamp can no longer pass, so memory is bounded by one window', () => {
    const w = new ReplayWindow(60_000);
    for (let i = 0; i < 100; i++) w.admit(`id-${i}`, T + i * 1000, T + i * 1000);
    expect(w.size).toBe(61); // ids 39..99: the ones whose timestamp is still within the window
    w.admit('late', T + 200_000, T + 200_000);
    expect(w.size).toBe(1);
    // A forgotten id cannot come back: its timestamp is stale by then.
    expect(code(() => w.admit('id-0', T, T + 200_000))).toBe('CONNECT_REQUEST_STALE');
  });
});
