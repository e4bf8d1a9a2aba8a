import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core';

/**
 * RFC 9180 base mode (mode 0) in the spec's words: SetupBaseS gives the encapsulated key and a
 * context that seals, SetupBaseR a context that opens. The suite is a value, so the published vectors
 * run through exactly this code with their own suites.
 */

/** DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM: the credential-bundle suite. */
export const P256_SHA256_AES256GCM: CipherSuite = new CipherSuite({
  kem: new DhkemP256HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

export interface HpkeSender {
  /** The encapsulated key (for P-256: the 65-byte uncompressed ephemeral public key). */
  readonly enc: Uint8Array;
  seal(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}

export interface HpkeRecipient {
  open(ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}

/**
 * SetupBaseS(pkR, info). `ephemeral` fixes the sender's key pair; only tests reproducing published
 * vectors pass it (RFC 9180 derives it from `ikmE`).
 */
export async function setupBaseSender(
  suite: CipherSuite,
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  ephemeral?: CryptoKeyPair,
): Promise<HpkeSender> {
  const recipient = await suite.kem.deserializePublicKey(recipientPublicKey);
  const context = await suite.createSenderContext({
    recipientPublicKey: recipient,
    info,
    ...(ephemeral === undefined ? {} : { ekm: ephemeral }),
  });
  return {
    enc: new Uint8Array(context.enc),
    seal: async (plaintext, aad) => new Uint8Array(await context.seal(plaintext, aad)),
  };
}

/** SetupBaseR(enc, skR, info). */
export async function setupBaseRecipient(
  suite: CipherSuite,
  recipientPrivateKey: Uint8Array,
  enc: Uint8Array,
  info: Uint8Array,
): Promise<HpkeRecipient> {
  const recipientKey = await suite.kem.deserializePrivateKey(recipientPrivateKey);
  const context = await suite.createRecipientContext({ recipientKey, enc, info });
  return { open: async (ciphertext, aad) => new Uint8Array(await context.open(ciphertext, aad)) };
}
