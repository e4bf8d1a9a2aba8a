import { type Hex, recoverMessageAddress } from 'viem';
import { LatchkeyError } from '../errors/index.js';
import { withTimeout } from './verify.js';

/**
 * Verifies smart-account signatures (ERC-1271, and ERC-6492 for wallets not yet deployed) on one
 * chain. A viem `PublicClient` is one: `createPublicClient({ chain, transport: http(rpcUrl) })`.
 */
export interface SmartAccountVerifier {
  verifyMessage(args: { address: `0x${string}`; message: string; signature: `0x${string}` }): Promise<boolean>;
}

/** Smart-account verifiers by EIP-155 chain id, and how long one check may take (ms, default 5000). */
export interface SmartAccounts {
  verifiers: Readonly<Record<number, SmartAccountVerifier>>;
  timeoutMs?: number;
}

async function recoversTo(message: string, signature: Hex, address: string): Promise<boolean> {
  if (signature.length !== 132) return false;
  try {
    return (await recoverMessageAddress({ message, signature })) === address;
  } catch {
    return false;
  }
}

/**
 * Who an EIP-191 (`personal_sign`) signature over `message` verifies for `address` (EIP-55 form):
 * `eoa` when it recovers to the address, `contract` when the chain's verifier accepts it (ERC-1271,
 * ERC-6492), null otherwise. Sign-In with Ethereum and the connect bridge share this check.
 *
 * @throws LatchkeyError `SIWE_VERIFIER_UNAVAILABLE` when the verifier fails or exceeds the timeout.
 */
export async function verifyEthereumSignature(options: {
  message: string;
  signature: Hex;
  address: string;
  chainId: number;
  smartAccounts?: SmartAccounts | undefined;
}): Promise<'eoa' | 'contract' | null> {
  const { message, signature, address } = options;
  if (await recoversTo(message, signature, address)) return 'eoa';
  const verifier = options.smartAccounts?.verifiers[options.chainId];
  if (!verifier) return null;
  const isValid = await withTimeout(
    verifier.verifyMessage({ address: address as Hex, message, signature }).catch((cause: unknown) => {
      throw new LatchkeyError('SIWE_VERIFIER_UNAVAILABLE', { cause });
    }),
    options.smartAccounts?.timeoutMs ?? 5000,
    () => new LatchkeyError('SIWE_VERIFIER_UNAVAILABLE', { message: 'Smart-account verification timed out.' }),
  );
  return isValid ? 'contract' : null;
}
