import { isHex } from 'viem';
import { LatchkeyError } from '../errors/index.js';
import { toChecksumAddress } from '../subject/index.js';
import { type SmartAccountVerifier, verifyEthereumSignature } from './ethereum-signature.js';
import {
  formatSignInMessage,
  parseSignInMessage,
  type SignInFamily,
  type SignInFields,
  type SignInMessage,
  toMillis,
  toSignInMessage,
} from './message.js';
import { checkSignedFields, type SignInExpectations } from './verify.js';

export type { SmartAccountVerifier } from './ethereum-signature.js';

export const ETHEREUM_FAMILY: SignInFamily = Object.freeze({
  chainName: 'Ethereum',
  invalidCode: 'SIWE_MESSAGE_INVALID',
  // EIP-4361 asks for the EIP-55 form; an address in any other case is not the signed address line.
  address: (text: string) => (/^0x[0-9a-fA-F]{40}$/.test(text) && toChecksumAddress(text) === text ? text : null),
  chainId: /^[1-9][0-9]{0,19}$/,
  isChainIdOptional: false,
  isSingleBlankAllowed: false,
});

/** An EIP-4361 message's fields; `chainId` is the decimal string that was signed. */
export type SiweMessage = SignInMessage;

/** Parses an EIP-4361 message; a malformed one gets SIWE_MESSAGE_INVALID naming the line. */
export function parseSiweMessage(text: string): SiweMessage {
  return parseSignInMessage(text, ETHEREUM_FAMILY);
}

/** Formats the EIP-4361 message a wallet signs. The address is written in its EIP-55 form. */
export function formatSiweMessage(fields: SignInFields & { chainId: number | string }): string {
  const address = /^0x[0-9a-fA-F]{40}$/.test(fields.address) ? toChecksumAddress(fields.address) : fields.address;
  return formatSignInMessage(toSignInMessage({ ...fields, address }), ETHEREUM_FAMILY);
}

export interface SiweExpectations extends SignInExpectations {
  /** EIP-155 chain ids the app accepts. */
  chainIds: readonly number[];
}

export interface VerifySiweOptions {
  message: string;
  signature: string;
  expected: SiweExpectations;
  /** Smart-account verifiers by chain id. Without one, only EOA signatures verify on that chain. */
  verifiers?: Readonly<Record<number, SmartAccountVerifier>>;
  /** How long a smart-account check may take, in ms. Default 5000. */
  timeoutMs?: number;
}

export interface VerifiedSignIn {
  message: SignInMessage;
  /** CAIP-10 account of the signer. */
  account: string;
  /** `contract` when the signature verified through ERC-1271 / ERC-6492. */
  signer: 'eoa' | 'contract';
  /** The message's Expiration Time in ms, when it has one. */
  expiresAt?: number;
}

const SIWE_CODES = {
  domain: 'SIWE_DOMAIN_MISMATCH',
  uri: 'SIWE_URI_MISMATCH',
  chain: 'SIWE_CHAIN_NOT_ALLOWED',
  nonce: 'SIWE_NONCE_INVALID',
  expired: 'SIWE_EXPIRED',
  notYetValid: 'SIWE_NOT_YET_VALID',
} as const;

/**
 * Verifies a signed EIP-4361 message against the server's expectations: domain, URI origin, chain
 * id, nonce and time bounds first, then the signature (EIP-191 recovery; ERC-1271 / ERC-6492 through
 * the chain's verifier). The caller has already consumed the nonce. Every failure is a LatchkeyError
 * with its own code; a bad signature always says the same thing.
 */
export async function verifySiweMessage(options: VerifySiweOptions): Promise<VerifiedSignIn> {
  const message = parseSiweMessage(options.message);
  checkSignedFields(message, options.expected, SIWE_CODES);
  const chainId = Number(message.chainId);
  if (!Number.isSafeInteger(chainId) || !options.expected.chainIds.includes(chainId))
    throw new LatchkeyError('SIWE_CHAIN_NOT_ALLOWED');

  const signature = options.signature;
  if (typeof signature !== 'string' || !isHex(signature) || signature.length < 132)
    throw new LatchkeyError('SIWE_SIGNATURE_INVALID');
  const signer = await verifyEthereumSignature({
    message: options.message,
    signature,
    address: message.address,
    chainId,
    smartAccounts: options.verifiers
      ? { verifiers: options.verifiers, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) }
      : undefined,
  });
  if (signer === null) throw new LatchkeyError('SIWE_SIGNATURE_INVALID');
  const verified: VerifiedSignIn = { message, account: `eip155:${chainId}:${message.address}`, signer };
  if (message.expirationTime !== undefined) verified.expiresAt = toMillis(message.expirationTime);
  return verified;
}
