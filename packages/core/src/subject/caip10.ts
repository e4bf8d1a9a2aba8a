import { keccak_256 } from '@noble/hashes/sha3';
import { base58 } from '@scure/base';
import { LatchkeyError } from '../errors/index.js';
import type { ChainType } from '../session/record.js';

/** A wallet account, normalised: `account` is the CAIP-10 string Latchkey keys everything by. */
export interface WalletAccount {
  account: string;
  chainType: ChainType;
  /** eip155: decimal chain id; solana: the genesis-hash prefix. */
  reference: string;
  /** eip155: EIP-55 checksummed; solana: base58. */
  address: string;
}

const EIP155 = /^eip155:([1-9][0-9]{0,19}):(0x[0-9a-fA-F]{40})$/;
const SOLANA = /^solana:([1-9A-HJ-NP-Za-km-z]{32}):([1-9A-HJ-NP-Za-km-z]{32,44})$/;

/** EIP-55 mixed-case checksum of a 20-byte hex address. */
export function toChecksumAddress(address: string): string {
  const lower = address.slice(2).toLowerCase();
  const hash = keccak_256(new TextEncoder().encode(lower));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0x0f;
    const c = lower[i]!;
    out += nibble >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

function invalid(reason: string): LatchkeyError {
  return new LatchkeyError('VALIDATION_ACCOUNT_INVALID', { message: `account: ${reason}`, field: 'account' });
}

/**
 * Parses and normalises a CAIP-10 account. `0xabc…` and `0xABC…` name the same wallet; a
 * mixed-case address must carry a correct EIP-55 checksum, since a wrong one is a typo.
 *
 * @example parseAccount('eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045').account
 *   // 'eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045'
 */
export function parseAccount(input: string): WalletAccount {
  if (typeof input !== 'string') throw invalid('expected a string');
  const evm = EIP155.exec(input);
  if (evm) {
    const [, reference, raw] = evm as unknown as [string, string, string];
    const body = raw.slice(2);
    const checksummed = toChecksumAddress(raw);
    const isUniformCase = body === body.toLowerCase() || body === body.toUpperCase();
    if (!isUniformCase && checksummed !== raw) throw invalid('EIP-55 checksum does not match');
    return { account: `eip155:${reference}:${checksummed}`, chainType: 'eip155', reference, address: checksummed };
  }
  const sol = SOLANA.exec(input);
  if (sol) {
    const [, reference, address] = sol as unknown as [string, string, string];
    let length = 0;
    try {
      length = base58.decode(address).length;
    } catch {
      throw invalid('Solana address is not base58');
    }
    if (length !== 32) throw invalid('Solana address must decode to 32 bytes');
    return { account: `solana:${reference}:${address}`, chainType: 'solana', reference, address };
  }
  throw invalid('expected eip155:<chainId>:<0x address> or solana:<genesis hash prefix>:<base58 address>');
}
