import { createCustomCommon, Hardfork, Mainnet } from '@ethereumjs/common';
import { EVMError, type EVMResult, type EVMRunCallOpts } from '@ethereumjs/evm';
import { bytesToHex, createAddressFromString, createZeroAddress, hexToBytes } from '@ethereumjs/util';
import { createVM, type VM } from '@ethereumjs/vm';
import {
  type Address,
  decodeErrorResult,
  encodeDeployData,
  getAddress,
  type Hex,
  isAddress,
  isHex,
  numberToHex,
  serializeErc6492Signature,
  zeroAddress,
} from 'viem';
import { type ContractName, isRecord, loadArtifacts } from './artifacts.js';
import { JsonRpcError, type RequestArguments, type RequestFunction, serveJsonRpc } from './jsonrpc.js';

export { JsonRpcError, type RequestArguments, type RequestFunction } from './jsonrpc.js';

export interface TestChainOptions {
  /** EIP-155 chain id; default 31337 (the usual local-devnet id). */
  readonly chainId?: number;
}

/** A state-changing call, committed as one new block. */
export interface TestTransaction {
  /** Omit to create a contract from `data`. */
  readonly to?: Address;
  readonly data: Hex;
  /** Default {@link defaultSender}. Balance is not checked. */
  readonly from?: Address;
  /** Wei; default 0. */
  readonly value?: bigint;
}

export interface TestChain {
  readonly chainId: number;
  /** JSON-RPC over HTTP on 127.0.0.1, for viem's `http()` transport. */
  readonly url: string;
  /** EIP-1193 request function, for viem's `custom()` transport. */
  readonly request: RequestFunction;
  /** Deploys a contract from `contracts/artifacts.json`; returns its address. */
  deploy(contract: ContractName, constructorArgs?: readonly unknown[]): Promise<Address>;
  /** Runs a call and commits its state changes as a new block; returns the call's return data. Throws a {@link JsonRpcError} if it fails. */
  execute(transaction: TestTransaction): Promise<Hex>;
  /** Stops the HTTP server. */
  close(): Promise<void>;
}

/** The caller of `deploy` and `execute` unless `from` is given. */
export const defaultSender: Address = '0x00000000000000000000000000000000000d3910';

const callGasLimit = 50_000_000n;
const genesisTimestamp = 1_700_000_000n;
const secondsPerBlock = 12n;

/**
 * Starts an in-memory EVM (Cancun) with a JSON-RPC endpoint, for verifying signatures against real contracts.
 * Each `deploy`/`execute` mines one block; `eth_call` runs on a copy of the requested block's state and never commits.
 *
 * @example
 * const chain = await startTestChain();
 * const client = createPublicClient({ transport: http(chain.url) });
 * const factory = await chain.deploy('WalletFactory');
 * await chain.close();
 */
export async function startTestChain(options: TestChainOptions = {}): Promise<TestChain> {
  const chainId = options.chainId ?? 31337;
  if (!Number.isSafeInteger(chainId) || chainId <= 0)
    throw new RangeError(`startTestChain: chainId must be a positive integer, got ${chainId}`);

  const artifacts = loadArtifacts();
  const common = createCustomCommon({ chainId }, Mainnet, { hardfork: Hardfork.Cancun });
  const vm = await createVM({ common });
  // stateRoots[n] is the state after block n; block 0 is the empty genesis.
  const stateRoots: Uint8Array[] = [await vm.stateManager.getStateRoot()];
  const head = (): number => stateRoots.length - 1;
  const exclusive = serialize();

  async function stateAt(block: number): Promise<VM> {
    const copy = await vm.shallowCopy();
    await copy.stateManager.setStateRoot(stateRoots[block]!);
    return copy;
  }

  async function commit(transaction: TestTransaction): Promise<EVMResult> {
    await vm.stateManager.checkpoint();
    try {
      const result = await vm.evm.runCall(callOptions({ ...transaction, from: transaction.from ?? defaultSender }, head() + 1));
      // As at the end of a transaction: drop touched empty accounts (EIP-161), reset the journal.
      await vm.evm.journal.cleanup();
      if (result.execResult.exceptionError) throw executionError(result);
      await vm.stateManager.commit();
      stateRoots.push(await vm.stateManager.getStateRoot());
      return result;
    } catch (error) {
      await vm.stateManager.revert();
      throw error;
    }
  }

  async function call(transaction: TestTransaction, block: number): Promise<Hex> {
    // Like geth, a call without `from` comes from the zero address.
    const result = await (await stateAt(block)).evm.runCall(
      callOptions({ ...transaction, from: transaction.from ?? zeroAddress }, block),
    );
    if (result.execResult.exceptionError) throw executionError(result);
    return bytesToHex(result.execResult.returnValue);
  }

  function blockNumber(tag: unknown): number {
    if (tag === undefined || tag === 'latest' || tag === 'pending' || tag === 'safe' || tag === 'finalized') return head();
    if (tag === 'earliest') return 0;
    const number = quantity(tag, 'block');
    if (number > BigInt(head())) throw new JsonRpcError(-32000, 'header not found');
    return Number(number);
  }

  async function request({ method, params = [] }: RequestArguments): Promise<unknown> {
    if (!Array.isArray(params)) throw invalidParams(`${method} takes positional params`);
    const args: readonly unknown[] = params;
    switch (method) {
      case 'eth_chainId':
        return numberToHex(chainId);
      case 'net_version':
        return String(chainId);
      case 'eth_blockNumber':
        return exclusive(async () => numberToHex(head()));
      case 'eth_call':
        if (args[2] !== undefined) throw invalidParams('state overrides are not supported');
        return exclusive(() => call(callRequest(args[0]), blockNumber(args[1])));
      case 'eth_getCode':
        return exclusive(async () => {
          const state = await stateAt(blockNumber(args[1]));
          return bytesToHex(await state.stateManager.getCode(createAddressFromString(address(args[0], 'address'))));
        });
      case 'eth_getBalance':
        return exclusive(async () => {
          const state = await stateAt(blockNumber(args[1]));
          const account = await state.stateManager.getAccount(createAddressFromString(address(args[0], 'address')));
          return numberToHex(account?.balance ?? 0n);
        });
      default:
        throw new JsonRpcError(-32601, `the method ${method} does not exist/is not available`);
    }
  }

  const server = await serveJsonRpc(request);

  return {
    chainId,
    url: server.url,
    request,
    async deploy(contract, constructorArgs = []) {
      const { abi, bytecode } = artifacts.contracts[contract];
      const data = encodeDeployData({ abi, bytecode, args: constructorArgs });
      const result = await exclusive(() => commit({ data }));
      if (result.createdAddress === undefined) throw new Error(`deploy ${contract}: no contract created`);
      return getAddress(result.createdAddress.toString());
    },
    async execute(transaction) {
      const result = await exclusive(() => commit(transaction));
      return bytesToHex(result.execResult.returnValue);
    },
    close: () => server.close(),
  };
}

/**
 * An ERC-6492 signature for a wallet that is not deployed yet: abi.encode(factory, factoryCalldata, signature) ‖ magic suffix.
 *
 * @example
 * const signature = wrap6492({ factory, factoryCalldata: encodeFunctionData({ abi, functionName: 'deploy', args }), signature: ownerSignature });
 */
export function wrap6492(parameters: { factory: Address; factoryCalldata: Hex; signature: Hex }): Hex {
  const { factory, factoryCalldata, signature } = parameters;
  return serializeErc6492Signature({ address: factory, data: factoryCalldata, signature });
}

function callOptions(transaction: TestTransaction & { from: Address }, block: number): EVMRunCallOpts {
  const caller = createAddressFromString(transaction.from);
  return {
    block: {
      header: {
        number: BigInt(block),
        coinbase: createZeroAddress(),
        timestamp: genesisTimestamp + BigInt(block) * secondsPerBlock,
        difficulty: 0n,
        prevRandao: new Uint8Array(32),
        gasLimit: callGasLimit,
        baseFeePerGas: 0n,
        getBlobGasPrice: () => 1n,
      },
    },
    caller,
    origin: caller,
    ...(transaction.to === undefined ? {} : { to: createAddressFromString(transaction.to) }),
    data: hexToBytes(transaction.data),
    value: transaction.value ?? 0n,
    gasLimit: callGasLimit,
    gasPrice: 0n,
    skipBalance: true,
  };
}

/** Geth's shapes: a revert is code 3 with the revert data; any other failure is -32000. */
function executionError(result: EVMResult): JsonRpcError {
  const { exceptionError, returnValue } = result.execResult;
  if (exceptionError?.error !== EVMError.errorMessages.REVERT)
    return new JsonRpcError(-32000, exceptionError?.error ?? 'execution failed');
  const data = bytesToHex(returnValue);
  return new JsonRpcError(3, `execution reverted${revertReason(data)}`, data);
}

function revertReason(data: Hex): string {
  try {
    const decoded = decodeErrorResult({ data });
    return decoded.errorName === 'Error' ? `: ${String(decoded.args[0])}` : '';
  } catch {
    return '';
  }
}

function callRequest(value: unknown): TestTransaction {
  if (!isRecord(value)) throw invalidParams('eth_call: expected a call object');
  const data = value.input ?? value.data ?? '0x';
  if (!isHex(data, { strict: true }) || data.length % 2 !== 0) throw invalidParams('eth_call: data must be 0x-hex bytes');
  return {
    data,
    ...(value.to === undefined || value.to === null ? {} : { to: address(value.to, 'to') }),
    ...(value.from === undefined || value.from === null ? {} : { from: address(value.from, 'from') }),
    ...(value.value === undefined ? {} : { value: quantity(value.value, 'value') }),
  };
}

function address(value: unknown, name: string): Address {
  if (typeof value !== 'string' || !isAddress(value, { strict: false }))
    throw invalidParams(`${name} must be a 20-byte 0x-address`);
  return value;
}

function quantity(value: unknown, name: string): bigint {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(value)) throw invalidParams(`${name} must be a 0x-quantity`);
  return BigInt(value);
}

function invalidParams(message: string): JsonRpcError {
  return new JsonRpcError(-32602, `invalid params: ${message}`);
}

/** Runs tasks one at a time, in call order: the VM's state manager is not safe for interleaved use. */
function serialize(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
}
