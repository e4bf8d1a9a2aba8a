import { randomBytes } from 'node:crypto';
import {
  bodyDigest,
  createStamp,
  formatStampHeader,
  generateP256KeyPair,
  openCredentialBundle,
  parseStampHeader,
  toHex,
} from '@latchkey/protocol';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../runtime.js';
import { Latchkey } from '../session/engine.js';
import { MemoryStore } from '../store/memory.js';
import { keyNamespace, newSessionKeyId, nonceNamespace, sessionIdOfKey } from './record.js';

const ACCOUNT = 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045';
const T0 = Date.UTC(2026, 0, 1, 12);

async function setup(options: { defaults?: ConstructorParameters<typeof Latchkey>[0]['defaults'] } = {}) {
  const store = new MemoryStore();
  const clock = new ManualClock(T0);
  const latchkey = new Latchkey({
    store,
    clock,
    cleanupIntervalSeconds: 0,
    ...(options.defaults ? { defaults: options.defaults } : {}),
  });
  const issued = await latchkey.createSession({ account: ACCOUNT, authMethod: 'api' });
  return { store, clock, latchkey, issued, session: issued.session };
}

async function makeKey(
  latchkey: Latchkey,
  session: Parameters<Latchkey['sessionKeys']['create']>[0]['session'],
  ttlSeconds?: number,
) {
  const target = generateP256KeyPair();
  const created = await latchkey.sessionKeys.create({
    session,
    scope: 'read-write',
    targetPublicKey: toHex(target.publicKey),
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
  });
  const privateKey = await openCredentialBundle(created.credentialBundle!, target.privateKey);
  return { ...created.sessionKey, privateKey };
}

function request(
  clock: ManualClock,
  key: { id: string; privateKey: Uint8Array },
  options: { nonce?: string; now?: number } = {},
) {
  return createStamp(
    key.privateKey,
    key.id,
    { method: 'GET', path: '/v1/things?x=1' },
    { now: options.now ?? clock.now(), ...(options.nonce ? { nonce: options.nonce } : {}) },
  );
}

/** The stamp with its signature replaced. */
function withSignature(header: string, signature: Uint8Array): string {
  return formatStampHeader({ ...parseStampHeader(header), signature });
}

describe('latchkey.sessionKeys', () => {
  it('resolves per-app settings with defaults, and refuses a default TTL above the maximum', () => {
    const { latchkey } = { latchkey: new Latchkey({ store: new MemoryStore(), cleanupIntervalSeconds: 0 }) };
    expect(latchkey.settings().sessionKeys).toEqual({
      isStampRequired: false,
      ttlMs: 900_000,
      maxTtlMs: 86_400_000,
      maxLiveKeys: 20,
      skewMs: 60_000,
      rotationGraceMs: 300_000,
    });
    expect(
      () => new Latchkey({ store: new MemoryStore(), defaults: { sessionKeys: { ttlSeconds: 7200, maxTtlSeconds: 3600 } } }),
    ).toThrow(/defaults\.sessionKeys\.ttlSeconds/);
    expect(() => new Latchkey({ store: new MemoryStore(), defaults: { sessionKeys: { skew: 1 } as never } })).toThrow(
      /CONFIG_INVALID|sessionKeys/,
    );
  });

  it('issues key ids that carry their session, and verifies a stamp in one read and one nonce write', async () => {
    const { latchkey, clock, session, store } = await setup();
    const key = await makeKey(latchkey, session);
    expect(sessionIdOfKey(key.id)).toBe(session.id);
    expect(sessionIdOfKey(`lksk_${'1'.repeat(44)}`)).not.toBe(session.id);
    const calls: string[] = [];
    for (const method of ['listEntries', 'getEntry', 'addEntry', 'getSession', 'validateSession', 'putEntry'] as const) {
      const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
      (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        calls.push(method);
        return original(...args);
      };
    }
    const header = await request(clock, key);
    const input = { sessionId: session.id, method: 'GET', path: '/v1/things?x=1', bodyDigest: bodyDigest(null), header };
    expect(await latchkey.sessionKeys.verifyStamp(input)).toEqual({
      valid: true,
      keyId: key.id,
      sessionId: session.id,
      scope: 'read-write',
      expiresAt: key.expiresAt,
      isKeyExpired: false,
    });
    expect(calls.sort()).toEqual(['addEntry', 'getEntry']);
    expect(await latchkey.sessionKeys.verifyStamp(input)).toEqual({ valid: false, code: 'SIGNATURE_REPLAYED' });
  });

  it('spends the nonce before it looks at the signature', async () => {
    const { latchkey, clock, session } = await setup();
    const key = await makeKey(latchkey, session);
    const nonce = 'AAAAAAAAAAAAAAAAAAAAAA';
    const good = await request(clock, key, { nonce });
    const base = { sessionId: session.id, method: 'GET', path: '/v1/things?x=1', bodyDigest: bodyDigest(null) };
    expect(await latchkey.sessionKeys.verifyStamp({ ...base, path: '/v1/other', header: good })).toEqual({
      valid: false,
      code: 'SIGNATURE_INVALID',
    });
    expect(await latchkey.sessionKeys.verifyStamp({ ...base, header: good })).toEqual({
      valid: false,
      code: 'SIGNATURE_REPLAYED',
    });
  });

  it('writes a replay entry only for a stamp by an existing, usable key of the session, still before the signature', async () => {
    const { latchkey, clock, session, store } = await setup();
    const key = await makeKey(latchkey, session, 60);
    const base = { sessionId: session.id, method: 'GET', path: '/v1/things?x=1', bodyDigest: bodyDigest(null) };
    const nonces = () => store.listEntries('default', nonceNamespace(session.id), clock.now());
    // Key ids that name the caller's session, but no key: nothing is written, however many.
    for (let i = 0; i < 50; i++) {
      const header = formatStampHeader({
        version: 1,
        keyId: newSessionKeyId(session.id, randomBytes(16)),
        timestamp: clock.now(),
        nonce: randomBytes(16).toString('base64url'),
        signature: new Uint8Array(64),
      });
      expect(await latchkey.sessionKeys.verifyStamp({ ...base, header })).toEqual({
        valid: false,
        code: 'SESSION_KEY_NOT_FOUND',
      });
    }
    // Nor for a stale stamp, or a write by a read-only key.
    expect(
      await latchkey.sessionKeys.verifyStamp({ ...base, header: await request(clock, key, { now: clock.now() - 61_000 }) }),
    ).toEqual({
      valid: false,
      code: 'SIGNATURE_STALE',
    });
    expect(await nonces()).toEqual([]);
    // A stamp by the key with a bad signature spends its nonce all the same: consumed before the signature is checked.
    const forged = withSignature(await request(clock, key), new Uint8Array(64).fill(1));
    expect(await latchkey.sessionKeys.verifyStamp({ ...base, header: forged })).toEqual({
      valid: false,
      code: 'SIGNATURE_INVALID',
    });
    expect(await nonces()).toHaveLength(1);
    // An expired key writes nothing either (outside rotation).
    clock.advance(60_000);
    expect(await latchkey.sessionKeys.verifyStamp({ ...base, header: await request(clock, key) })).toMatchObject({
      code: 'SESSION_KEY_EXPIRED',
    });
    expect(await nonces()).toHaveLength(1);
  });

  it('checks in the documented order and answers values, never exceptions', async () => {
    const { latchkey, clock, session, store } = await setup();
    const key = await makeKey(latchkey, session, 60);
    const base = { sessionId: session.id, method: 'POST', path: '/v1/things?x=1', bodyDigest: bodyDigest(null) };
    const verify = async (header: string, extra: Record<string, unknown> = {}) =>
      latchkey.sessionKeys.verifyStamp({ ...base, method: 'GET', header, ...extra });
    expect(await verify('v=1')).toEqual({ valid: false, code: 'SIGNATURE_MALFORMED' });
    // Expired beats stale: the client is told to make a new key, with the expiry.
    const staleOfExpired = await request(clock, key, { now: clock.now() - 120_000 });
    clock.advance(60_000);
    expect(await verify(staleOfExpired)).toEqual({ valid: false, code: 'SESSION_KEY_EXPIRED', expiresAt: key.expiresAt });
    // For rotation an expired key passes, and says so.
    expect(await verify(await request(clock, key), { allowExpiredKey: true })).toMatchObject({ valid: true, isKeyExpired: true });
    expect(await verify(staleOfExpired, { allowExpiredKey: true })).toEqual({ valid: false, code: 'SIGNATURE_STALE' });
    // A read-only key on a write, unless the caller says the request changes nothing.
    const viewerTarget = generateP256KeyPair();
    const viewer = await latchkey.sessionKeys.create({
      session,
      scope: 'read-only',
      targetPublicKey: toHex(viewerTarget.publicKey),
    });
    const viewerKey = {
      id: viewer.sessionKey.id,
      privateKey: await openCredentialBundle(viewer.credentialBundle!, viewerTarget.privateKey),
    };
    const post = await createStamp(viewerKey.privateKey, viewerKey.id, { method: 'POST', path: base.path }, { now: clock.now() });
    expect(await latchkey.sessionKeys.verifyStamp({ ...base, header: post })).toEqual({ valid: false, code: 'SCOPE_READ_ONLY' });
    const post2 = await createStamp(
      viewerKey.privateKey,
      viewerKey.id,
      { method: 'POST', path: base.path },
      { now: clock.now() },
    );
    expect(await latchkey.sessionKeys.verifyStamp({ ...base, header: post2, isWrite: false })).toMatchObject({
      valid: true,
      scope: 'read-only',
    });
    // Revoked beats everything after it.
    expect(await latchkey.sessionKeys.revoke({ account: ACCOUNT, keyId: viewerKey.id })).toBe(true);
    expect(await latchkey.sessionKeys.revoke({ account: ACCOUNT, keyId: viewerKey.id })).toBe(false);
    const old = await createStamp(
      viewerKey.privateKey,
      viewerKey.id,
      { method: 'POST', path: base.path },
      { now: clock.now() - 600_000 },
    );
    expect(await latchkey.sessionKeys.verifyStamp({ ...base, header: old })).toEqual({
      valid: false,
      code: 'SESSION_KEY_REVOKED',
    });
    // A store that cannot answer is never a pass.
    await store.close();
    expect(await verify(await request(clock, key), { allowExpiredKey: true })).toEqual({
      valid: false,
      code: 'STORE_UNAVAILABLE',
    });
  });

  it('drops the keys of sessions that end by eviction or refresh-token reuse', async () => {
    const { latchkey, clock, store, issued } = await setup({ defaults: { maxSessionsPerWallet: 1 } });
    const key = await makeKey(latchkey, issued.session);
    const ns = keyNamespace(issued.session.id);
    expect(await store.listEntries('default', ns, clock.now())).toHaveLength(1);
    const next = await latchkey.createSession({ account: ACCOUNT, authMethod: 'api' });
    expect(await store.listEntries('default', ns, clock.now())).toEqual([]);
    expect(await latchkey.sessionKeys.list({ account: ACCOUNT })).toEqual([]);
    expect(key.id).toMatch(/^lksk_/);

    await makeKey(latchkey, next.session);
    await latchkey.refreshSession(next.refreshToken);
    clock.advance(31_000);
    await expect(latchkey.refreshSession(next.refreshToken)).rejects.toMatchObject({ code: 'REFRESH_TOKEN_REUSED' });
    expect(await store.listEntries('default', keyNamespace(next.session.id), clock.now())).toEqual([]);
  });

  it("keeps a session's key namespace small however often keys rotate", async () => {
    const { latchkey, clock, store, session } = await setup();
    for (let i = 0; i < 30; i++) {
      await makeKey(latchkey, session, 60);
      clock.advance(61_000);
    }
    const stored = await store.listEntries('default', keyNamespace(session.id), clock.now());
    expect(stored.length).toBeLessThanOrEqual(9);
    // The newest retired one still answers why it fails.
    expect(stored.length).toBeGreaterThan(0);
  });
});
