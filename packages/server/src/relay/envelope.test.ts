import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ENVELOPES, type MessageEvent, parseEnvelope, parseJoin, payloadSize, sequenced } from './envelope.js';

const EVENTS: MessageEvent[] = ['connected_uuid', 'request', 'response'];
const uuid = '0b6f3c1e-2d4a-4e8b-9c7d-5a1f2e3d4c5b';

/** A small seeded PRNG (mulberry32), so a failure names a case that reproduces. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('envelopes', () => {
  it('the fast path and the zod schema give the same answer, over thousands of mutated envelopes', () => {
    const random = prng(20260101);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const alphabet = 'ABCxyz019-_+/= .é';
    const text = (length: number): string => Array.from({ length }, () => pick([...alphabet])).join('');
    const values = (): unknown =>
      pick([
        () => text(Math.floor(random() * 9)),
        () => 'A'.repeat(pick([1, 2, 3, 4, 5, 255, 256, 257, 512, 513])),
        () => uuid,
        () => uuid.toUpperCase(),
        () => randomUUID().replace(/^(.{14})4/, '$11'),
        () => pick([0, 1, null, true, [], {}, ['A']]),
      ])();
    const keys = ['uuid', 'publicKey', 'nonce', 'data', 'seq', 'extra', '__proto__'];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const event = pick(EVENTS);
      const base: Record<string, unknown> =
        event === 'connected_uuid'
          ? { uuid, publicKey: 'AAAA', nonce: 'BBBB', data: 'CCCC' }
          : { uuid, nonce: 'BBBB', data: 'CCCC' };
      const mutations = Math.floor(random() * 3);
      for (let m = 0; m < mutations; m++) {
        const key = pick(keys);
        if (random() < 0.3) delete base[key];
        else base[key] = values();
      }
      // Through JSON, as socket.io hands payloads over (a "__proto__" key becomes an own property).
      const payload = JSON.parse(JSON.stringify(base).replace('"extra"', random() < 0.1 ? '"__proto__"' : '"extra"')) as unknown;
      const fast = parseEnvelope(event, payload, 1_000_000).ok;
      const zod = ENVELOPES[event].safeParse(payload).success;
      expect(fast, `${event} ${JSON.stringify(payload)}`).toBe(zod);
      if (fast) accepted += 1;
    }
    // Both answers occur often enough for the comparison to mean something.
    expect(accepted).toBeGreaterThan(1000);
    expect(accepted).toBeLessThan(19_000);
  });

  it('counts the size before anything else, and copies only known fields into what is forwarded', () => {
    const envelope = { uuid, nonce: 'AAAA', data: 'B'.repeat(100) };
    expect(payloadSize(envelope)).toBe(36 + 4 + 100);
    expect(parseEnvelope('request', envelope, 140)).toEqual({ ok: true, value: envelope });
    expect(parseEnvelope('request', envelope, 139)).toMatchObject({ ok: false, code: 'RELAY_PAYLOAD_TOO_LARGE' });
    // Oversized and malformed at once: too large wins, so a huge payload is never scanned.
    expect(parseEnvelope('request', { ...envelope, data: 42, pad: 'x'.repeat(200) }, 139)).toMatchObject({
      code: 'RELAY_PAYLOAD_TOO_LARGE',
    });
    expect(sequenced({ uuid, publicKey: 'PK', nonce: undefined, data: 'D' } as never, 7)).toEqual({
      uuid,
      publicKey: 'PK',
      data: 'D',
      seq: 7,
    });
  });

  it('joins: role, rejoin key 16-64 base64url characters, optional expiresAt and lastSeq', () => {
    const good = { uuid, role: 'wallet', rejoinKey: 'k'.repeat(16) };
    expect(parseJoin(good)).toEqual({ ok: true, value: good });
    expect(parseJoin({ ...good, rejoinKey: 'k'.repeat(64), expiresAt: 1, lastSeq: 0 }).ok).toBe(true);
    for (const bad of [
      { ...good, rejoinKey: 'k'.repeat(15) },
      { ...good, rejoinKey: 'k'.repeat(65) },
      { ...good, rejoinKey: `${'k'.repeat(16)}=` },
      { ...good, role: 'both' },
      { ...good, lastSeq: 1.5 },
      { ...good, expiresAt: 0 },
      { ...good, uuid: uuid.replace('4e8b', '1e8b') },
      { ...good, more: 1 },
    ]) {
      expect(parseJoin(bad)).toMatchObject({ ok: false, code: 'RELAY_ENVELOPE_INVALID' });
    }
  });
});
