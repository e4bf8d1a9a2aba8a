import type { Address, Hex, LocalAccount, SignableMessage, TransactionSerializable, TypedDataDefinition } from 'viem';

/**
 * An Ethereum wallet key as the wallet SDK uses it. `signMessage` is EIP-191 `personal_sign` (it signs
 * the session token and serves `personal_sign`); the others are optional and, when absent, their
 * methods answer `CONNECT_METHOD_UNSUPPORTED`. A viem `LocalAccount` fits via {@link ethereumSigner}.
 */
export interface EthereumConnectSigner {
  readonly chainType: 'eip155';
  /** EIP-155 chain id. */
  readonly chainId: number;
  readonly address: Address;
  signMessage(args: { message: SignableMessage }): Promise<Hex>;
  signTypedData?(typedData: TypedDataDefinition): Promise<Hex>;
  /** Returns the signed, serialised transaction. */
  signTransaction?(transaction: TransactionSerializable): Promise<Hex>;
  /** Signs AND broadcasts; returns the transaction hash. */
  sendTransaction?(transaction: TransactionSerializable): Promise<Hex>;
}

/** A Solana wallet key: Ed25519 over raw bytes (the session token's text, and `solana_signMessage`). */
export interface SolanaConnectSigner {
  readonly chainType: 'solana';
  /** CAIP-2 reference: the genesis-hash prefix, e.g. `5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp` (mainnet). */
  readonly chainId: string;
  /** base58 of the 32-byte public key. */
  readonly address: string;
  /** Returns the 64-byte Ed25519 signature. */
  signMessage(message: Uint8Array): Promise<Uint8Array>;
}

export type ConnectSigner = EthereumConnectSigner | SolanaConnectSigner;

/**
 * An {@link EthereumConnectSigner} over a viem `LocalAccount` (e.g. `privateKeyToAccount`).
 * Pass `sendTransaction` to serve `eth_sendTransaction` (sign + broadcast through your RPC client).
 *
 * @example
 * ```ts
 * const signer = ethereumSigner(privateKeyToAccount(key), { chainId: 1 });
 * await wallet.connect(scannedUri, signer);
 * ```
 */
export function ethereumSigner(
  account: LocalAccount,
  options: { chainId: number; sendTransaction?: (transaction: TransactionSerializable) => Promise<Hex> },
): EthereumConnectSigner {
  if (!Number.isSafeInteger(options.chainId) || options.chainId < 1) throw new TypeError('chainId: expected a positive integer');
  return {
    chainType: 'eip155',
    chainId: options.chainId,
    address: account.address,
    signMessage: (args) => account.signMessage(args),
    signTypedData: (typedData) => account.signTypedData(typedData),
    signTransaction: (transaction) => account.signTransaction(transaction),
    ...(options.sendTransaction ? { sendTransaction: options.sendTransaction } : {}),
  };
}
