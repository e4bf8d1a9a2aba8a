import { getAddress, type Hex, stringToHex } from 'viem';
import { LatchkeyClientError } from '../errors/index.js';

/** An EIP-1193 provider (`window.ethereum`, WalletConnect, an injected wallet): only `request` is used. */
export interface Eip1193Provider {
  request(args: { method: string; params?: readonly unknown[] | object }): Promise<unknown>;
}

/** A viem LocalAccount (`privateKeyToAccount`, `mnemonicToAccount`) or anything shaped like one. */
export interface MessageSigner {
  address: Hex;
  signMessage(args: { message: string }): Promise<Hex>;
}

/** What `signIn` accepts: a wallet provider or a local account. */
export type WalletSigner = Eip1193Provider | MessageSigner;

/** The wallet as sign-in needs it: who it is, which chain it is on, and a way to sign a text message. */
export interface ResolvedSigner {
  address: Hex;
  /** The wallet's chain (EIP-1193 `eth_chainId`); undefined for a local account, which has none. */
  chainId: number | undefined;
  sign(message: string): Promise<Hex>;
}

function signerFailed(message: string, cause?: unknown): LatchkeyClientError {
  return new LatchkeyClientError('SIGNER_FAILED', { message, ...(cause === undefined ? {} : { cause }) });
}

function isProvider(signer: WalletSigner): signer is Eip1193Provider {
  return typeof (signer as Eip1193Provider).request === 'function';
}

async function ask(provider: Eip1193Provider, method: string, params?: readonly unknown[]): Promise<unknown> {
  try {
    return await provider.request(params === undefined ? { method } : { method, params });
  } catch (error) {
    // EIP-1193 4001: the user rejected. Any other failure is the wallet's; both are SIGNER_FAILED with the cause.
    const code = (error as { code?: unknown } | null)?.code;
    throw signerFailed(code === 4001 ? `${method}: the user rejected the request` : `${method} failed`, error);
  }
}

/** Reads the account and chain of a provider, or takes a local account as it is. */
export async function resolveSigner(signer: WalletSigner): Promise<ResolvedSigner> {
  if (typeof signer !== 'object' || signer === null)
    throw signerFailed('signIn: expected an EIP-1193 provider or a viem account');
  if (isProvider(signer)) {
    const accounts = await ask(signer, 'eth_requestAccounts');
    const first = Array.isArray(accounts) ? accounts[0] : undefined;
    if (typeof first !== 'string') throw signerFailed('eth_requestAccounts: the wallet gave no account');
    let address: Hex;
    try {
      address = getAddress(first);
    } catch (error) {
      throw signerFailed('eth_requestAccounts: not an Ethereum address', error);
    }
    const chain = await ask(signer, 'eth_chainId');
    const chainId = typeof chain === 'string' ? Number.parseInt(chain, 16) : typeof chain === 'number' ? chain : Number.NaN;
    if (!Number.isSafeInteger(chainId) || chainId <= 0) throw signerFailed('eth_chainId: not a chain id');
    return {
      address,
      chainId,
      async sign(message) {
        const signature = await ask(signer, 'personal_sign', [stringToHex(message), address]);
        if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]+$/.test(signature)) {
          throw signerFailed('personal_sign: the wallet gave no signature');
        }
        return signature as Hex;
      },
    };
  }
  if (typeof signer.signMessage !== 'function' || typeof signer.address !== 'string') {
    throw signerFailed('signIn: expected an EIP-1193 provider or a viem account');
  }
  return {
    address: getAddress(signer.address),
    chainId: undefined,
    async sign(message) {
      try {
        return await signer.signMessage({ message });
      } catch (error) {
        throw signerFailed('signMessage failed', error);
      }
    },
  };
}
