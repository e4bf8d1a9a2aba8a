import { type Hex, parseTransaction, recoverTransactionAddress, toHex, verifyMessage } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectPair, evmSigner, ManualClock, next, Peers, solanaSigner } from '../../test-support/connect/fixtures.js';
import { startTestRelay, type TestRelay } from '../../test-support/connect/relay.js';
import type { ConnectSession } from './dapp.js';
import { ConnectError, ethereumSigner, type WalletSignRequest } from './index.js';

// What the wallet's user is asked, and when: one request at a time, shown as it will be signed.

let relay: TestRelay;
let peers: Peers;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(() => relay.close());
afterEach(async () => {
  relay.tamper = null;
  await peers.close();
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConnectError) return e;
    throw e;
  }
  throw new Error('expected a ConnectError');
}

/** A handler whose answers the test gives one by one; it records how many calls ran at once. */
function heldHandler(): {
  handler: (request: WalletSignRequest) => Promise<boolean>;
  asked: WalletSignRequest[];
  /** Resolves when the handler has been called `n` times in all. */
  calls(n: number): Promise<void>;
  answer(index: number, isApproved: boolean): void;
  readonly mostAtOnce: number;
} {
  const asked: WalletSignRequest[] = [];
  const answers: ((isApproved: boolean) => void)[] = [];
  const waiters: { n: number; wake: () => void }[] = [];
  let running = 0;
  let mostAtOnce = 0;
  return {
    asked,
    get mostAtOnce() {
      return mostAtOnce;
    },
    handler: (request) => {
      asked.push(request);
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      for (const w of waiters.filter((w) => asked.length >= w.n)) w.wake();
      return new Promise<boolean>((resolve) => {
        answers.push((isApproved) => {
          running -= 1;
          resolve(isApproved);
        });
      });
    },
    calls: (n) => (asked.length >= n ? Promise.resolve() : new Promise((wake) => waiters.push({ n, wake }))),
    answer: (index, isApproved) => answers[index]!(isApproved),
  };
}

/** Resolves once the relay has delivered `n` requests on `uuid` and the wallet had time to read them. */
async function delivered(uuid: string, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (relay.log.filter((m) => m.event === 'request' && m.envelope.uuid === uuid).length < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} requests reached the relay`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 150));
}

const tx = {
  to: '0x000000000000000000000000000000000000dEaD',
  value: '0xde0b6b3a7640000',
  gas: '0x5208',
  maxFeePerGas: '0x1',
  maxPriorityFeePerGas: '0x1',
  nonce: '0x0',
  type: '0x2',
} as const;

describe('ConnectWallet asks about one request at a time', () => {
  it('two requests arriving together: the handler never runs twice at once, and each gets its own answer', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet, session } = await connectPair(peers, relay.url, { signer });
    const held = heldHandler();
    wallet.onRequest(held.handler);

    const message = dapp.request('personal_sign', [toHex('first'), signer.address]);
    const transaction = failure(dapp.request('eth_signTransaction', [tx]));
    await held.calls(1);
    await delivered(session.uuid, 2);
    expect(held.asked).toHaveLength(1); // the second waits its turn
    held.answer(0, true); // one "yes"…
    const signature = (await message) as Hex;
    expect(await verifyMessage({ address: signer.address, message: 'first', signature })).toBe(true);
    await held.calls(2);
    held.answer(1, false); // …and the second gets its own answer
    expect((await transaction).code).toBe('CONNECT_REQUEST_REJECTED');
    expect(held.asked.map((r) => r.method)).toEqual(['personal_sign', 'eth_signTransaction']);
    expect(held.mostAtOnce).toBe(1);
  });

  it('a request that waited past the time window is refused when its turn comes, without asking', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const clock = new ManualClock();
    const { dapp, wallet, session } = await connectPair(peers, relay.url, { signer, dapp: { clock }, wallet: { clock } });
    const held = heldHandler();
    wallet.onRequest(held.handler);
    const refused = next<ConnectError>(wallet, 'error');

    const first = dapp.request('personal_sign', [toHex('first'), signer.address]);
    const second = failure(dapp.request('personal_sign', [toHex('second'), signer.address]));
    await held.calls(1);
    await delivered(session.uuid, 2);
    expect(held.asked).toHaveLength(1);
    clock.advance(60_001); // the user looked at the first one for a minute
    held.answer(0, true);
    expect(await first).toMatch(/^0x[0-9a-f]{130}$/);
    expect(await second).toMatchObject({ code: 'CONNECT_REQUEST_STALE' });
    expect(await refused).toMatchObject({ code: 'CONNECT_REQUEST_STALE' });
    expect(held.asked).toHaveLength(1);
  });

  it('a request whose session token expired while it waited is refused when its turn comes', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const clock = new ManualClock();
    const { dapp, wallet, session } = await connectPair(peers, relay.url, {
      signer,
      dapp: { clock },
      wallet: { clock, sessionTtlMs: 30_000 },
    });
    const held = heldHandler();
    wallet.onRequest(held.handler);
    const first = dapp.request('personal_sign', [toHex('first'), signer.address]);
    const second = failure(dapp.request('personal_sign', [toHex('second'), signer.address]));
    await held.calls(1);
    await delivered(session.uuid, 2);
    clock.ms = session.expiresAt!; // within the request window, but the token's lifetime is over
    held.answer(0, true);
    expect(await first).toMatch(/^0x/);
    expect(await second).toMatchObject({ code: 'CONNECT_SESSION_TOKEN_EXPIRED' });
    expect(held.asked).toHaveLength(1);
  });
});

describe('ConnectWallet shows the handler what it will sign', () => {
  it('a transaction: to, value and chainId whatever the key order, and data as its length and prefix', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet } = await connectPair(peers, relay.url, { signer });
    const asked: WalletSignRequest[] = [];
    wallet.onRequest((request) => {
      asked.push(request);
      return true;
    });
    const data = `0x${'ab'.repeat(200)}` as const;
    const raw = (await dapp.request('eth_signTransaction', [{ data, ...tx }])) as Hex;
    const signed = parseTransaction(raw);
    expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(signer.address);
    const request = asked[0]!;
    expect(request).not.toHaveProperty('params');
    expect(request.summary).toEqual({
      kind: 'transaction',
      to: '0x000000000000000000000000000000000000dEaD',
      value: 10n ** 18n,
      chainId: 1,
      data: { bytes: 200, prefix: `0x${'ab'.repeat(68)}` },
      gas: 21_000n,
      nonce: 0,
      type: 'eip1559',
      gasPrice: null,
      maxFeePerGas: 1n,
      maxPriorityFeePerGas: 1n,
    });
    // The decoded request is exactly what was signed.
    expect(request.decoded).toEqual({ method: 'eth_signTransaction', transaction: expect.objectContaining({ data }) });
    expect(signed).toMatchObject({ to: tx.to.toLowerCase(), value: 10n ** 18n, chainId: 1, gas: 21_000n, data });
  });

  it('refuses ambiguous transactions (data and input differ, gas and gasLimit differ) before asking', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet } = await connectPair(peers, relay.url, { signer });
    const asked: WalletSignRequest[] = [];
    wallet.onRequest((request) => {
      asked.push(request);
      return true;
    });
    const both = await failure(dapp.request('eth_signTransaction', [{ ...tx, data: '0xaa', input: '0xbb' }]));
    expect(both).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(both.message).toContain('params[0].input');
    const gas = await failure(dapp.request('eth_signTransaction', [{ ...tx, gas: '0x5208', gasLimit: '0xffffff' }]));
    expect(gas).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(gas.message).toContain('params[0].gasLimit');
    expect(asked).toHaveLength(0);
    // Both spellings of the same value are not ambiguous.
    const same = (await dapp.request('eth_signTransaction', [
      { ...tx, data: '0xAABB', input: '0xaabb', gas: '0x5208', gasLimit: '0x05208' },
    ])) as Hex;
    expect(parseTransaction(same)).toMatchObject({ data: '0xaabb', gas: 21_000n });
    expect(asked).toHaveLength(1);
  });

  it('typed data: the domain and primary type; messages: the text, or hex when not UTF-8', async () => {
    peers = new Peers();
    const { signer } = evmSigner();
    const { dapp, wallet } = await connectPair(peers, relay.url, { signer });
    const asked: WalletSignRequest[] = [];
    wallet.onRequest((request) => {
      asked.push(request);
      return true;
    });
    const typedData = {
      types: { Mail: [{ name: 'contents', type: 'string' }] },
      primaryType: 'Mail',
      message: { contents: 'hi' },
      domain: {
        name: 'Latchkey Test',
        version: '1',
        chainId: '0x1',
        verifyingContract: '0xcccccccccccccccccccccccccccccccccccccccc',
      },
    };
    await dapp.request('eth_signTypedData_v4', [signer.address, JSON.stringify(typedData)]);
    await dapp.request('personal_sign', [toHex('héllo \u202e'), signer.address]);
    await dapp.request('personal_sign', ['0xff00', signer.address]);
    await dapp.request('personal_sign', ['plain text', signer.address]);
    expect(asked.map((r) => r.summary)).toEqual([
      {
        kind: 'typedData',
        domain: {
          name: 'Latchkey Test',
          version: '1',
          chainId: '1',
          verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC',
          salt: null,
        },
        primaryType: 'Mail',
        message: { contents: 'hi' },
      },
      { kind: 'message', encoding: 'utf8', content: 'héllo \u202e', bytes: 10 },
      { kind: 'message', encoding: 'hex', content: '0xff00', bytes: 2 },
      { kind: 'message', encoding: 'utf8', content: 'plain text', bytes: 10 },
    ]);
  });

  it('a Solana message: its text', async () => {
    peers = new Peers();
    const signer = solanaSigner();
    const { dapp, wallet } = await connectPair(peers, relay.url, { signer });
    const asked: WalletSignRequest[] = [];
    wallet.onRequest((request) => {
      asked.push(request);
      return true;
    });
    const { solanaSignMessageParams } = await import('./index.js');
    await dapp.request('solana_signMessage', solanaSignMessageParams('gm', signer.address));
    expect(asked[0]!.summary).toEqual({ kind: 'message', encoding: 'utf8', content: 'gm', bytes: 2 });
  });
});

describe('ConnectWallet with a signer that reports a lowercase address', () => {
  it('connects with the checksummed address, and serves requests', async () => {
    peers = new Peers();
    const account = privateKeyToAccount(generatePrivateKey());
    const base = ethereumSigner(account, { chainId: 1 });
    const signer = { ...base, address: account.address.toLowerCase() as Hex };
    const dapp = peers.dapp({ relay: relay.url });
    const wallet = peers.wallet();
    wallet.onRequest(() => true);
    const { uri } = await dapp.createChannel();
    const connected = next<ConnectSession>(dapp, 'session_connected', 3000);
    const walletSession = await wallet.connect(uri, signer);
    const session = await connected;
    expect(session.address).toBe(account.address);
    expect(walletSession.address).toBe(account.address);
    const signature = (await dapp.request('personal_sign', [toHex('lower'), account.address])) as Hex;
    expect(await verifyMessage({ address: account.address, message: 'lower', signature })).toBe(true);
  });
});
