import { LatchkeyError } from '../errors/index.js';

/**
 * The fields of a CAIP-122 sign-in message: EIP-4361 (Sign-In with Ethereum) and its Solana
 * sibling share one text format and differ only in the chain's name and address and chain-id
 * grammar. Times stay the strings that were signed; `toMillis` reads them.
 */
export interface SignInMessage {
  scheme?: string;
  domain: string;
  address: string;
  statement?: string;
  uri: string;
  version: '1';
  chainId: string;
  nonce: string;
  issuedAt: string;
  expirationTime?: string;
  notBefore?: string;
  requestId?: string;
  resources?: string[];
}

/** What one chain family changes in the shared grammar. */
export interface SignInFamily {
  /** The word in "…sign in with your <chainName> account:". */
  chainName: string;
  /** The error code for a malformed message. */
  invalidCode: 'SIWE_MESSAGE_INVALID' | 'SIWS_MESSAGE_INVALID';
  /** Checks (and may normalise) the address line; returns null when it is not an address. */
  address(text: string): string | null;
  /** The Chain ID line's grammar. */
  chainId: RegExp;
  /** Whether the Chain ID line may be left out (EIP-4361: no; Solana: yes). */
  isChainIdOptional: boolean;
  /**
   * Whether "URI:" may follow the address after a single empty line when there is no statement
   * (the Solana wallet-standard layout). EIP-4361 always has two.
   */
  isSingleBlankAllowed: boolean;
}

// RFC 3986 pieces, as EIP-4361's ABNF uses them.
const UNRESERVED = 'A-Za-z0-9\\-._~';
const SUB_DELIMS = "!$&'()*+,;=";
const PCT = '%[0-9A-Fa-f]{2}';
const SCHEME = /^[A-Za-z][A-Za-z0-9+\-.]*$/;
/** RFC 3986 authority whose host is a DNS name (RFC 4501), an IPv4 address or an IP literal. */
const AUTHORITY = new RegExp(
  `^(?:(?:[${UNRESERVED}${SUB_DELIMS}:]|${PCT})*@)?(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?$`,
);
const URI = new RegExp(`^[A-Za-z][A-Za-z0-9+\\-.]*:(?:[${UNRESERVED}${SUB_DELIMS}:@/?#\\[\\]]|${PCT})*$`);
const PCHAR = new RegExp(`^(?:[${UNRESERVED}${SUB_DELIMS}:@]|${PCT})*$`);
const STATEMENT = new RegExp(`^[${UNRESERVED}${SUB_DELIMS}:@/?#\\[\\] ]*$`);
const NONCE = /^[A-Za-z0-9]{8,}$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** True for an RFC 3339 `date-time` with real calendar values. */
export function isDateTime(value: string): boolean {
  const m = DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 60) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return Number.isFinite(Date.parse(value));
}

/** Milliseconds since the epoch of a `date-time` the parser accepted. */
export function toMillis(value: string): number {
  return Date.parse(value);
}

export const isUri = (value: string): boolean => URI.test(value);

function fail(family: SignInFamily, line: number, reason: string): LatchkeyError {
  return new LatchkeyError(family.invalidCode, { message: `line ${line}: ${reason}`, field: 'message' });
}

/**
 * Parses a sign-in message exactly per the ABNF of EIP-4361 (with the family's chain name).
 * Anything else gets the family's MESSAGE_INVALID error naming the 1-based line; nothing else is thrown.
 */
export function parseSignInMessage(text: unknown, family: SignInFamily): SignInMessage {
  if (typeof text !== 'string') throw fail(family, 1, 'message must be a string');
  if (text.length > 16_384) throw fail(family, 1, 'message is longer than 16384 characters');
  const lines = text.split('\n');
  let n = 0;
  const next = (): string | undefined => lines[n++];

  const header = next() ?? '';
  const suffix = ` wants you to sign in with your ${family.chainName} account:`;
  if (!header.endsWith(suffix)) throw fail(family, 1, `expected "<domain>${suffix}"`);
  let origin = header.slice(0, -suffix.length);
  let scheme: string | undefined;
  const sep = origin.indexOf('://');
  if (sep >= 0) {
    scheme = origin.slice(0, sep);
    origin = origin.slice(sep + 3);
    if (!SCHEME.test(scheme)) throw fail(family, 1, 'scheme is not an RFC 3986 scheme');
  }
  if (!AUTHORITY.test(origin)) throw fail(family, 1, 'domain is not an RFC 3986 authority');

  const addressLine = next();
  const address = addressLine === undefined ? null : family.address(addressLine);
  if (address === null) throw fail(family, 2, `expected a ${family.chainName} address`);
  if (next() !== '') throw fail(family, 3, 'expected an empty line');

  let statement: string | undefined;
  const afterBlank = next();
  if (afterBlank === undefined) throw fail(family, n, 'message ends early');
  if (afterBlank !== '') {
    if (afterBlank.startsWith('URI: ')) {
      if (!family.isSingleBlankAllowed) throw fail(family, n, 'expected an empty line before "URI:"');
      n--;
    } else {
      if (!STATEMENT.test(afterBlank)) throw fail(family, n, 'statement has characters EIP-4361 does not allow');
      statement = afterBlank;
      if (next() !== '') throw fail(family, n, 'expected an empty line after the statement');
    }
  }

  const tagged = (tag: string, isRequired: boolean): string | undefined => {
    const line = lines[n];
    if (line?.startsWith(`${tag}: `)) {
      n++;
      return line.slice(tag.length + 2);
    }
    if (isRequired) throw fail(family, n + 1, `expected "${tag}: …"`);
    return undefined;
  };

  const uri = tagged('URI', true)!;
  if (!isUri(uri)) throw fail(family, n, 'URI is not an RFC 3986 URI');
  const version = tagged('Version', true);
  if (version !== '1') throw fail(family, n, 'Version must be 1');
  const chainId = tagged('Chain ID', !family.isChainIdOptional);
  if (chainId !== undefined && !family.chainId.test(chainId)) throw fail(family, n, 'Chain ID is malformed');
  const nonce = tagged('Nonce', true)!;
  if (!NONCE.test(nonce)) throw fail(family, n, 'Nonce must be at least 8 letters or digits');
  const issuedAt = tagged('Issued At', true)!;
  if (!isDateTime(issuedAt)) throw fail(family, n, 'Issued At is not an RFC 3339 date-time');
  const expirationTime = tagged('Expiration Time', false);
  if (expirationTime !== undefined && !isDateTime(expirationTime))
    throw fail(family, n, 'Expiration Time is not an RFC 3339 date-time');
  const notBefore = tagged('Not Before', false);
  if (notBefore !== undefined && !isDateTime(notBefore)) throw fail(family, n, 'Not Before is not an RFC 3339 date-time');
  let requestId: string | undefined;
  if (lines[n] === 'Request ID:' || lines[n]?.startsWith('Request ID: ')) {
    requestId = lines[n++]!.slice('Request ID:'.length).replace(/^ /, '');
    if (!PCHAR.test(requestId)) throw fail(family, n, 'Request ID has characters EIP-4361 does not allow');
  }
  let resources: string[] | undefined;
  if (lines[n] === 'Resources:') {
    n++;
    resources = [];
    while (n < lines.length) {
      const line = lines[n++]!;
      if (!line.startsWith('- ') || !isUri(line.slice(2))) throw fail(family, n, 'expected "- <URI>"');
      resources.push(line.slice(2));
    }
  }
  if (n < lines.length) throw fail(family, n + 1, 'unexpected line');

  const message: SignInMessage = { domain: origin, address, uri, version: '1', chainId: chainId ?? '', nonce, issuedAt };
  if (scheme !== undefined) message.scheme = scheme;
  if (statement !== undefined) message.statement = statement;
  if (expirationTime !== undefined) message.expirationTime = expirationTime;
  if (notBefore !== undefined) message.notBefore = notBefore;
  if (requestId !== undefined) message.requestId = requestId;
  if (resources !== undefined) message.resources = resources;
  return message;
}

/** Message fields as callers write them: times may be Dates, the version is implied. */
export interface SignInFields extends Omit<SignInMessage, 'chainId' | 'version' | 'issuedAt' | 'expirationTime' | 'notBefore'> {
  chainId?: number | string;
  version?: '1';
  issuedAt: string | Date;
  expirationTime?: string | Date;
  notBefore?: string | Date;
}

const iso = (value: string | Date): string => (value instanceof Date ? value.toISOString() : value);

/** Fills in the version and writes times as RFC 3339 strings. */
export function toSignInMessage(fields: SignInFields): SignInMessage {
  const { expirationTime, notBefore, issuedAt, chainId, ...rest } = fields;
  const message: SignInMessage = {
    ...rest,
    version: '1',
    chainId: chainId === undefined ? '' : String(chainId),
    issuedAt: iso(issuedAt),
  };
  if (expirationTime !== undefined) message.expirationTime = iso(expirationTime);
  if (notBefore !== undefined) message.notBefore = iso(notBefore);
  return message;
}

/** Formats fields as the message a wallet signs; refuses fields the grammar would not parse back. */
export function formatSignInMessage(fields: SignInMessage, family: SignInFamily): string {
  const origin = fields.scheme ? `${fields.scheme}://${fields.domain}` : fields.domain;
  const lines = [`${origin} wants you to sign in with your ${family.chainName} account:`, fields.address, ''];
  if (fields.statement) lines.push(fields.statement, '');
  else if (!family.isSingleBlankAllowed) lines.push('');
  lines.push(`URI: ${fields.uri}`, `Version: ${fields.version}`);
  if (fields.chainId !== '' || !family.isChainIdOptional) lines.push(`Chain ID: ${fields.chainId}`);
  lines.push(`Nonce: ${fields.nonce}`, `Issued At: ${fields.issuedAt}`);
  if (fields.expirationTime !== undefined) lines.push(`Expiration Time: ${fields.expirationTime}`);
  if (fields.notBefore !== undefined) lines.push(`Not Before: ${fields.notBefore}`);
  if (fields.requestId !== undefined) lines.push(`Request ID: ${fields.requestId}`);
  if (fields.resources !== undefined) lines.push('Resources:', ...fields.resources.map((r) => `- ${r}`));
  const text = lines.join('\n');
  parseSignInMessage(text, family);
  return text;
}
