import { base58 } from '@scure/base';
import type { Address, Hex, TransactionSerializable, TypedDataDefinition } from 'viem';
import { ConnectError } from './errors.js';
import { type ConnectChainType, isSolanaAddress } from './token.js';

/** The sign methods of protocol version 1 (docs/connect-protocol.md §8.3), and the chain each belongs to. */
export const CONNECT_METHODS = {
  personal_sign: 'eip155',
  eth_signTypedData_v4: 'eip155',
  eth_signTransaction: 'eip155',
  eth_sendTransaction: 'eip155',
  solana_signMessage: 'solana',
} as const satisfies Record<string, ConnectChainType>;

export type ConnectMethod = keyof typeof CONNECT_METHODS;

/** A request's params, checked and decoded into what a signer takes. */
export type DecodedSignRequest =
  | { method: 'personal_sign'; message: string | { raw: Hex } }
  | { method: 'eth_signTypedData_v4'; typedData: TypedDataDefinition }
  | { method: 'eth_signTransaction' | 'eth_sendTransaction'; transaction: TransactionSerializable }
  | { method: 'solana_signMessage'; message: Uint8Array };

/** The wallet a request is decoded for. */
export interface SignRequestWallet {
  chainType: ConnectChainType;
  chainId: string;
  address: string;
}

const HEX_BYTES = /^0x(?:[0-9a-fA-F]{2})*$/;
const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** True when `method` is a version-1 sign method. */
export function isConnectMethod(method: unknown): method is ConnectMethod {
  return typeof method === 'string' && Object.hasOwn(CONNECT_METHODS, method);
}

/**
 * Checks a request's params for `wallet` and decodes them. The address a request names must be the
 * wallet's; an EVM chain id, when given, must be the wallet's.
 *
 * @throws ConnectError `CONNECT_METHOD_UNSUPPORTED` (unknown method, or one of another chain),
 *   `VALIDATION_FAILED` naming the param (`params[0]`, `params.message`, …).
 */
export function decodeSignRequestParams(method: string, params: unknown, wallet: SignRequestWallet): DecodedSignRequest {
  if (!isConnectMethod(method) || CONNECT_METHODS[method] !== wallet.chainType) {
    throw new ConnectError('CONNECT_METHOD_UNSUPPORTED', { field: 'method' });
  }
  switch (method) {
    case 'personal_sign': {
      const [message, address] = list(params, 2);
      if (typeof message !== 'string') throw bad('params[0]', 'expected a 0x-hex or text message');
      sameEvmAddress('params[1]', address, wallet);
      return { method, message: HEX_BYTES.test(message) ? { raw: message as Hex } : message };
    }
    case 'eth_signTypedData_v4': {
      const [address, raw] = list(params, 2);
      sameEvmAddress('params[0]', address, wallet);
      return { method, typedData: typedData(raw, wallet) };
    }
    case 'eth_signTransaction':
    case 'eth_sendTransaction': {
      const [tx] = list(params, 1);
      return { method, transaction: transaction(tx, wallet) };
    }
    case 'solana_signMessage': {
      if (typeof params !== 'object' || params === null || Array.isArray(params))
        throw bad('params', 'expected {message, pubkey}');
      const p = params as Record<string, unknown>;
      if (p.pubkey !== wallet.address) throw bad('params.pubkey', "expected the wallet's address");
      if (typeof p.message !== 'string') throw bad('params.message', 'expected base58');
      try {
        return { method, message: base58.decode(p.message) };
      } catch {
        throw bad('params.message', 'expected base58');
      }
    }
  }
}

/** Params for `solana_signMessage` (the WalletConnect shape): `{ message: base58, pubkey: base58 }`. */
export function solanaSignMessageParams(message: Uint8Array | string, address: string): { message: string; pubkey: string } {
  if (!isSolanaAddress(address)) throw new TypeError('address: expected a base58 Ed25519 public key');
  const bytes = typeof message === 'string' ? new TextEncoder().encode(message) : message;
  return { message: base58.encode(bytes), pubkey: address };
}

/** The result of `solana_signMessage`: `{ signature: base58 of the 64-byte Ed25519 signature }`. */
export function solanaSignMessageResult(signature: Uint8Array): { signature: string } {
  if (signature.length !== 64) throw new TypeError('signature: expected 64 bytes');
  return { signature: base58.encode(signature) };
}

/** The 64 signature bytes of a `solana_signMessage` result. @throws ConnectError `VALIDATION_FAILED`. */
export function decodeSolanaSignMessageResult(result: unknown): Uint8Array {
  const signature = (result as { signature?: unknown } | null)?.signature;
  try {
    const bytes = base58.decode(signature as string);
    if (bytes.length === 64) return bytes;
  } catch {
    // falls through to the one error
  }
  throw bad('result.signature', 'expected base58 of 64 bytes');
}

function list(params: unknown, length: number): unknown[] {
  if (!Array.isArray(params) || params.length < length) throw bad('params', `expected an array of ${length}`);
  return params;
}

function sameEvmAddress(field: string, value: unknown, wallet: SignRequestWallet): void {
  if (typeof value !== 'string' || !ADDRESS.test(value) || value.toLowerCase() !== wallet.address.toLowerCase()) {
    throw bad(field, "expected the wallet's address");
  }
}

function typedData(raw: unknown, wallet: SignRequestWallet): TypedDataDefinition {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw bad('params[1]', 'expected EIP-712 typed data (object or JSON string)');
    }
  }
  if (typeof value !== 'object' || value === null) throw bad('params[1]', 'expected EIP-712 typed data');
  const t = value as Record<string, unknown>;
  if (typeof t.types !== 'object' || t.types === null || typeof t.primaryType !== 'string' || typeof t.message !== 'object') {
    throw bad('params[1]', 'expected types, primaryType and message');
  }
  const domain = (t.domain ?? {}) as Record<string, unknown>;
  if (domain.chainId !== undefined && chainIdText(domain.chainId) !== wallet.chainId) {
    throw bad('params[1].domain.chainId', "expected the wallet's chain");
  }
  return t as unknown as TypedDataDefinition;
}

function chainIdText(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && QUANTITY.test(value)) return BigInt(value).toString();
  if (typeof value === 'string' && /^[0-9]{1,20}$/.test(value)) return BigInt(value).toString();
  return null;
}

/** An `eth_sendTransaction`-style JSON-RPC transaction object as viem's TransactionSerializable. */
function transaction(raw: unknown, wallet: SignRequestWallet): TransactionSerializable {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('params[0]', 'expected a transaction object');
  const t = raw as Record<string, unknown>;
  if (t.from !== undefined) sameEvmAddress('params[0].from', t.from, wallet);
  if (t.chainId !== undefined && chainIdText(t.chainId) !== wallet.chainId)
    throw bad('params[0].chainId', "expected the wallet's chain");
  const tx: Record<string, unknown> = { chainId: Number(wallet.chainId) };
  if (t.to !== undefined && t.to !== null) {
    if (typeof t.to !== 'string' || !ADDRESS.test(t.to)) throw bad('params[0].to', 'expected an address');
    tx.to = t.to as Address;
  }
  const data = t.data ?? t.input;
  if (data !== undefined) {
    if (typeof data !== 'string' || !HEX_BYTES.test(data)) throw bad('params[0].data', 'expected 0x-hex bytes');
    tx.data = data;
  }
  for (const [from, to] of [
    ['value', 'value'],
    ['gas', 'gas'],
    ['gasLimit', 'gas'],
    ['gasPrice', 'gasPrice'],
    ['maxFeePerGas', 'maxFeePerGas'],
    ['maxPriorityFeePerGas', 'maxPriorityFeePerGas'],
  ] as const) {
    if (t[from] !== undefined) tx[to] = quantity(`params[0].${from}`, t[from]);
  }
  if (t.nonce !== undefined) {
    const nonce = quantity('params[0].nonce', t.nonce);
    if (nonce > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('params[0].nonce', 'too large');
    tx.nonce = Number(nonce);
  }
  if (t.type !== undefined) {
    const type = { '0x0': 'legacy', '0x1': 'eip2930', '0x2': 'eip1559' }[String(t.type)];
    if (!type) throw bad('params[0].type', 'expected 0x0, 0x1 or 0x2');
    tx.type = type;
  }
  if (t.accessList !== undefined) {
    if (!Array.isArray(t.accessList)) throw bad('params[0].accessList', 'expected an array');
    tx.accessList = t.accessList;
  }
  return tx as TransactionSerializable;
}

function quantity(field: string, value: unknown): bigint {
  if (typeof value !== 'string' || !QUANTITY.test(value)) throw bad(field, 'expected a 0x-hex quantity');
  return BigInt(value);
}

function bad(field: string, reason: string): ConnectError {
  return new ConnectError('VALIDATION_FAILED', { message: `${field}: ${reason}`, field });
}
