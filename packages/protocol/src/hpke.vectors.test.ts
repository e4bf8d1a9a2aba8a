import { readFileSync } from 'node:fs';
import {
  type AeadEncryptionContext,
  AeadId,
  type AeadInterface,
  Aes128Gcm,
  Aes256Gcm,
  CipherSuite,
  DhkemP256HkdfSha256,
  DhkemX25519HkdfSha256,
  HkdfSha256,
} from '@hpke/core';
import { chacha20poly1305 } from '@noble/ciphers/chacha';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './encoding.js';
import { type HpkeRecipient, type HpkeSender, P256_SHA256_AES256GCM, setupBaseRecipient, setupBaseSender } from './hpke.js';

// RFC 9180 Appendix A vectors, checked in with their sources: test/vectors/README.md.
interface Encryption {
  seq: number;
  aad: string;
  ct: string;
  pt: string;
  nonce: string;
}
interface Vector {
  mode: 0 | 2;
  kem_id: number;
  aead_id: number;
  info: string;
  ikmE?: string;
  ikmR?: string;
  skEm?: string;
  pkEm?: string;
  skRm: string;
  pkRm: string;
  skSm?: string;
  pkSm?: string;
  enc: string;
  encryptions: Encryption[];
  exports?: { exporter_context: string; L: number; exported_value: string }[];
}
const { vectors } = JSON.parse(
  readFileSync(new URL('../../../test/vectors/hpke-rfc9180-subset.json', import.meta.url), 'utf8'),
) as {
  vectors: Vector[];
};

/** ChaCha20-Poly1305 (AEAD 0x0003) from @noble/ciphers: @hpke/core ships only the AES-GCM AEADs. */
class ChaCha20Poly1305 implements AeadInterface {
  readonly id = AeadId.Chacha20Poly1305;
  readonly keySize = 32;
  readonly nonceSize = 12;
  readonly tagSize = 16;
  createEncryptionContext(key: ArrayBufferLike | ArrayBufferView): AeadEncryptionContext {
    const k = bytesOf(key);
    return {
      seal: async (iv, data, aad) => copy(chacha20poly1305(k, bytesOf(iv), bytesOf(aad)).encrypt(bytesOf(data))),
      open: async (iv, data, aad) => copy(chacha20poly1305(k, bytesOf(iv), bytesOf(aad)).decrypt(bytesOf(data))),
    };
  }
}
const bytesOf = (b: ArrayBufferLike | ArrayBufferView): Uint8Array =>
  ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
const copy = (b: Uint8Array): ArrayBuffer => b.slice().buffer;

/** The bundle suite itself for its own vector; the other suites are built the same way. */
function suiteOf(v: Vector): CipherSuite {
  if (v.kem_id === 0x10 && v.aead_id === 2) return P256_SHA256_AES256GCM;
  const kem = v.kem_id === 0x10 ? new DhkemP256HkdfSha256() : new DhkemX25519HkdfSha256();
  const aead = v.aead_id === 1 ? new Aes128Gcm() : v.aead_id === 2 ? new Aes256Gcm() : new ChaCha20Poly1305();
  return new CipherSuite({ kem, kdf: new HkdfSha256(), aead });
}

/** The sender's ephemeral key pair: DeriveKeyPair(ikmE) when the vector has it, else skEm/pkEm. */
async function ephemeralOf(suite: CipherSuite, v: Vector): Promise<CryptoKeyPair> {
  if (v.ikmE !== undefined) return suite.kem.deriveKeyPair(fromHex(v.ikmE));
  return {
    privateKey: await suite.kem.deserializePrivateKey(fromHex(v.skEm!)),
    publicKey: await suite.kem.deserializePublicKey(fromHex(v.pkEm!)),
  };
}

/**
 * Seals seq 0..max on the sender and opens them in order on the recipient, so the listed sequence
 * numbers (0, 1, 2, 4, 255, 256) are reached; unlisted ones carry a filler. Returns how many listed
 * ciphertexts were both reproduced and opened.
 */
async function runSequence(v: Vector, sender: HpkeSender, recipient: HpkeRecipient): Promise<number> {
  const listed = new Map(v.encryptions.map((e) => [e.seq, e]));
  const last = Math.max(...listed.keys());
  let asserted = 0;
  for (let seq = 0; seq <= last; seq++) {
    const e = listed.get(seq);
    const aad = e ? fromHex(e.aad) : utf8(`filler-${seq}`);
    const ct = await sender.seal(e ? fromHex(e.pt) : utf8('filler'), aad);
    if (e) expect(toHex(ct)).toBe(e.ct);
    const pt = await recipient.open(e ? fromHex(e.ct) : ct, aad);
    if (e) {
      expect(toHex(pt)).toBe(e.pt);
      asserted++;
    }
  }
  return asserted;
}

const name = (v: Vector): string => `mode ${v.mode}, KEM 0x${v.kem_id.toString(16)}, AEAD 0x${v.aead_id.toString(16)}`;
const base = vectors.filter((v) => v.mode === 0);
const auth = vectors.filter((v) => v.mode === 2);

describe('RFC 9180 vectors', () => {
  it('has the expected subset: 6 base-mode and 5 auth-mode entries, 4 of them with DHKEM(P-256)', () => {
    expect(base).toHaveLength(6);
    expect(auth).toHaveLength(5);
    expect(vectors.filter((v) => v.kem_id === 0x10)).toHaveLength(5);
  });

  // Base mode goes through setupBaseSender / setupBaseRecipient, the code the credential bundles use.
  it.each(base.map((v) => [name(v), v] as const))('%s: the bundle code path reproduces enc and ct and opens ct', async (_, v) => {
    const suite = suiteOf(v);
    const info = fromHex(v.info);
    const sender = await setupBaseSender(suite, fromHex(v.pkRm), info, await ephemeralOf(suite, v));
    expect(toHex(sender.enc)).toBe(v.enc);
    const recipient = await setupBaseRecipient(suite, fromHex(v.skRm), fromHex(v.enc), info);
    expect(await runSequence(v, sender, recipient)).toBe(v.encryptions.length);
  });

  // Latchkey never uses auth mode; these check the HPKE library itself with the sender's static key.
  it.each(auth.map((v) => [name(v), v] as const))(
    '%s: @hpke/core reproduces and opens every encryption and export',
    async (_, v) => {
      const suite = suiteOf(v);
      const info = fromHex(v.info);
      const senderKey = {
        privateKey: await suite.kem.deserializePrivateKey(fromHex(v.skSm!)),
        publicKey: await suite.kem.deserializePublicKey(fromHex(v.pkSm!)),
      };
      const s = await suite.createSenderContext({
        recipientPublicKey: await suite.kem.deserializePublicKey(fromHex(v.pkRm)),
        senderKey,
        info,
        ekm: await ephemeralOf(suite, v),
      });
      expect(toHex(new Uint8Array(s.enc))).toBe(v.enc);
      const r = await suite.createRecipientContext({
        recipientKey: await suite.kem.deserializePrivateKey(fromHex(v.skRm)),
        enc: fromHex(v.enc),
        senderPublicKey: senderKey.publicKey,
        info,
      });
      const sender: HpkeSender = { enc: new Uint8Array(s.enc), seal: async (p, a) => new Uint8Array(await s.seal(p, a)) };
      const recipient: HpkeRecipient = { open: async (c, a) => new Uint8Array(await r.open(c, a)) };
      expect(await runSequence(v, sender, recipient)).toBe(v.encryptions.length);
      for (const x of v.exports ?? []) {
        expect(toHex(new Uint8Array(await r.export(fromHex(x.exporter_context), x.L)))).toBe(x.exported_value);
      }
    },
  );

  it('covers 27 encryptions and 6 exports: 6 encryptions through the bundle code path, the rest through auth mode', () => {
    expect(base.reduce((n, v) => n + v.encryptions.length, 0)).toBe(6);
    expect(auth.reduce((n, v) => n + v.encryptions.length, 0)).toBe(21);
    expect(auth.reduce((n, v) => n + (v.exports?.length ?? 0), 0)).toBe(6);
  });
});
