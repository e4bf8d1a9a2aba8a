import { describe, expect, it } from 'vitest';
import { toHex } from './encoding.js';
import { generateP256KeyPair } from './p256.js';
import { type RegistrationClaims, registrationPayload, signRegistration, verifyRegistration } from './registration.js';

const device = generateP256KeyPair();
const claims: RegistrationClaims = {
  version: 1,
  purpose: 'latchkey-session-key-registration',
  challenge: 'lkch_3mJr7AoUXx2Wqd',
  publicKey: toHex(device.publicKey),
  scope: 'read-only',
};

describe('session-key registration proof', () => {
  it('signs the canonical JSON of the five claims', () => {
    expect(new TextDecoder().decode(registrationPayload({ ...claims, extra: 1 } as RegistrationClaims))).toBe(
      `{"challenge":"lkch_3mJr7AoUXx2Wqd","publicKey":"${claims.publicKey}","purpose":"latchkey-session-key-registration","scope":"read-only","version":1}`,
    );
  });

  it('verifies with a raw scalar and with a non-extractable WebCrypto key', async () => {
    const { challenge, publicKey, scope } = claims;
    expect(verifyRegistration(claims, await signRegistration(device.privateKey, { challenge, publicKey, scope }))).toBe(true);
    const pair = await globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const webPublicKey = toHex(new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', pair.publicKey)));
    const signature = await signRegistration(pair.privateKey, { challenge, publicKey: webPublicKey, scope });
    expect(signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(verifyRegistration({ ...claims, publicKey: webPublicKey }, signature)).toBe(true);
  });

  it('fails when any field is altered, for another key, or for a malformed signature', async () => {
    const { challenge, publicKey, scope } = claims;
    const signature = await signRegistration(device.privateKey, { challenge, publicKey, scope });
    const altered: Partial<Record<keyof RegistrationClaims, unknown>> = {
      version: 2,
      purpose: 'latchkey-login',
      challenge: 'lkch_other',
      publicKey: toHex(generateP256KeyPair().publicKey),
      scope: 'read-write',
    };
    for (const [name, value] of Object.entries(altered)) {
      expect(verifyRegistration({ ...claims, [name]: value } as RegistrationClaims, signature), name).toBe(false);
    }
    expect(verifyRegistration({ ...claims, scope: 'admin' } as unknown as RegistrationClaims, signature)).toBe(false);
    expect(verifyRegistration({ ...claims, publicKey: 'zz' }, signature)).toBe(false);
    expect(
      verifyRegistration(claims, await signRegistration(generateP256KeyPair().privateKey, { challenge, publicKey, scope })),
    ).toBe(false);
    expect(verifyRegistration(claims, `${signature}A`)).toBe(false);
    expect(verifyRegistration(claims, signature.slice(0, 43))).toBe(false);
  });
});
