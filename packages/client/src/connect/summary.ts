import type { DecodedSignRequest } from '@latchkey/protocol/connect';
import { type Address, bytesToHex, getAddress, type Hex, hexToBytes, isAddress, type TransactionSerializable } from 'viem';

/** How much of a transaction's `data` a summary carries: the selector and two 32-byte words (an ERC-20 transfer's recipient and amount). */
export const DATA_PREFIX_BYTES = 68;

/** `personal_sign` and `solana_signMessage`: the bytes signed, as text when they are valid UTF-8. */
export interface MessageSummary {
  kind: 'message';
  /** `utf8`: `content` is the text; `hex`: the bytes are not UTF-8 and `content` is their `0x`-hex. */
  encoding: 'utf8' | 'hex';
  content: string;
  /** How many bytes are signed. */
  bytes: number;
}

/**
 * `eth_signTypedData_v4`: who the signature is for (the EIP-712 domain) and what it is (the primary type and
 * the message). Domain fields the dApp left out are null; `chainId` is decimal, `verifyingContract` EIP-55.
 */
export interface TypedDataSummary {
  kind: 'typedData';
  domain: {
    name: string | null;
    version: string | null;
    chainId: string | null;
    verifyingContract: string | null;
    salt: string | null;
  };
  primaryType: string;
  message: Record<string, unknown>;
}

/**
 * `eth_signTransaction` and `eth_sendTransaction`: the fields that move value first. `to` is null for a
 * contract creation, `value` is 0 when absent; other fields the dApp left out are null (the signer's to fill).
 */
export interface TransactionSummary {
  kind: 'transaction';
  /** EIP-55. */
  to: Address | null;
  /** wei. */
  value: bigint;
  chainId: number;
  /** Calldata: its length and its first {@link DATA_PREFIX_BYTES} bytes; null when there is none. */
  data: { bytes: number; prefix: Hex } | null;
  gas: bigint | null;
  nonce: number | null;
  type: 'legacy' | 'eip2930' | 'eip1559' | null;
  /** wei per gas. */
  gasPrice: bigint | null;
  maxFeePerGas: bigint | null;
  maxPriorityFeePerGas: bigint | null;
}

/** What a person needs to decide on a sign request, derived from exactly what will be signed. */
export type SignRequestSummary = MessageSummary | TypedDataSummary | TransactionSummary;

/** The summary of a decoded request: every field comes from the value the signer will be given. */
export function summarizeSignRequest(request: DecodedSignRequest): SignRequestSummary {
  switch (request.method) {
    case 'personal_sign':
      return message(
        typeof request.message === 'string' ? new TextEncoder().encode(request.message) : hexToBytes(request.message.raw),
      );
    case 'solana_signMessage':
      return message(request.message);
    case 'eth_signTypedData_v4': {
      const typedData = request.typedData as {
        domain?: Record<string, unknown>;
        primaryType: string;
        message: Record<string, unknown>;
      };
      const domain = typedData.domain ?? {};
      return {
        kind: 'typedData',
        domain: {
          name: text(domain.name),
          version: text(domain.version),
          chainId: chainId(domain.chainId),
          verifyingContract: contract(domain.verifyingContract),
          salt: text(domain.salt),
        },
        primaryType: typedData.primaryType,
        message: typedData.message,
      };
    }
    case 'eth_signTransaction':
    case 'eth_sendTransaction':
      return transaction(request.transaction);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function message(bytes: Uint8Array): MessageSummary {
  try {
    return { kind: 'message', encoding: 'utf8', content: utf8.decode(bytes), bytes: bytes.length };
  } catch {
    return { kind: 'message', encoding: 'hex', content: bytesToHex(bytes), bytes: bytes.length };
  }
}

function transaction(tx: TransactionSerializable): TransactionSummary {
  const t = tx as TransactionSerializable & { gasPrice?: bigint; maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint };
  const data = t.data === undefined ? null : hexToBytes(t.data);
  return {
    kind: 'transaction',
    to: t.to ? getAddress(t.to) : null,
    value: t.value ?? 0n,
    chainId: t.chainId as number,
    data: data && { bytes: data.length, prefix: bytesToHex(data.subarray(0, DATA_PREFIX_BYTES)) },
    gas: t.gas ?? null,
    nonce: t.nonce ?? null,
    type: (t.type as TransactionSummary['type'] | undefined) ?? null,
    gasPrice: t.gasPrice ?? null,
    maxFeePerGas: t.maxFeePerGas ?? null,
    maxPriorityFeePerGas: t.maxPriorityFeePerGas ?? null,
  };
}

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function chainId(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && /^(0x[0-9a-fA-F]{1,64}|[0-9]{1,20})$/.test(value)) return BigInt(value).toString();
  return text(value);
}

function contract(value: unknown): string | null {
  return typeof value === 'string' && isAddress(value, { strict: false }) ? getAddress(value) : text(value);
}
