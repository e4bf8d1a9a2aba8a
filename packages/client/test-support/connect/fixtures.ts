import { ed25519 } from '@noble/curves/ed25519';
import { base58 } from '@scure/base';
import type { Hex, TransactionSerializable } from 'viem';
import { keccak256 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { ConnectDapp, type ConnectDappOptions, type ConnectSession } from '../../src/connect/dapp.js';
import type { EthereumConnectSigner, SolanaConnectSigner } from '../../src/connect/signers.js';
import { ethereumSigner } from '../../src/connect/signers.js';
import { ConnectWallet, type ConnectWalletOptions } from '../../src/connect/wallet.js';

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public ms: number = Date.now()) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** An Ethereum signer on a fresh key; `broadcast` records what eth_sendTransaction "sent". */
export function evmSigner(): { signer: EthereumConnectSigner; broadcast: Hex[] } {
  const account = privateKeyToAccount(generatePrivateKey());
  const broadcast: Hex[] = [];
  const signer = ethereumSigner(account, {
    chainId: 1,
    sendTransaction: async (tx: TransactionSerializable) => {
      const raw = await account.signTransaction(tx);
      broadcast.push(raw);
      return keccak256(raw);
    },
  });
  return { signer, broadcast };
}

/** A Solana signer on a fresh Ed25519 key. */
export function solanaSigner(): SolanaConnectSigner {
  const seed = ed25519.utils.randomPrivateKey();
  return {
    chainType: 'solana',
    chainId: '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
    address: base58.encode(ed25519.getPublicKey(seed)),
    signMessage: async (message) => ed25519.sign(message, seed),
  };
}

/** Resolves with the next `event` an emitter emits (rejects after `ms`). */
export function next<T>(emitter: object, event: string, ms = 5000): Promise<T> {
  const once = (emitter as { once(e: string, l: (v: T) => void): unknown }).once.bind(emitter);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Closes every dApp and wallet a test made. */
export class Peers {
  readonly #all: { disconnect(): Promise<void> }[] = [];

  dapp(options: ConnectDappOptions): ConnectDapp {
    const dapp = new ConnectDapp({ connectTimeoutMs: 3000, ackTimeoutMs: 3000, ...options });
    this.#all.push(dapp);
    return dapp;
  }

  wallet(options: ConnectWalletOptions = {}): ConnectWallet {
    const wallet = new ConnectWallet({ connectTimeoutMs: 3000, ackTimeoutMs: 3000, ...options });
    this.#all.push(wallet);
    return wallet;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#all.map((p) => p.disconnect()));
  }
}

/** A dApp and a wallet connected through `relay`, the wallet approving everything unless told otherwise. */
export async function connectPair(
  peers: Peers,
  relay: string,
  options: {
    signer: EthereumConnectSigner | SolanaConnectSigner;
    dapp?: Partial<ConnectDappOptions>;
    wallet?: ConnectWalletOptions;
  },
): Promise<{ dapp: ConnectDapp; wallet: ConnectWallet; session: ConnectSession; uri: string }> {
  const dapp = peers.dapp({ relay, ...options.dapp });
  const wallet = peers.wallet(options.wallet);
  wallet.onRequest(() => true);
  const { uri } = await dapp.createChannel();
  const connected = next<ConnectSession>(dapp, 'session_connected');
  await wallet.connect(uri, options.signer);
  return { dapp, wallet, session: await connected, uri };
}
