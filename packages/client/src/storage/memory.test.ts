import { describe, expect, it } from 'vitest';
import { generateSessionKeyPair } from '../keys/webcrypto.js';
import { defaultStorage, IndexedDbStorage, MemoryStorage } from './index.js';

describe('MemoryStorage', () => {
  it('hands out copies of JSON values and the same CryptoKey objects (non-extractable keys stay usable)', async () => {
    const storage = new MemoryStorage();
    const pair = await generateSessionKeyPair();
    const value = { a: [1, { b: 'x' }], key: pair.privateKey };
    await storage.set('k', value);
    value.a.push(2);
    const read = (await storage.get('k')) as { a: unknown[]; key: CryptoKey };
    expect(read.a).toEqual([1, { b: 'x' }]);
    expect(read.key).toBe(pair.privateKey);
    expect(read.key.extractable).toBe(false);
    (read.a as unknown[]).push(3);
    expect(((await storage.get('k')) as { a: unknown[] }).a).toEqual([1, { b: 'x' }]);
    await storage.delete('k');
    expect(await storage.get('k')).toBeUndefined();
  });

  it('is the default where there is no IndexedDB (Node)', () => {
    expect(IndexedDbStorage.isAvailable()).toBe(false);
    expect(defaultStorage()).toBeInstanceOf(MemoryStorage);
  });
});
