// Second, independent implementation of docs/connect-protocol.md: vector + interop through the real relay.
import { readFileSync } from 'node:fs';
import { ConnectDapp, type ConnectError, type ConnectSession, ConnectWallet, ethereumSigner } from '@latchkey/client/connect';
import { Latchkey, MemoryStore } from '@latchkey/core';
import { createServer } from '@latchkey/server';
import { ed25519, x25519 } from '@noble/curves/ed25519';
import type { FastifyInstance } from 'fastify';
import { type Hex, hashTypedData, recoverAddress, recoverTransactionAddress, toHex, verifyMessage, verifyTypedData } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deriveChannelKey, HKDF_SALT, hkdfInfo, isLowOrderPublicKey, open, seal, sharedSecret } from './crypto.js';
import { IndependentDapp } from './dapp.js';
import { b58Encode, b64uDecode, b64uEncode, bytesToHex, hexToBytes } from './encoding.js';
import type { IndependentConnectError } from './errors.js';
import { type Claims, createSessionToken, decodeSessionToken, sessionTokenMessage, verifySessionToken } from './token.js';
import { formatConnectUri, normalizeRelayUrl, parseConnectUri, randomUuid, relaySocketTarget } from './uri.js';
import { IndependentWallet } from './wallet.js';

const DOC = new URL('../../../../docs/connect-protocol.md', import.meta.url);

interface VectorToken {
  claims: Claims;
  claimsJson: string;
  message: string;
  signature: string;
  sessionToken: string;
}
interface Vector {
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
  eip155: VectorToken & { privateKey: `0x${string}` };
  solana: VectorToken & { seed: string };
}

function loadVector(): Vector {
  const text = readFileSync(DOC, 'utf8');
  const m = /<!-- connect-test-vector -->\s*```json\n([\s\S]*?)\n```/.exec(text);
  if (!m?.[1]) throw new Error('vector block not found');
  return JSON.parse(m[1]) as Vector;
}

const V = loadVector();
const errCode = async (p: Promise<unknown> | (() => unknown)): Promise<string | undefined> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as IndependentConnectError).code;
  }
  return undefined;
};

describe('independent implementation: published test vector (§15)', () => {
  it('X25519 keys, shared secret, HKDF inputs and channel key', () => {
    const dPriv = hexToBytes(V.dappPrivateKey);
    const wPriv = hexToBytes(V.walletPrivateKey);
    const dPub = x25519.getPublicKey(dPriv);
    const wPub = x25519.getPublicKey(wPriv);
    expect(bytesToHex(dPub)).toBe(V.dappPublicKey);
    expect(bytesToHex(wPub)).toBe(V.walletPublicKey);
    const z1 = sharedSecret(dPriv, wPub);
    const z2 = sharedSecret(wPriv, dPub);
    expect(z1 && bytesToHex(z1)).toBe(V.sharedSecret);
    expect(z2 && bytesToHex(z2)).toBe(V.sharedSecret);
    expect(bytesToHex(HKDF_SALT)).toBe(V.hkdfSalt);
    expect(bytesToHex(hkdfInfo(V.uuid, dPub, wPub))).toBe(V.hkdfInfo);
    expect(hkdfInfo(V.uuid, dPub, wPub).length).toBe(100);
    expect(bytesToHex(deriveChannelKey(z1 as Uint8Array, V.uuid, dPub, wPub))).toBe(V.channelKey);
  });

  it('URI formats and parses byte for byte', () => {
    const pk = b64uEncode(hexToBytes(V.dappPublicKey));
    expect(pk).toBe(V.eip155.claims.dappPublicKey);
    const uri = formatConnectUri({ uuid: V.uuid, relay: V.relay, pk, exp: V.channelExpiresAt / 1000 });
    expect(uri).toBe(V.uri);
    const parsed = parseConnectUri(V.uri, V.channelExpiresAt - 60_000);
    expect(parsed).toMatchObject({ uuid: V.uuid, relay: V.relay, pk, exp: V.channelExpiresAt / 1000 });
    expect(bytesToHex(parsed.pkBytes)).toBe(V.dappPublicKey);
  });

  it('seals and opens the published message', () => {
    const key = hexToBytes(V.channelKey);
    const s = V.sealed;
    expect(`latchkey-connect-v1:${s.event}:${V.uuid}`).toBe(s.aad);
    const sealed = seal(key, s.event, V.uuid, s.plaintext, hexToBytes(s.nonceHex));
    expect(sealed.nonce).toBe(s.nonce);
    expect(sealed.data).toBe(s.data);
    expect(new TextDecoder().decode(open(key, s.event, V.uuid, s.nonce, s.data))).toBe(s.plaintext);
    // The plaintext is exactly JSON.stringify of the §8.1 payload in this member order.
    expect(JSON.stringify({ sessionToken: V.eip155.sessionToken, address: V.eip155.claims.address, chainType: 'eip155' })).toBe(
      s.plaintext,
    );
    // Wrong event / channel / altered byte fail.
    expect(() => open(key, 'response', V.uuid, s.nonce, s.data)).toThrow(/decrypted/);
    expect(() => open(key, s.event, '5f0c6a2e-8b1d-4c3a-9e7f-2a4b6c8d0e10', s.nonce, s.data)).toThrow();
    const flipped = `${s.data[0] === 'A' ? 'B' : 'A'}${s.data.slice(1)}`;
    expect(() => open(key, s.event, V.uuid, s.nonce, flipped)).toThrow();
  });

  it('eip155 session token: JCS claims, message, EIP-191 signature, token string, verification', async () => {
    const t = V.eip155;
    const account = privateKeyToAccount(t.privateKey);
    expect(account.address).toBe(t.claims.address);
    expect(sessionTokenMessage(t.claims)).toBe(t.message);
    const token = await createSessionToken(t.claims, { chainType: 'eip155', account });
    expect(token).toBe(t.sessionToken);
    const decoded = decodeSessionToken(token);
    expect(bytesToHex(decoded.signature)).toBe(t.signature);
    expect(new TextDecoder().decode(b64uDecode(token.split('.')[1] ?? '') ?? new Uint8Array())).toBe(t.claimsJson);
    const expected = {
      uuid: V.uuid,
      relay: V.relay,
      dappPublicKey: t.claims.dappPublicKey,
      walletPublicKey: t.claims.walletPublicKey,
      chainType: 'eip155' as const,
      address: t.claims.address.toLowerCase(),
    };
    const now = t.claims.issuedAt + 1000;
    await expect(verifySessionToken(token, expected, now)).resolves.toEqual(t.claims);
    expect(await errCode(verifySessionToken(token, { ...expected, walletPublicKey: 'x'.repeat(43) }, now))).toBe(
      'CONNECT_KEY_MISMATCH',
    );
    expect(await errCode(verifySessionToken(token, { ...expected, relay: 'https://other.example' }, now))).toBe(
      'CONNECT_SESSION_TOKEN_INVALID',
    );
    expect(await errCode(verifySessionToken(token, expected, t.claims.expiresAt))).toBe('CONNECT_SESSION_TOKEN_EXPIRED');
    expect(await errCode(verifySessionToken(token, expected, t.claims.issuedAt - 60_001))).toBe('CONNECT_SESSION_TOKEN_INVALID');
    // Non-canonical JSON middle segment (whitespace) is refused even though its claims are fine.
    const loose = `lkc1.${b64uEncode(new TextEncoder().encode(JSON.stringify(t.claims, null, 1)))}.${token.split('.')[2]}`;
    expect(await errCode(() => decodeSessionToken(loose))).toBe('CONNECT_SESSION_TOKEN_INVALID');
    // A different signer over the same claims is refused at the signature step.
    const other = await createSessionToken(t.claims, {
      chainType: 'eip155',
      account: privateKeyToAccount(`0x${'11'.repeat(32)}`),
    });
    expect(await errCode(verifySessionToken(other, expected, now))).toBe('CONNECT_SESSION_TOKEN_INVALID');
  });

  it('solana session token: message, Ed25519 signature, token string, verification', async () => {
    const t = V.solana;
    const seed = hexToBytes(t.seed);
    expect(b58Encode(ed25519.getPublicKey(seed))).toBe(t.claims.address);
    expect(sessionTokenMessage(t.claims)).toBe(t.message);
    const token = await createSessionToken(t.claims, { chainType: 'solana', seed });
    expect(token).toBe(t.sessionToken);
    expect(bytesToHex(decodeSessionToken(token).signature)).toBe(t.signature);
    await expect(verifySessionToken(token, { uuid: V.uuid }, t.claims.issuedAt)).resolves.toEqual(t.claims);
  });

  it('encoding and URI edge cases', () => {
    expect(b64uDecode('AAE=')).toBeNull();
    expect(b64uDecode('AAF')).toBeNull(); // non-zero trailing bits
    expect(b64uDecode('AAE')).not.toBeNull();
    expect(normalizeRelayUrl('HTTPS://Auth.Example.com:443/')).toBe('https://auth.example.com');
    expect(relaySocketTarget('https://example.com/auth')).toEqual({
      url: 'https://example.com/connect',
      path: '/auth/v1/relay',
    });
    expect(() => normalizeRelayUrl('http://example.com')).toThrow(/relay/);
    const now = V.channelExpiresAt - 60_000;
    const code = (u: string, at = now) => {
      try {
        parseConnectUri(u, at);
      } catch (e) {
        return [(e as IndependentConnectError).code, (e as IndependentConnectError).message];
      }
      return undefined;
    };
    expect(code(V.uri.replace('v=1', 'v=2'))).toEqual(['CONNECT_URI_INVALID', 'v: unsupported version']);
    expect(code(V.uri, V.channelExpiresAt)).toEqual(['CONNECT_URI_EXPIRED', 'exp: expired']);
    expect(code(V.uri, V.channelExpiresAt - 3_600_001)?.[0]).toBe('CONNECT_URI_INVALID');
    expect(code(V.uri.replace('auth.example.com', 'Auth.example.com'))?.[1]).toMatch(/^relay:/);
    expect(code(`${V.uri}&foo=bar`)).toBeUndefined();
    expect(code(`${V.uri}&v=1`)?.[0]).toBe('CONNECT_URI_INVALID');
    expect(code(`  ${V.uri}\n`)).toBeUndefined();
    // RFC 7748 low-order points are refused as pk.
    expect(isLowOrderPublicKey(new Uint8Array(32))).toBe(true);
    expect(isLowOrderPublicKey(hexToBytes(V.dappPublicKey))).toBe(false);
    const lowOrder = b64uEncode(new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0)));
    expect(code(V.uri.replace(/pk=[^&]+/, `pk=${lowOrder}`))).toEqual(['CONNECT_URI_INVALID', 'pk: low-order key']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Interop through the real relay: createServer({ relay: {} }) on 127.0.0.1:0.

let server: FastifyInstance;
let relay: string;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  const store = new MemoryStore();
  server = await createServer({ latchkey: new Latchkey({ store }), store, logger: false, relay: {} });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no listener address');
  relay = `http://127.0.0.1:${address.port}`;
});
afterAll(() => server.close());
afterEach(async () => {
  for (const c of closers.splice(0)) {
    try {
      await c();
    } catch {
      // already closed
    }
  }
});

const typed = {
  domain: { name: 'Interop', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
  types: {
    Person: [
      { name: 'name', type: 'string' },
      { name: 'wallet', type: 'address' },
    ],
    Mail: [
      { name: 'from', type: 'Person' },
      { name: 'to', type: 'Person' },
      { name: 'contents', type: 'string' },
    ],
  },
  primaryType: 'Mail',
  message: {
    from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' },
    to: { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' },
    contents: 'Hello, Bob!',
  },
} as const;
const tx = {
  to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  value: '0xde0b6b3a7640000',
  gas: '0x5208',
  maxFeePerGas: '0x77359400',
  maxPriorityFeePerGas: '0x3b9aca00',
  nonce: '0x7',
  chainId: '0x1',
  type: '0x2',
};

/** Their dApp, our wallet: resolves once their dApp reports session_connected. */
async function theirDappOurWallet(walletOpts: Partial<ConstructorParameters<typeof IndependentWallet>[0]> = {}) {
  const account = privateKeyToAccount(generatePrivateKey());
  const dapp = new ConnectDapp({ relay, requestTimeoutMs: 5_000 });
  closers.push(() => dapp.disconnect());
  const errors: ConnectError[] = [];
  dapp.on('error', (e) => errors.push(e));
  const connected = new Promise<ConnectSession>((r) => dapp.once('session_connected', r));
  const channel = await dapp.createChannel();
  const wallet = new IndependentWallet({ account, chainId: 1, ...walletOpts });
  closers.push(() => wallet.close());
  return { account, dapp, channel, wallet, connected, errors };
}

/** Our dApp, their wallet. */
async function ourDappTheirWallet(approve: (m: string) => boolean = () => true) {
  const account = privateKeyToAccount(generatePrivateKey());
  const dapp = new IndependentDapp({ relay, requestTimeoutMs: 5_000 });
  closers.push(() => dapp.close());
  const uri = await dapp.open();
  const wallet = new ConnectWallet();
  closers.push(() => wallet.disconnect());
  const walletErrors: ConnectError[] = [];
  wallet.on('error', (e) => walletErrors.push(e));
  wallet.onRequest((r) => approve(r.method));
  const walletSession = await wallet.connect(uri, ethereumSigner(account, { chainId: 1 }));
  const session = await dapp.waitForSession();
  return { account, dapp, wallet, walletSession, session, walletErrors, uri };
}

const waitFor = async (cond: () => boolean, ms = 5_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('interop (a): our wallet ↔ their ConnectDapp', () => {
  it('connects: session_connected carries our address and a token their side verified', async () => {
    const { account, channel, wallet, connected } = await theirDappOurWallet();
    expect(channel.uri.startsWith(`latchkey:connect?v=1&id=${channel.uuid}&relay=`)).toBe(true);
    // Their URI parses with our parser (canonical relay, exp rules).
    const parsed = parseConnectUri(channel.uri);
    expect(parsed.relay).toBe(relay);
    expect(parsed.exp * 1000).toBe(channel.expiresAt);
    const claims = await wallet.connect(channel.uri);
    const session = await connected;
    expect(session).toMatchObject({
      uuid: channel.uuid,
      relay,
      hasSessionToken: true,
      address: account.address,
      chainType: 'eip155',
      chainId: '1',
      account: `eip155:1:${account.address}`,
      sessionToken: wallet.sessionToken,
      walletPublicKey: wallet.publicKey,
      expiresAt: claims.expiresAt,
    });
  });

  it('answers their personal_sign, eth_signTypedData_v4 and eth_signTransaction; viem verifies', async () => {
    const { account, dapp, wallet, connected } = await theirDappOurWallet();
    await wallet.connect((await dapp.createChannel()).uri);
    await connected;

    const hexSig = (await dapp.request('personal_sign', [toHex('interop bytes'), account.address])) as Hex;
    expect(await verifyMessage({ address: account.address, message: 'interop bytes', signature: hexSig })).toBe(true);
    const textSig = (await dapp.request('personal_sign', ['plain text, not hex', account.address])) as Hex;
    expect(await verifyMessage({ address: account.address, message: 'plain text, not hex', signature: textSig })).toBe(true);

    const typedSig = (await dapp.request('eth_signTypedData_v4', [account.address, typed])) as Hex;
    expect(await verifyTypedData({ address: account.address, ...typed, signature: typedSig })).toBe(true);
    const typedSig2 = (await dapp.request('eth_signTypedData_v4', [account.address, JSON.stringify(typed)])) as Hex;
    expect(await recoverAddress({ hash: hashTypedData(typed), signature: typedSig2 })).toBe(account.address);

    const raw = (await dapp.request('eth_signTransaction', [{ ...tx, from: account.address }])) as Hex;
    expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(account.address);
    expect(wallet.handled.map((r) => r.method)).toEqual([
      'personal_sign',
      'personal_sign',
      'eth_signTypedData_v4',
      'eth_signTypedData_v4',
      'eth_signTransaction',
    ]);
    // Every request carried the token verbatim and a fresh uuid id.
    for (const r of wallet.handled) {
      expect(r.sessionToken).toBe(wallet.sessionToken);
      expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('their dApp reads our typed refusals (rejected, unsupported, validation) and our disconnect', async () => {
    const { account, dapp, wallet, connected } = await theirDappOurWallet({
      approve: (r) => r.method !== 'eth_signTransaction',
    });
    await wallet.connect((await dapp.createChannel()).uri);
    await connected;
    const codeOf = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return [(e as ConnectError).code, (e as ConnectError).requestId !== undefined];
      }
      return undefined;
    };
    expect(await codeOf(dapp.request('eth_signTransaction', [tx]))).toEqual(['CONNECT_REQUEST_REJECTED', true]);
    expect(await codeOf(dapp.request('eth_sendTransaction', [tx]))).toEqual(['CONNECT_METHOD_UNSUPPORTED', true]);
    expect(await codeOf(dapp.request('personal_sign', ['0x00', '0x70997970C51812dc3A010C7d01b50e0d17dc79C8']))).toEqual([
      'VALIDATION_FAILED',
      true,
    ]);
    const wrongChain = { ...typed, domain: { ...typed.domain, chainId: 5 } };
    expect(await codeOf(dapp.request('eth_signTypedData_v4', [account.address, wrongChain]))).toEqual([
      'VALIDATION_FAILED',
      true,
    ]);
    const gone = new Promise<{ reason: string }>((r) => dapp.once('disconnected', r));
    await wallet.disconnect();
    expect((await gone).reason).toBe('wallet_disconnected');
  });

  it('their dApp maps an unknown error code to INTERNAL_ERROR and takes the first of two answers (§8.3)', async () => {
    let n = 0;
    const { account, dapp, wallet, connected } = await theirDappOurWallet({
      answerHook: (req) =>
        n++ === 0
          ? [{ id: req.id, error: { code: 'SOMETHING_FROM_VERSION_1_5', message: 'new' } }]
          : [
              { id: req.id, result: 'first' },
              { id: req.id, result: 'second' },
            ],
    });
    await wallet.connect((await dapp.createChannel()).uri);
    await connected;
    await expect(dapp.request('personal_sign', ['0x01', account.address])).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
    });
    await expect(dapp.request('personal_sign', ['0x01', account.address])).resolves.toBe('first');
  });

  it('our wallet receives their encrypted disconnect notice', async () => {
    const { dapp, wallet, connected } = await theirDappOurWallet();
    await wallet.connect((await dapp.createChannel()).uri);
    await connected;
    const processed = wallet.nextProcessed();
    await dapp.disconnect();
    await processed;
    expect(wallet.ended).toBe(true);
  });
});

describe('interop (b): their ConnectWallet ↔ our dApp', () => {
  it('we decrypt connected_uuid and verify their token per §6.4', async () => {
    const { account, dapp, walletSession, session } = await ourDappTheirWallet();
    expect(session.address).toBe(account.address);
    expect(session.chainType).toBe('eip155');
    expect(session.account).toBe(`eip155:1:${account.address}`);
    expect(session.sessionToken).toBe(walletSession.sessionToken);
    expect(session.claims).toMatchObject({
      v: 1,
      uuid: dapp.uuid,
      relay,
      dappPublicKey: dapp.publicKey,
      walletPublicKey: session.walletPublicKey,
      chainId: '1',
      expiresAt: walletSession.expiresAt,
    });
    // Their default lifetime is the doc's 24 h.
    const c = session.claims as Claims;
    expect(c.expiresAt - c.issuedAt).toBe(86_400_000);
    expect(dapp.errors).toEqual([]);
  });

  it('their wallet answers our personal_sign, eth_signTypedData_v4 and eth_signTransaction; viem verifies', async () => {
    const { account, dapp } = await ourDappTheirWallet();
    const sig = (await dapp.request('personal_sign', [toHex('from the independent dApp'), account.address])) as Hex;
    expect(await verifyMessage({ address: account.address, message: 'from the independent dApp', signature: sig })).toBe(true);
    const textSig = (await dapp.request('personal_sign', ['utf-8 text ✓', account.address])) as Hex;
    expect(await verifyMessage({ address: account.address, message: 'utf-8 text ✓', signature: textSig })).toBe(true);
    const typedSig = (await dapp.request('eth_signTypedData_v4', [account.address, typed])) as Hex;
    expect(await verifyTypedData({ address: account.address, ...typed, signature: typedSig })).toBe(true);
    const typedSig2 = (await dapp.request('eth_signTypedData_v4', [account.address, JSON.stringify(typed)])) as Hex;
    expect(await verifyTypedData({ address: account.address, ...typed, signature: typedSig2 })).toBe(true);
    const raw = (await dapp.request('eth_signTransaction', [tx])) as Hex;
    expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(account.address);
    expect(dapp.errors).toEqual([]);
  });

  it('their wallet refuses per §10.2: missing token, stale, unsupported, bad params, user decline; replay unanswered', async () => {
    const { account, dapp, walletErrors } = await ourDappTheirWallet((m) => m !== 'eth_signTransaction');
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return (e as IndependentConnectError).code;
      }
      return 'resolved';
    };
    const ps = ['0x01', account.address];
    expect(await code(dapp.request('personal_sign', ps, { sessionToken: null }))).toBe('CONNECT_SESSION_TOKEN_MISSING');
    expect(await code(dapp.request('personal_sign', ps, { timestamp: Date.now() - 61_000 }))).toBe('CONNECT_REQUEST_STALE');
    expect(await code(dapp.request('personal_sign', ps, { timestamp: Date.now() + 61_000 }))).toBe('CONNECT_REQUEST_STALE');
    expect(await code(dapp.request('eth_sendTransaction', [tx]))).toBe('CONNECT_METHOD_UNSUPPORTED');
    expect(await code(dapp.request('solana_signMessage', { message: '1', pubkey: '1' }))).toBe('CONNECT_METHOD_UNSUPPORTED');
    expect(await code(dapp.request('personal_sign', ['0x01', '0x70997970C51812dc3A010C7d01b50e0d17dc79C8']))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await code(dapp.request('eth_signTransaction', [tx]))).toBe('CONNECT_REQUEST_REJECTED');
    // Replay: the same id twice. The first is answered, the copy gets no answer at all.
    const id = randomUuid();
    expect(await code(dapp.request('personal_sign', ps, { id }))).toBe('resolved');
    const before = walletErrors.length;
    expect(await code(dapp.request('personal_sign', ps, { id, timeoutMs: 1_500 }))).toBe('CONNECT_REQUEST_TIMEOUT');
    await waitFor(() => walletErrors.length > before);
    expect(walletErrors.at(-1)?.code).toBe('CONNECT_REQUEST_REPLAYED');
  });

  it('their wallet sees our encrypted disconnect notice', async () => {
    const { dapp, wallet } = await ourDappTheirWallet();
    const gone = new Promise<{ reason: string }>((r) => wallet.once('disconnected', r));
    await dapp.disconnect();
    expect((await gone).reason).toBe('dapp_disconnected');
  });
});

describe('interop (c): wrong or tampered tokens from our side are refused by theirs', () => {
  const resign = async (token: string, claims: Claims, key: Hex) =>
    createSessionToken(claims, { chainType: 'eip155', account: privateKeyToAccount(key) }).then((t) => {
      expect(t).not.toBe(token);
      return t;
    });

  it('their wallet: a token with one altered signature byte → CONNECT_SESSION_TOKEN_INVALID', async () => {
    const { dapp, account } = await ourDappTheirWallet();
    const token = dapp.session?.sessionToken as string;
    const [p, mid, sig] = token.split('.') as [string, string, string];
    const bytes = b64uDecode(sig) as Uint8Array;
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    const tampered = `${p}.${mid}.${b64uEncode(bytes)}`;
    await expect(dapp.request('personal_sign', ['0x01', account.address], { sessionToken: tampered })).rejects.toMatchObject({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
    });
  });

  it('their wallet: re-signed claims with another key, or a changed claim → CONNECT_SESSION_TOKEN_INVALID', async () => {
    const { dapp, account } = await ourDappTheirWallet();
    const token = dapp.session?.sessionToken as string;
    const claims = dapp.session?.claims as Claims;
    const byOther = await resign(token, claims, generatePrivateKey());
    await expect(dapp.request('personal_sign', ['0x01', account.address], { sessionToken: byOther })).rejects.toMatchObject({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
    });
    // Same signature, a claim edited (expiresAt + 1): canonical JSON still, but the signature no longer matches.
    const [p, , sig] = token.split('.') as [string, string, string];
    const edited = `${p}.${b64uEncode(new TextEncoder().encode(JSON.stringify(Object.fromEntries(Object.entries({ ...claims, expiresAt: claims.expiresAt + 1 }).sort(([a], [b]) => (a < b ? -1 : 1))))))}.${sig}`;
    await expect(dapp.request('personal_sign', ['0x01', account.address], { sessionToken: edited })).rejects.toMatchObject({
      code: 'CONNECT_SESSION_TOKEN_INVALID',
    });
    await expect(
      dapp.request('personal_sign', ['0x01', account.address], { sessionToken: 'lkc1.not-a-token' }),
    ).rejects.toMatchObject({ code: 'CONNECT_SESSION_TOKEN_INVALID' });
  });

  it("their wallet: another channel's valid token → CONNECT_KEY_MISMATCH (walletPublicKey is checked first)", async () => {
    const one = await ourDappTheirWallet();
    const two = await ourDappTheirWallet();
    await expect(
      one.dapp.request('personal_sign', ['0x01', one.account.address], { sessionToken: two.dapp.session?.sessionToken }),
    ).rejects.toMatchObject({ code: 'CONNECT_KEY_MISMATCH' });
  });

  it('their dApp: our connected_uuid with a forged signature → error CONNECT_SESSION_TOKEN_INVALID, no session', async () => {
    const { dapp, channel, wallet, errors } = await theirDappOurWallet({
      tamper: (p) => {
        const [a, b, sig] = p.sessionToken.split('.') as [string, string, string];
        const bytes = b64uDecode(sig) as Uint8Array;
        bytes[0] = (bytes[0] ?? 0) ^ 0x80;
        return { ...p, sessionToken: `${a}.${b}.${b64uEncode(bytes)}` };
      },
    });
    await wallet.connect(channel.uri);
    await waitFor(() => errors.length > 0);
    expect(errors[0]?.code).toBe('CONNECT_SESSION_TOKEN_INVALID');
    expect(dapp.session).toBeNull();
  });

  it('their dApp: token naming another wallet key → CONNECT_KEY_MISMATCH', async () => {
    const other = b64uEncode(x25519.getPublicKey(x25519.utils.randomPrivateKey()));
    const { dapp, channel, wallet, errors } = await theirDappOurWallet({
      mutateClaims: (c) => ({ ...c, walletPublicKey: other }),
    });
    await wallet.connect(channel.uri);
    await waitFor(() => errors.length > 0);
    expect(errors[0]?.code).toBe('CONNECT_KEY_MISMATCH');
    expect(dapp.session).toBeNull();
  });

  it('their dApp: token bound to another relay / channel → CONNECT_SESSION_TOKEN_INVALID', async () => {
    for (const mutate of [
      (c: Claims) => ({ ...c, relay: 'https://evil.example' }),
      (c: Claims) => ({ ...c, uuid: randomUuid() }),
      (c: Claims) => ({ ...c, dappPublicKey: b64uEncode(new Uint8Array(32).fill(9)) }),
    ]) {
      const { dapp, channel, wallet, errors } = await theirDappOurWallet({ mutateClaims: mutate });
      await wallet.connect(channel.uri);
      await waitFor(() => errors.length > 0);
      expect(errors[0]?.code).toBe('CONNECT_SESSION_TOKEN_INVALID');
      expect(dapp.session).toBeNull();
    }
  });

  it('their dApp: payload address differing from the token, and an already-expired token', async () => {
    const a = await theirDappOurWallet({
      tamper: (p) => ({ ...p, address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' }),
    });
    await a.wallet.connect(a.channel.uri);
    await waitFor(() => a.errors.length > 0);
    expect(a.errors[0]?.code).toBe('CONNECT_SESSION_TOKEN_INVALID');
    expect(a.dapp.session).toBeNull();

    const b = await theirDappOurWallet({ tokenLifetimeMs: 1 });
    await b.wallet.connect(b.channel.uri);
    await waitFor(() => b.errors.length > 0);
    expect(b.errors[0]?.code).toBe('CONNECT_SESSION_TOKEN_EXPIRED');
    expect(b.dapp.session).toBeNull();
  });
});
