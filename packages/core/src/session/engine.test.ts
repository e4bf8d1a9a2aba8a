import { describe, expect, it } from 'vitest';
import { ManualClock } from '../runtime.js';
import type { StoredEntry } from '../store/contract.js';
import { MemoryStore } from '../store/memory.js';
import { parseToken } from '../tokens/secret.js';
import { Latchkey } from './engine.js';

const ALICE = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const DATA_KEYS = { current: 'k1', keys: { k1: Buffer.alloc(32, 3).toString('base64') } };

describe('engine behaviour beyond the store contract', () => {
  it('audits failed validations of a real session id at most once a minute, and counts every one', async () => {
    const clock = new ManualClock();
    const latchkey = new Latchkey({ store: new MemoryStore(), clock, cleanupIntervalSeconds: 0 });
    const a = await latchkey.createSession({ account: ALICE, authMethod: 'api' });
    const other = parseToken('session', (await latchkey.createSession({ account: ALICE, authMethod: 'api' })).token)!.secret;
    const forged = `lks_${a.session.id}.${other}`;
    for (let i = 0; i < 20; i++) expect(await latchkey.validateSession(forged)).toEqual({ valid: false, code: 'TOKEN_INVALID' });
    clock.advance(60_000);
    await latchkey.validateSession(forged);
    const audited = (await latchkey.queryAudit({ limit: 1000 })).filter((e) => e.type === 'validation_failed');
    expect(audited).toHaveLength(2);
    expect((await latchkey.getSessionStats()).counters.validationFailed).toBe(21);
  });

  it('grants nothing for role names that exist on every object', async () => {
    const latchkey = new Latchkey({
      store: new MemoryStore(),
      cleanupIntervalSeconds: 0,
      defaults: { roles: { member: ['read:x'] } },
    });
    const issued = await latchkey.createSession({
      account: ALICE,
      authMethod: 'api',
      roles: ['toString', '__proto__', 'constructor', 'member'],
    });
    const result = await latchkey.validateSession(issued.token);
    expect(result.valid && result.session.permissions).toEqual(['read:x']);
  });

  it('records a revocation for access-token verifiers before deleting, and deletes nothing if it cannot', async () => {
    class NoRevocations extends MemoryStore {
      isBroken = false;
      override async putEntry(appId: string, namespace: string, entry: StoredEntry, now: number): Promise<void> {
        if (this.isBroken && namespace === 'revoked-sessions') throw new Error('store node down');
        return super.putEntry(appId, namespace, entry, now);
      }
    }
    const store = new NoRevocations();
    const latchkey = new Latchkey({
      store,
      cleanupIntervalSeconds: 0,
      dataKeys: DATA_KEYS,
      defaults: { accessTokens: { audience: 'api', revocationCheck: true } },
    });
    const issued = await latchkey.createSession({ account: ALICE, authMethod: 'api' });
    store.isBroken = true;
    await expect(latchkey.revokeSession(issued.token)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(latchkey.invalidateAllWalletSessions(ALICE)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect((await latchkey.validateSession(issued.token)).valid).toBe(true);
    store.isBroken = false;
    expect(await latchkey.revokeSession(issued.token)).toBe(true);
    expect((await store.listEntries('default', 'revoked-sessions', Date.now())).map((e) => e.key)).toEqual([issued.session.id]);
    latchkey.close();
  });

  it('stores no session when its access token cannot be minted', async () => {
    class NoKeys extends MemoryStore {
      override async listEntries(appId: string, namespace: string, now: number): Promise<StoredEntry[]> {
        if (namespace === 'signing-keys') throw new Error('store node down');
        return super.listEntries(appId, namespace, now);
      }
    }
    const store = new NoKeys();
    const latchkey = new Latchkey({
      store,
      cleanupIntervalSeconds: 0,
      dataKeys: DATA_KEYS,
      defaults: { accessTokens: { audience: 'api' } },
    });
    await expect(latchkey.createSession({ account: ALICE, authMethod: 'api' })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    expect((await store.readStats('default', Date.now())).active).toBe(0);
  });

  it('does not echo an app id that is not one', async () => {
    const latchkey = new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0 });
    await expect(latchkey.validateSession('x', { appId: '<script>' })).rejects.toMatchObject({
      code: 'APP_UNKNOWN',
      message: 'Unknown app.',
    });
    await expect(latchkey.validateSession('x', { appId: 'shop' })).rejects.toMatchObject({ message: 'Unknown app "shop".' });
  });
});
