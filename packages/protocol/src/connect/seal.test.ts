import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../encoding.js';
import { ConnectError } from './errors.js';
import { deriveChannelKey, generateConnectKeyPair } from './keys.js';
import { decryptConnectPayload, encryptConnectPayload } from './seal.js';
import { randomChannelId } from './uri.js';

function pair() {
  const uuid = randomChannelId();
  const dapp = generateConnectKeyPair();
  const wallet = generateConnectKeyPair();
  const dappKey = deriveChannelKey({ role: 'dapp', privateKey: dapp.privateKey, peerPublicKey: wallet.publicKey, uuid });
  const walletKey = deriveChannelKey({ role: 'wallet', privateKey: wallet.privateKey, peerPublicKey: dapp.publicKey, uuid });
  return { uuid, dapp, wallet, dappKey, walletKey };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConnectError) return e.code;
    throw e;
  }
  return 'none';
}

describe('channel key and payload encryption', () => {
  it('gives both sides the same key and opens what the other sealed', () => {
    const { uuid, dappKey, walletKey } = pair();
    expect(dappKey).toEqual(walletKey);
    const sealed = encryptConnectPayload(walletKey, { event: 'response', uuid }, { id: uuid, result: '0xabc' });
    expect(decryptConnectPayload(dappKey, { event: 'response', uuid }, sealed)).toEqual({ id: uuid, result: '0xabc' });
  });

  it('derives another key for another channel or another peer key', () => {
    const { uuid, dapp, wallet, dappKey } = pair();
    const otherChannel = deriveChannelKey({
      role: 'dapp',
      privateKey: dapp.privateKey,
      peerPublicKey: wallet.publicKey,
      uuid: randomChannelId(),
    });
    const swapped = deriveChannelKey({
      role: 'dapp',
      privateKey: dapp.privateKey,
      peerPublicKey: generateConnectKeyPair().publicKey,
      uuid,
    });
    expect(otherChannel).not.toEqual(dappKey);
    expect(swapped).not.toEqual(dappKey);
  });

  it('uses a fresh 24-byte nonce every time', () => {
    const { uuid, walletKey } = pair();
    const nonces = new Set(
      Array.from({ length: 50 }, () => encryptConnectPayload(walletKey, { event: 'request', uuid }, 1).nonce),
    );
    expect(nonces.size).toBe(50);
    for (const n of nonces) expect(fromBase64Url(n).length).toBe(24);
  });

  it('refuses any altered byte of data or nonce with one fixed error', () => {
    const { uuid, dappKey, walletKey } = pair();
    const sealed = encryptConnectPayload(walletKey, { event: 'connected_uuid', uuid }, { hello: 'world' });
    const data = fromBase64Url(sealed.data);
    for (let i = 0; i < data.length; i += 7) {
      const altered = data.slice();
      altered[i]! ^= 0x01;
      expect(
        code(() => decryptConnectPayload(dappKey, { event: 'connected_uuid', uuid }, { ...sealed, data: toBase64Url(altered) })),
      ).toBe('CONNECT_DECRYPT_FAILED');
    }
    const nonce = fromBase64Url(sealed.nonce);
    nonce[0]! ^= 0x80;
    expect(
      code(() => decryptConnectPayload(dappKey, { event: 'connected_uuid', uuid }, { ...sealed, nonce: toBase64Url(nonce) })),
    ).toBe('CONNECT_DECRYPT_FAILED');
    expect(code(() => decryptConnectPayload(dappKey, { event: 'connected_uuid', uuid }, { ...sealed, data: 'AAAA' }))).toBe(
      'CONNECT_DECRYPT_FAILED',
    );
  });

  it('binds the event and the channel: a sealed payload opens nowhere else', () => {
    const { uuid, dappKey, walletKey } = pair();
    const sealed = encryptConnectPayload(walletKey, { event: 'response', uuid }, { id: uuid, result: 1 });
    expect(code(() => decryptConnectPayload(dappKey, { event: 'connected_uuid', uuid }, sealed))).toBe('CONNECT_DECRYPT_FAILED');
    expect(code(() => decryptConnectPayload(dappKey, { event: 'request', uuid }, sealed))).toBe('CONNECT_DECRYPT_FAILED');
    expect(code(() => decryptConnectPayload(dappKey, { event: 'response', uuid: randomChannelId() }, sealed))).toBe(
      'CONNECT_DECRYPT_FAILED',
    );
  });

  it('refuses a low-order peer key instead of deriving from a zero secret', () => {
    const { uuid, dapp } = pair();
    expect(
      code(() => deriveChannelKey({ role: 'dapp', privateKey: dapp.privateKey, peerPublicKey: new Uint8Array(32), uuid })),
    ).toBe('CONNECT_DECRYPT_FAILED');
  });

  it('round-trips any JSON value (property check over random payloads)', () => {
    const { uuid, dappKey, walletKey } = pair();
    for (let i = 0; i < 100; i++) {
      const value = {
        n: Math.floor(Math.random() * 1e9),
        s: Array.from({ length: i }, () => String.fromCodePoint(32 + Math.floor(Math.random() * 0x2000))).join(''),
        a: [null, true, i / 3],
      };
      const sealed = encryptConnectPayload(dappKey, { event: 'request', uuid }, value);
      expect(decryptConnectPayload(walletKey, { event: 'request', uuid }, sealed)).toEqual(value);
    }
  });
});
