import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors/index.js';
import { MemoryStore } from '../store/memory.js';
import { Latchkey } from './engine.js';

const store = new MemoryStore();

function configError(make: () => unknown): LatchkeyError {
  try {
    make();
  } catch (e) {
    if (e instanceof LatchkeyError) return e;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('engine configuration', () => {
  it('applies the documented defaults', () => {
    const s = new Latchkey({ store, cleanupIntervalSeconds: 0 }).settings();
    expect(s).toMatchObject({
      idleTimeoutMs: 2 * 3600_000,
      absoluteLifetimeMs: 7 * 24 * 3600_000,
      refreshWindowMs: 30 * 60_000,
      refreshGraceMs: 30_000,
      maxSessionsPerWallet: 10,
      limitPolicy: 'evict-oldest',
    });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it.each([
    [{ defaults: { idleTimeoutSeconds: -1 } }, 'defaults.idleTimeoutSeconds'],
    [{ defaults: { idleTimeoutSeconds: 10, absoluteLifetimeSeconds: 5 } }, 'defaults.idleTimeoutSeconds'],
    [{ defaults: { limitPolicy: 'drop' } }, 'defaults.limitPolicy'],
    [{ defaults: { roles: { admin: ['everything'] } } }, 'defaults.roles.admin.0'],
    [{ defaults: { unknownOption: 1 } }, 'defaults'],
    [{ apps: { 'Bad App': {} } }, 'apps.Bad App'],
    [{ apps: { shop: { maxSessionsPerWallet: 0 } } }, 'apps.shop.maxSessionsPerWallet'],
    [{ dataKeys: { current: 'k1', keys: { k1: 'c2hvcnQ' } } }, undefined],
    [{ dataKeys: { current: 'k2', keys: { k1: Buffer.alloc(32).toString('base64') } } }, undefined],
    [{ cleanupIntervalSeconds: -5 }, 'cleanupIntervalSeconds'],
  ])('refuses %j at construction, naming the option', (options, field) => {
    const e = configError(() => new Latchkey({ store, cleanupIntervalSeconds: 0, ...(options as object) }));
    expect(e.code).toBe('CONFIG_INVALID');
    if (field) expect(e.field).toBe(field);
  });

  it('refuses a missing store', () => {
    expect(configError(() => new Latchkey({} as never)).field).toBe('store');
  });

  it('answers an unknown app with APP_UNKNOWN', async () => {
    const engine = new Latchkey({ store, cleanupIntervalSeconds: 0 });
    await expect(engine.validateSession('x', { appId: 'nope' })).rejects.toMatchObject({ code: 'APP_UNKNOWN' });
  });

  it.each([
    [{ account: 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', authMethod: 'SIWE!' }, 'authMethod'],
    [{ account: 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', authMethod: 'siwe', scope: 'admin' }, 'scope'],
    [
      { account: 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', authMethod: 'siwe', device: { ip: 'not-an-ip' } },
      'device.ip',
    ],
    [{ account: 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', authMethod: 'siwe', extra: 1 }, 'input'],
    [{ authMethod: 'siwe' }, 'account'],
    [
      { account: 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', authMethod: 'siwe', data: { big: 'x'.repeat(20_000) } },
      'data',
    ],
  ])('answers bad createSession input %j with VALIDATION_FAILED naming %s, storing nothing', async (input, field) => {
    const fresh = new MemoryStore();
    const engine = new Latchkey({
      store: fresh,
      cleanupIntervalSeconds: 0,
      dataKeys: { current: 'k', keys: { k: Buffer.alloc(32).toString('base64') } },
    });
    await expect(engine.createSession(input as never)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field });
    expect((await fresh.readStats('default', Date.now())).active).toBe(0);
  });

  it('refuses session data when no keys are configured', async () => {
    const engine = new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0 });
    await expect(
      engine.createSession({
        account: 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
        authMethod: 'siwe',
        data: { a: 1 },
      }),
    ).rejects.toMatchObject({ code: 'ENCRYPTION_KEY_MISSING' });
  });
});

describe('apps added at run time', () => {
  it('validates them like configured apps and serves them at once', async () => {
    const engine = new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0, defaults: { maxSessionsPerWallet: 3 } });
    expect(() => engine.addApp('Bad App')).toThrow(LatchkeyError);
    expect(() => engine.addApp('shop', { idleTimeoutSeconds: -1 })).toThrow(/apps\.shop\.idleTimeoutSeconds/);
    await expect(engine.validateSession('x', { appId: 'shop' })).rejects.toMatchObject({ code: 'APP_UNKNOWN' });
    expect(engine.addApp('shop', { limitPolicy: 'reject' })).toMatchObject({ maxSessionsPerWallet: 3, limitPolicy: 'reject' });
    expect(engine.appIds().sort()).toEqual(['default', 'shop']);
    const issued = await engine.createSession({
      appId: 'shop',
      account: 'eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
      authMethod: 'api',
    });
    expect((await engine.validateSession(issued.token, { appId: 'shop' })).valid).toBe(true);
  });
});
