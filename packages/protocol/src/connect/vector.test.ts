import { readFileSync } from 'node:fs';
import { ed25519, x25519 } from '@noble/curves/ed25519';
import { hkdf } from '@noble/hashes/hkdf';
import { sha256 } from '@noble/hashes/sha2';
import { base58 } from '@scure/base';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../canonical.js';
import { fromHex, toBase64Url, toHex, utf8 } from '../encoding.js';
import { connectPublicKey, deriveChannelKey } from './keys.js';
import { connectAad, decryptConnectPayload, encryptConnectPayload } from './seal.js';
import { createSessionToken, decodeSessionToken, type SessionTokenClaims, sessionTokenMessage } from './token.js';
import { formatConnectUri, parseConnectUri } from './uri.js';
import { verifySessionToken } from './verify.js';

// The published vector of docs/connect-protocol.md §15, read from the document itself so doc and code never drift.
const doc = readFileSync(new URL('../../../../docs/connect-protocol.md', import.meta.url), 'utf8');
const block = /<!-- connect-test-vector -->\s*```json\n([\s\S]*?)\n```/.exec(doc);
if (!block) throw new Error('docs/connect-protocol.md: no connect-test-vector block');
interface TokenVector {
  claims: SessionTokenClaims;
  claimsJson: string;
  message: string;
  signature: string;
  sessionToken: string;
}
const v = JSON.parse(block[1]!) as {
  uuid: string;
  relay: string;
  channelExpiresAt: number;
  uri: string;
  dappPrivateKey: string;
  dappPublicKey: string;
  walletPrivateKey: string;
  walletPublicKey: string;
  sharedSecret: string;
  hkdfSalt: string;
  hkdfInfo: string;
  channelKey: string;
  sealed: { event: 'connected_uuid'; aad: string; nonceHex: string; plaintext: string; nonce: string; data: string };
  eip155: TokenVector & { privateKey: `0x${string}` };
  solana: TokenVector & { seed: string };
};

describe('docs/connect-protocol.md test vector', () => {
  const dappSk = fromHex(v.dappPrivateKey);
  const walletSk = fromHex(v.walletPrivateKey);

  it('X25519 keys and shared secret (RFC 7748 §6.1)', () => {
    expect(toHex(connectPublicKey(dappSk))).toBe(v.dappPublicKey);
    expect(toHex(connectPublicKey(walletSk))).toBe(v.walletPublicKey);
    expect(toHex(x25519.getSharedSecret(dappSk, fromHex(v.walletPublicKey)))).toBe(v.sharedSecret);
    expect(v.sharedSecret).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  });

  it('channel key: HKDF-SHA256 with the documented salt and info, the same from both sides', () => {
    expect(toHex(utf8('latchkey-connect-v1'))).toBe(v.hkdfSalt);
    expect(v.hkdfInfo).toBe(toHex(utf8(v.uuid)) + v.dappPublicKey + v.walletPublicKey);
    expect(toHex(hkdf(sha256, fromHex(v.sharedSecret), fromHex(v.hkdfSalt), fromHex(v.hkdfInfo), 32))).toBe(v.channelKey);
    const fromDapp = deriveChannelKey({
      role: 'dapp',
      privateKey: dappSk,
      peerPublicKey: fromHex(v.walletPublicKey),
      uuid: v.uuid,
    });
    const fromWallet = deriveChannelKey({
      role: 'wallet',
      privateKey: walletSk,
      peerPublicKey: fromHex(v.dappPublicKey),
      uuid: v.uuid,
    });
    expect(toHex(fromDapp)).toBe(v.channelKey);
    expect(toHex(fromWallet)).toBe(v.channelKey);
  });

  it('URI', () => {
    expect(
      formatConnectUri({ uuid: v.uuid, relay: v.relay, dappPublicKey: fromHex(v.dappPublicKey), expiresAt: v.channelExpiresAt }),
    ).toBe(v.uri);
    const parsed = parseConnectUri(v.uri, { now: v.channelExpiresAt - 1 });
    expect(toHex(parsed.dappPublicKey)).toBe(v.dappPublicKey);
    expect(parsed).toMatchObject({ uuid: v.uuid, relay: v.relay, expiresAt: v.channelExpiresAt });
  });

  it('sealed message: XChaCha20-Poly1305 with the documented AAD', () => {
    const key = fromHex(v.channelKey);
    const context = { event: v.sealed.event, uuid: v.uuid };
    expect(new TextDecoder().decode(connectAad(context))).toBe(v.sealed.aad);
    expect(toBase64Url(fromHex(v.sealed.nonceHex))).toBe(v.sealed.nonce);
    const payload = JSON.parse(v.sealed.plaintext);
    expect(JSON.stringify(payload)).toBe(v.sealed.plaintext); // the exact plaintext bytes are what is sealed
    expect(encryptConnectPayload(key, context, payload, { nonce: fromHex(v.sealed.nonceHex) })).toEqual({
      nonce: v.sealed.nonce,
      data: v.sealed.data,
    });
    expect(decryptConnectPayload(key, context, v.sealed)).toEqual(payload);
    expect(payload.sessionToken).toBe(v.eip155.sessionToken);
  });

  it.each(['eip155', 'solana'] as const)(
    '%s session token: canonical claims, signed text, signature, token string',
    async (chain) => {
      const t = v[chain];
      expect(canonicalize(t.claims)).toBe(t.claimsJson);
      expect(sessionTokenMessage(t.claims)).toBe(t.message);
      const { v: _version, ...claims } = t.claims;
      const sign =
        chain === 'eip155'
          ? (message: string) => privateKeyToAccount(v.eip155.privateKey).signMessage({ message })
          : async (message: string) => ed25519.sign(utf8(message), fromHex(v.solana.seed));
      expect(await createSessionToken(claims, sign)).toBe(t.sessionToken);
      const decoded = decodeSessionToken(t.sessionToken);
      expect(toHex(decoded.signature)).toBe(t.signature);
      expect(decoded.claims).toEqual(t.claims);
      const verified = await verifySessionToken(t.sessionToken, {
        now: t.claims.issuedAt,
        expected: {
          uuid: v.uuid,
          relay: v.relay,
          dappPublicKey: fromHex(v.dappPublicKey),
          walletPublicKey: fromHex(v.walletPublicKey),
        },
      });
      expect(verified.address).toBe(
        chain === 'eip155'
          ? privateKeyToAccount(v.eip155.privateKey).address
          : base58.encode(ed25519.getPublicKey(fromHex(v.solana.seed))),
      );
    },
  );
});
