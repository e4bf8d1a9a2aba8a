// §6 session token.
import { ed25519 } from '@noble/curves/ed25519';
import canonicalize from 'canonicalize';
import { getAddress, type Hex, isAddress, type LocalAccount, recoverMessageAddress } from 'viem';
import { b58Decode, b58Encode, b64uDecode, b64uEncode, bytesToHex, hexToBytes, utf8, utf8Decode } from './encoding.js';
import { fail } from './errors.js';
import { normalizeRelayUrl, UUID_RE } from './uri.js';

export type ChainType = 'eip155' | 'solana';

export interface Claims {
  v: 1;
  uuid: string;
  relay: string;
  chainType: ChainType;
  chainId: string;
  address: string;
  dappPublicKey: string;
  walletPublicKey: string;
  issuedAt: number;
  expiresAt: number;
}

const CLAIM_NAMES = [
  'v',
  'uuid',
  'relay',
  'chainType',
  'chainId',
  'address',
  'dappPublicKey',
  'walletPublicKey',
  'issuedAt',
  'expiresAt',
] as const;
const MAX_TIME = 253_402_300_799_999;
const SEVEN_DAYS = 604_800_000;
const SKEW = 60_000;

export const caip10 = (c: Pick<Claims, 'chainType' | 'chainId' | 'address'>): string =>
  `${c.chainType}:${c.chainId}:${c.address}`;

export function sessionTokenMessage(c: Claims): string {
  return [
    'Latchkey Connect session token',
    '',
    `Account: ${caip10(c)}`,
    `Channel: ${c.uuid}`,
    `Relay: ${c.relay}`,
    `dApp Key: ${c.dappPublicKey}`,
    `Wallet Key: ${c.walletPublicKey}`,
    `Issued At: ${new Date(c.issuedAt).toISOString()}`,
    `Expiration Time: ${new Date(c.expiresAt).toISOString()}`,
    'Version: 1',
  ].join('\n');
}

export type TokenSigner = { chainType: 'eip155'; account: LocalAccount } | { chainType: 'solana'; seed: Uint8Array };

export async function signClaims(claims: Claims, signer: TokenSigner): Promise<Uint8Array> {
  const message = sessionTokenMessage(claims);
  if (signer.chainType === 'eip155') {
    if (!signer.account.signMessage) throw new Error('account cannot sign messages');
    return hexToBytes(await signer.account.signMessage({ message }));
  }
  return ed25519.sign(utf8(message), signer.seed);
}

export function encodeSessionToken(claims: Claims, signature: Uint8Array): string {
  const json = canonicalize(claims);
  if (json === undefined) throw new Error('claims not serialisable');
  return `lkc1.${b64uEncode(utf8(json))}.${b64uEncode(signature)}`;
}

export async function createSessionToken(claims: Claims, signer: TokenSigner): Promise<string> {
  return encodeSessionToken(claims, await signClaims(claims, signer));
}

const bad = (field: string): never => fail('CONNECT_SESSION_TOKEN_INVALID', field);
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const isKey = (x: unknown): boolean => {
  if (typeof x !== 'string' || x.length !== 43) return false;
  return b64uDecode(x)?.length === 32;
};

function checkClaims(raw: unknown): Claims {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('claims');
  const obj = raw as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length !== CLAIM_NAMES.length || !CLAIM_NAMES.every((k) => Object.hasOwn(obj, k))) return bad('claims');
  if (obj.v !== 1) bad('v');
  if (typeof obj.uuid !== 'string' || !UUID_RE.test(obj.uuid)) bad('uuid');
  if (typeof obj.relay !== 'string') bad('relay');
  try {
    if (normalizeRelayUrl(obj.relay as string) !== obj.relay) bad('relay');
  } catch {
    bad('relay');
  }
  const chainType = obj.chainType;
  if (chainType !== 'eip155' && chainType !== 'solana') return bad('chainType');
  const chainId = obj.chainId;
  const address = obj.address;
  if (chainType === 'eip155') {
    if (typeof chainId !== 'string' || !/^[1-9][0-9]{0,19}$/.test(chainId)) bad('chainId');
    // GUESS: "the EIP-55 checksummed 0x address" is enforced by decoders (lower-case is refused).
    if (typeof address !== 'string' || !isAddress(address, { strict: false }) || getAddress(address) !== address) {
      bad('address');
    }
  } else {
    if (typeof chainId !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{32}$/.test(chainId)) bad('chainId');
    const pub = typeof address === 'string' ? b58Decode(address) : null;
    if (pub === null || pub.length !== 32 || b58Encode(pub) !== address) bad('address');
  }
  if (!isKey(obj.dappPublicKey)) bad('dappPublicKey');
  if (!isKey(obj.walletPublicKey)) bad('walletPublicKey');
  const { issuedAt, expiresAt } = obj;
  if (!isInt(issuedAt) || issuedAt < 0 || issuedAt > MAX_TIME) return bad('issuedAt');
  if (!isInt(expiresAt) || expiresAt <= issuedAt || expiresAt > issuedAt + SEVEN_DAYS) return bad('expiresAt');
  return obj as unknown as Claims;
}

export interface DecodedToken {
  claims: Claims;
  signature: Uint8Array;
}

export function decodeSessionToken(token: unknown): DecodedToken {
  if (typeof token !== 'string') return bad('sessionToken');
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 'lkc1') return bad('sessionToken');
  const [, mid = '', sigText = ''] = parts;
  if (mid.length === 0 || mid.length > 4096) return bad('claims');
  const bytes = b64uDecode(mid);
  const text = bytes === null ? null : utf8Decode(bytes);
  if (text === null) return bad('claims');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bad('claims');
  }
  const claims = checkClaims(parsed);
  if (canonicalize(parsed) !== text) bad('claims');
  const signature = b64uDecode(sigText);
  if (signature === null || signature.length !== (claims.chainType === 'eip155' ? 65 : 64)) bad('signature');
  return { claims, signature: signature as Uint8Array };
}

export interface Expected {
  uuid?: string;
  relay?: string;
  dappPublicKey?: string;
  walletPublicKey?: string;
  chainType?: ChainType;
  address?: string;
}

export async function verifySignature(claims: Claims, signature: Uint8Array): Promise<boolean> {
  const message = sessionTokenMessage(claims);
  if (claims.chainType === 'eip155') {
    // GUESS: §6.2 says v is 27 or 28; we refuse 0/1 as well.
    const v = signature[64];
    if (v !== 27 && v !== 28) return false;
    try {
      const recovered = await recoverMessageAddress({ message, signature: `0x${bytesToHex(signature)}` as Hex });
      return recovered.toLowerCase() === claims.address.toLowerCase();
    } catch {
      return false;
    }
  }
  const pub = b58Decode(claims.address);
  if (pub === null) return false;
  try {
    return ed25519.verify(signature, utf8(message), pub, { zip215: false });
  } catch {
    return false;
  }
}

/** §6.4, in the document's order. */
export async function verifySessionToken(token: unknown, expected: Expected, now: number): Promise<Claims> {
  const { claims, signature } = decodeSessionToken(token);
  if (expected.walletPublicKey !== undefined && claims.walletPublicKey !== expected.walletPublicKey) {
    fail('CONNECT_KEY_MISMATCH', 'walletPublicKey');
  }
  if (expected.uuid !== undefined && claims.uuid !== expected.uuid) bad('uuid');
  if (expected.relay !== undefined && claims.relay !== expected.relay) bad('relay');
  if (expected.dappPublicKey !== undefined && claims.dappPublicKey !== expected.dappPublicKey) bad('dappPublicKey');
  if (expected.chainType !== undefined && claims.chainType !== expected.chainType) bad('chainType');
  if (expected.address !== undefined) {
    const same =
      claims.chainType === 'eip155'
        ? claims.address.toLowerCase() === expected.address.toLowerCase()
        : claims.address === expected.address;
    if (!same) bad('address');
  }
  if (claims.issuedAt > now + SKEW) bad('issuedAt');
  if (!(now < claims.expiresAt)) fail('CONNECT_SESSION_TOKEN_EXPIRED', 'expiresAt');
  if (!(await verifySignature(claims, signature))) bad('signature');
  return claims;
}
