import {
  type Address,
  concat,
  createPublicClient,
  custom,
  decodeFunctionResult,
  encodeDeployData,
  encodeFunctionData,
  type Hex,
  hashMessage,
  hexToBigInt,
  http,
  isAddress,
  isHex,
  type PublicClient,
  pad,
  parseSignature,
  recoverAddress,
  toHex,
  zeroAddress,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArtifacts } from './artifacts.js';
import { JsonRpcError, startTestChain, type TestChain, wrap6492 } from './chain.js';
import { compileContracts } from './contracts/compile.js';

// Well-known local-devnet keys (anvil/hardhat accounts 1-3): public test vectors, never funded anywhere real.
const ownerA = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const ownerB = privateKeyToAccount('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a');
const stranger = privateKeyToAccount('0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6');

const artifacts = loadArtifacts();
const factoryAbi = artifacts.contracts.WalletFactory.abi;
const salt = pad('0x01', { size: 32 });
const message = 'latchkey.test wants you to sign in with your Ethereum account';

const chainId = 8453;
let chain: TestChain;
let factory: Address;
let deployedWallet: Address;
let counterfactualWallet: Address;

function asAddress(value: unknown): Address {
  if (typeof value !== 'string' || !isAddress(value)) throw new TypeError(`expected an address, got ${String(value)}`);
  return value;
}

function deployCalldata(owner: Address): Hex {
  return encodeFunctionData({ abi: factoryAbi, functionName: 'deploy', args: [owner, salt] });
}

beforeAll(async () => {
  chain = await startTestChain({ chainId });
  factory = await chain.deploy('WalletFactory');
  const returned = await chain.execute({ to: factory, data: deployCalldata(ownerA.address) });
  deployedWallet = asAddress(decodeFunctionResult({ abi: factoryAbi, functionName: 'deploy', data: returned }));
  const predicted = await chain.request({
    method: 'eth_call',
    params: [
      { to: factory, data: encodeFunctionData({ abi: factoryAbi, functionName: 'predict', args: [ownerB.address, salt] }) },
      'latest',
    ],
  });
  if (!isHex(predicted)) throw new TypeError('eth_call must return hex');
  counterfactualWallet = asAddress(decodeFunctionResult({ abi: factoryAbi, functionName: 'predict', data: predicted }));
});

afterAll(async () => {
  await chain?.close();
});

// viem retries errors it does not recognise (an EIP-1193 `code: 3` from a custom transport is one), 3 times with backoff.
const transports = [
  ['http', () => createPublicClient({ transport: http(chain.url) })],
  ['custom (EIP-1193)', () => createPublicClient({ transport: custom({ request: chain.request }, { retryCount: 0 }) })],
] as const satisfies readonly (readonly [string, () => PublicClient])[];

describe.each(transports)('signature verification through viem, %s transport', (_, connect) => {
  it('reports the chain id', async () => {
    expect(await connect().getChainId()).toBe(chainId);
  });

  it('verifies an EOA signature, and rejects another signer', async () => {
    const client = connect();
    const signature = await ownerA.signMessage({ message });
    expect(await client.verifyMessage({ address: ownerA.address, message, signature })).toBe(true);
    expect(await client.verifyMessage({ address: stranger.address, message, signature })).toBe(false);
  });

  it('verifies an ERC-1271 wallet through isValidSignature', async () => {
    const client = connect();
    expect(await client.getCode({ address: deployedWallet })).toMatch(/^0x[0-9a-f]{100,}$/);
    const byOwner = await ownerA.signMessage({ message });
    const byStranger = await stranger.signMessage({ message });
    expect(await client.verifyMessage({ address: deployedWallet, message, signature: byOwner })).toBe(true);
    expect(await client.verifyMessage({ address: deployedWallet, message, signature: byStranger })).toBe(false);
  });

  it('verifies an ERC-6492 signature for an undeployed wallet without deploying it', async () => {
    const client = connect();
    const blockBefore = await client.getBlockNumber();
    expect(await client.getCode({ address: counterfactualWallet })).toBeUndefined();

    const factoryCalldata = deployCalldata(ownerB.address);
    const wrapped = wrap6492({ factory, factoryCalldata, signature: await ownerB.signMessage({ message }) });
    const wrappedByStranger = wrap6492({ factory, factoryCalldata, signature: await stranger.signMessage({ message }) });
    expect(wrapped.endsWith('6492'.repeat(16))).toBe(true);
    expect(await client.verifyMessage({ address: counterfactualWallet, message, signature: wrapped })).toBe(true);
    expect(await client.verifyMessage({ address: counterfactualWallet, message, signature: wrappedByStranger })).toBe(false);

    expect(await client.getCode({ address: counterfactualWallet })).toBeUndefined();
    expect(await client.getBlockNumber()).toBe(blockBefore);
  });

  it('commits nothing from eth_call, even a call that deploys', async () => {
    // The 6492 validator undoes its own deployment by reverting; this call does not, so only eth_call can keep it off-chain.
    const client = connect();
    const { data } = await client.call({ to: factory, data: deployCalldata(ownerB.address) });
    expect(data && decodeFunctionResult({ abi: factoryAbi, functionName: 'deploy', data })).toBe(counterfactualWallet);
    expect(await client.getCode({ address: counterfactualWallet })).toBeUndefined();
  });

  it('wraps the signature itself when given factory and factoryData', async () => {
    const signature = await ownerB.signMessage({ message });
    const verified = await connect().verifyMessage({
      address: counterfactualWallet,
      message,
      signature,
      factory,
      factoryData: deployCalldata(ownerB.address),
    });
    expect(verified).toBe(true);
  });

  it('surfaces a revert reason from a deployless call', async () => {
    const { abi, bytecode } = artifacts.contracts.OwnedWallet;
    const data = encodeDeployData({ abi, bytecode, args: [zeroAddress] });
    await expect(connect().call({ data })).rejects.toThrow('OwnedWallet: zero owner');
  });
});

describe('OwnedWallet.isValidSignature', () => {
  const secp256k1n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  type Parts = { r: Hex; s: Hex; v: number };
  /** The same signature with s' = n - s and the other recovery id: ecrecover accepts it, EIP-2 does not. */
  const malleableTwin = ({ r, s, v }: Parts): Hex => concat([r, toHex(secp256k1n - hexToBigInt(s), { size: 32 }), toHex(55 - v)]);

  async function ownerParts(): Promise<Parts> {
    const { r, s, v } = parseSignature(await ownerA.signMessage({ message }));
    if (v !== 27n && v !== 28n) throw new TypeError('expected v of 27 or 28');
    return { r, s, v: Number(v) };
  }

  it.each([
    ['the owner’s signature', '0x1626ba7e', ({ r, s, v }: Parts) => concat([r, s, toHex(v)])],
    ['its malleable high-s twin', '0xffffffff', malleableTwin],
    ['v as 0/1', '0xffffffff', ({ r, s, v }: Parts) => concat([r, s, toHex(v - 27)])],
    ['a 64-byte compact form', '0xffffffff', ({ r, s }: Parts) => concat([r, s])],
  ])('answers %s with %s', async (_, expected, encode) => {
    const client = createPublicClient({ transport: http(chain.url) });
    const { abi } = artifacts.contracts.OwnedWallet;
    const args = [hashMessage(message), encode(await ownerParts())];
    expect(await client.readContract({ address: deployedWallet, abi, functionName: 'isValidSignature', args })).toBe(expected);
  });

  it('rejects the twin for its form: it still recovers to the owner', async () => {
    const twin = malleableTwin(await ownerParts());
    expect(await recoverAddress({ hash: hashMessage(message), signature: twin })).toBe(ownerA.address);
  });
});

describe('test chain state', () => {
  it('answers reads at an earlier block from that block’s state', async () => {
    const client = createPublicClient({ transport: http(chain.url) });
    expect(await client.getBlockNumber()).toBe(2n);
    expect(await client.getCode({ address: factory, blockNumber: 0n })).toBeUndefined();
    expect(await client.getCode({ address: deployedWallet, blockNumber: 1n })).toBeUndefined();
    expect(await client.getCode({ address: deployedWallet, blockNumber: 2n })).toBeDefined();
    await expect(client.getCode({ address: factory, blockNumber: 3n })).rejects.toThrow('header not found');
  });

  it('deploys idempotently through the factory', async () => {
    const returned = await chain.execute({ to: factory, data: deployCalldata(ownerA.address) });
    expect(decodeFunctionResult({ abi: factoryAbi, functionName: 'deploy', data: returned })).toBe(deployedWallet);
  });

  it('rejects a reverting deployment without mining a block', async () => {
    const before = await chain.request({ method: 'eth_blockNumber' });
    await expect(chain.deploy('OwnedWallet', [zeroAddress])).rejects.toMatchObject({
      code: 3,
      message: 'execution reverted: OwnedWallet: zero owner',
    });
    expect(await chain.request({ method: 'eth_blockNumber' })).toBe(before);
  });

  it('builds the next block on committed state only, not on what an eth_call did', async () => {
    await chain.request({ method: 'eth_call', params: [{ to: factory, data: deployCalldata(ownerB.address) }, 'latest'] });
    await chain.execute({ to: factory, data: deployCalldata(ownerA.address) });
    await expect(chain.request({ method: 'eth_getCode', params: [counterfactualWallet, 'latest'] })).resolves.toBe('0x');
  });

  it('rejects an unknown method with -32601 through request()', async () => {
    const error = await chain.request({ method: 'eth_sendRawTransaction', params: ['0x00'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonRpcError);
    expect(error).toMatchObject({ code: -32601 });
  });
});

describe('JSON-RPC over HTTP', () => {
  async function post(body: string): Promise<unknown> {
    const response = await fetch(chain.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    return response.json();
  }

  it.each([
    ['an unknown method', '{"jsonrpc":"2.0","id":1,"method":"eth_mine","params":[]}', { id: 1, error: { code: -32601 } }],
    ['a malformed JSON body', '{"jsonrpc":"2.0","id":1,"method"', { id: null, error: { code: -32700 } }],
    ['a request without a method', '{"jsonrpc":"2.0","id":2}', { id: 2, error: { code: -32600 } }],
    ['an empty batch', '[]', { id: null, error: { code: -32600 } }],
    ['bad params', '{"jsonrpc":"2.0","id":3,"method":"eth_getCode","params":["0x12"]}', { id: 3, error: { code: -32602 } }],
  ])('answers %s with the JSON-RPC error', async (_, body, expected) => {
    expect(await post(body)).toMatchObject({ jsonrpc: '2.0', ...expected });
  });

  it('serves concurrent verifications batched by viem', async () => {
    const client = createPublicClient({ transport: http(chain.url, { batch: true }) });
    const byA = await ownerA.signMessage({ message });
    const results = await Promise.all([
      client.verifyMessage({ address: deployedWallet, message, signature: byA }),
      client.verifyMessage({ address: ownerA.address, message, signature: byA }),
      client.verifyMessage({ address: ownerB.address, message, signature: byA }),
      client.verifyMessage({ address: counterfactualWallet, message, signature: byA }),
    ]);
    expect(results).toEqual([true, true, false, false]);
  });

  it('answers a batch in order', async () => {
    const batch = [
      { jsonrpc: '2.0', id: 'a', method: 'eth_chainId' },
      { jsonrpc: '2.0', id: 'b', method: 'nope' },
      { jsonrpc: '2.0', id: 'c', method: 'net_version', params: [] },
    ];
    expect(await post(JSON.stringify(batch))).toEqual([
      { jsonrpc: '2.0', id: 'a', result: '0x2105' },
      { jsonrpc: '2.0', id: 'b', error: { code: -32601, message: 'the method nope does not exist/is not available' } },
      { jsonrpc: '2.0', id: 'c', result: '8453' },
    ]);
  });

  it('returns revert data with code 3', async () => {
    const { abi, bytecode } = artifacts.contracts.OwnedWallet;
    const data = encodeDeployData({ abi, bytecode, args: [zeroAddress] });
    const reply = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'eth_call', params: [{ data }, 'latest'] }));
    expect(reply).toMatchObject({ id: 7, error: { code: 3, message: 'execution reverted: OwnedWallet: zero owner' } });
    expect(reply).toHaveProperty('error.data', expect.stringMatching(/^0x08c379a0/));
  });
});

describe('contract artifacts', () => {
  it('are exactly what the pinned solc makes of the sources', () => {
    const compiled = compileContracts();
    expect(compiled.solcVersion).toMatch(/^0\.8\.37\+commit\./);
    expect(compiled).toEqual(artifacts);
  }, 60_000);
});
