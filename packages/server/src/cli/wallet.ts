import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type {
  ConnectWallet,
  EthereumConnectSigner,
  ethereumSigner as EthereumSigner,
  WalletDisconnectReason,
  WalletSignRequest,
} from '@latchkey/client/connect';
import { parseConnectUri } from '@latchkey/protocol/connect';
import { formatEther, formatGwei, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { UsageError } from '../config/index.js';
import { type FlagValues, stringFlag } from './args.js';
import type { Command } from './commands.js';
import { describeFailure, Stopped, secondsFlag, untilStopped } from './connect.js';
import { type CliIo, time } from './output.js';

/** The variable that stands in for `--key-file`. */
export const KEY_FILE_ENV = 'LATCHKEY_WALLET_KEY_FILE';

/**
 * Reads a hex private key from a file the way ssh reads its keys: a file that anyone but its owner may
 * read or write is refused. The key never appears in a message.
 */
export function readKeyFile(cwd: string, path: string, source: string): Hex {
  const file = resolve(cwd, path);
  let mode: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new UsageError(source, `${path} is not a file`);
    mode = stat.mode & 0o777;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(source, `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new UsageError(
      source,
      `${path} is accessible by others (mode ${mode.toString(8).padStart(4, '0')}); a private key must be readable by its owner only: chmod 600 ${path}`,
    );
  }
  const text = readFileSync(file, 'utf8').trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text)) {
    throw new UsageError(source, `${path} does not hold a hex private key (64 hex digits, 0x optional)`);
  }
  return (text.startsWith('0x') ? text : `0x${text}`) as Hex;
}

/** Characters that reorder, hide or control what a terminal shows: bidi and other format characters, C0/C1 controls, separators, lone surrogates. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

/** `text` with every invisible character written as `\u{…}`, so what the terminal shows is what was sent. */
function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`);
}

/** `text` in double quotes, escaped: `\\`, `\"`, `\n`, `\t`, `\r`, and every other invisible character as `\u{…}`. */
function quoted(text: string): string {
  const escaped = text.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r');
  return `"${visible(escaped)}"`;
}

/** How many bytes of long data (calldata, a message that is not text) are shown. */
const SHOWN_BYTES = 68;

function bytesShown(bytes: number, hex: string): string {
  const shown = hex.slice(0, 2 + SHOWN_BYTES * 2);
  return `${bytes} bytes, ${shown}${shown.length < hex.length || bytes > SHOWN_BYTES ? '…' : ''}`;
}

function wei(amount: bigint, unit: 'ether' | 'gwei'): string {
  return `${amount} wei (${unit === 'ether' ? formatEther(amount) : formatGwei(amount)} ${unit})`;
}

function json(value: unknown): string {
  return visible(JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null');
}

/**
 * The request as it will be signed, from the SDK's decoded summary: a transaction's `to`, `value` and
 * `chainId` and a typed-data domain first, whatever order the dApp sent; only long data is cut.
 */
function describeRequest(request: WalletSignRequest): string {
  const { summary } = request;
  if (summary.kind === 'message') {
    const shown =
      summary.encoding === 'utf8' ? quoted(summary.content) : `${bytesShown(summary.bytes, summary.content)} (not UTF-8)`;
    return `${request.method} of ${shown}`;
  }
  const lines: string[] = [request.method];
  const field = (name: string, value: string): void => {
    lines.push(`  ${name}: ${value}`);
  };
  if (summary.kind === 'typedData') {
    const { domain } = summary;
    field('domain.name', domain.name === null ? '(none)' : quoted(domain.name));
    field('domain.chainId', domain.chainId === null ? '(none)' : visible(domain.chainId));
    const contract = domain.verifyingContract;
    field(
      'domain.verifyingContract',
      contract === null ? '(none)' : /^0x[0-9a-fA-F]{40}$/.test(contract) ? contract : quoted(contract),
    );
    if (domain.version !== null) field('domain.version', quoted(domain.version));
    if (domain.salt !== null) field('domain.salt', quoted(domain.salt));
    field('primaryType', quoted(summary.primaryType));
    field('message', json(summary.message));
    return lines.join('\n');
  }
  field('to', summary.to ?? '(none: creates a contract)');
  field('value', wei(summary.value, 'ether'));
  field('chainId', String(summary.chainId));
  if (summary.data !== null && summary.data.bytes > 0) field('data', bytesShown(summary.data.bytes, summary.data.prefix));
  if (summary.gas !== null) field('gas', String(summary.gas));
  if (summary.nonce !== null) field('nonce', String(summary.nonce));
  if (summary.type !== null) field('type', summary.type);
  if (summary.gasPrice !== null) field('gasPrice', wei(summary.gasPrice, 'gwei'));
  if (summary.maxFeePerGas !== null) field('maxFeePerGas', wei(summary.maxFeePerGas, 'gwei'));
  if (summary.maxPriorityFeePerGas !== null) field('maxPriorityFeePerGas', wei(summary.maxPriorityFeePerGas, 'gwei'));
  return lines.join('\n');
}

const REASONS: Record<WalletDisconnectReason, string> = {
  closed: 'closed',
  dapp_disconnected: 'the dApp disconnected',
  channel_expired: 'the channel expired',
  relay_closed: 'the relay closed the connection',
};

/** The key as an EIP-155 signer that prints every signature it makes once connected. */
function printingSigner(
  io: CliIo,
  ethereumSigner: typeof EthereumSigner,
  wallet: { key: Hex; chainId: number },
  isConnected: () => boolean,
): EthereumConnectSigner {
  const base = ethereumSigner(privateKeyToAccount(wallet.key), { chainId: wallet.chainId });
  const printed = async (signature: Promise<Hex>): Promise<Hex> => {
    const value = await signature;
    if (isConnected()) io.out(`Signed: ${value}\n`);
    return value;
  };
  return {
    ...base,
    signMessage: (args) => printed(base.signMessage(args)),
    signTypedData: (typedData) => printed(base.signTypedData!(typedData)),
    signTransaction: (transaction) => printed(base.signTransaction!(transaction)),
  };
}

async function walletConnect(io: CliIo, values: FlagValues, positionals: readonly string[]): Promise<number> {
  const uri = positionals[0];
  if (uri === undefined) throw new UsageError('URI', "required: the dApp's latchkey:connect?… URI (quote it, it holds &)");
  try {
    parseConnectUri(uri, { now: Date.now() });
  } catch (error) {
    throw new UsageError('URI', describeFailure(error));
  }
  const fromEnv = io.env[KEY_FILE_ENV];
  const keyPath = stringFlag(values, 'key-file') ?? (fromEnv ? fromEnv : undefined);
  if (keyPath === undefined) throw new UsageError('--key-file', 'required (a file holding the hex private key, mode 0600)');
  const key = readKeyFile(io.cwd, keyPath, stringFlag(values, 'key-file') === undefined ? KEY_FILE_ENV : '--key-file');
  const chainText = stringFlag(values, 'chain-id') ?? '1';
  if (!/^[1-9][0-9]{0,15}$/.test(chainText))
    throw new UsageError('--chain-id', `expected an EIP-155 chain id, got "${chainText.slice(0, 32)}"`);
  const timeoutSeconds = secondsFlag(values, 'timeout', 30 * 86_400);
  const isApprovingAll = values['approve-all'] === true;

  // Loaded here, not at start: the other commands never need the SDK.
  const sdk = await import('@latchkey/client/connect');
  let isConnected = false;
  const signer = printingSigner(io, sdk.ethereumSigner, { key, chainId: Number(chainText) }, () => isConnected);
  const wallet: ConnectWallet = new sdk.ConnectWallet();
  wallet.onRequest(async (request) => {
    io.out(`Request: ${describeRequest(request)}\n`);
    if (isApprovingAll) {
      io.out('Approved (--approve-all).\n');
      return true;
    }
    if (!io.ask) {
      io.err('warning: no terminal to ask, so the request is refused (--approve-all approves without asking)\n');
      return false;
    }
    const isApproved = /^y(es)?$/i.test((await io.ask(`Sign it as ${request.account}? [y/N] `)).trim());
    if (!isApproved) io.out('Refused.\n');
    return isApproved;
  });
  wallet.on('error', (error) => io.err(`warning: refused a request: ${describeFailure(error)}\n`));
  const ended = new Promise<WalletDisconnectReason>((resolve) => wallet.once('disconnected', ({ reason }) => resolve(reason)));

  let session: Awaited<ReturnType<ConnectWallet['connect']>>;
  try {
    session = await untilStopped(wallet.connect(uri, signer), 60_000);
  } catch (error) {
    await wallet.disconnect();
    throw new Error(describeFailure(error));
  }
  isConnected = true;
  io.out(`Connected to ${session.relay} as ${session.account}\n`);
  io.out(`  channel: ${session.uuid}\n`);
  io.out(`  session token expires: ${time(session.expiresAt)}\n`);
  io.err(`Waiting for requests${isApprovingAll ? ' (approving all)' : ''}; Ctrl-C disconnects.\n`);
  try {
    const reason = await untilStopped(ended, timeoutSeconds === undefined ? null : timeoutSeconds * 1000);
    io.out(`Disconnected: ${REASONS[reason]}.\n`);
  } catch (error) {
    if (!(error instanceof Stopped)) throw error;
    await wallet.disconnect();
    io.out(`Disconnected: ${error.reason === 'timeout' ? '--timeout reached' : 'interrupted'}.\n`);
  }
  return 0;
}

export const walletConnectCommand: Command = {
  path: ['wallet', 'connect'],
  summary: "A development wallet: connect to a dApp's QR-connect URI with a key file and sign what it asks.",
  usage: 'latchkey wallet connect URI --key-file PATH [--chain-id ID] [--approve-all] [--timeout SECONDS]',
  details: [
    'Signs a session token for the channel with the key (EIP-191), sends it to the dApp through the relay named',
    'in the URI, then answers sign requests: personal_sign, eth_signTypedData_v4 and eth_signTransaction. Each',
    "request is shown as it will be signed (a transaction's to, value and chainId first) and, on a terminal, asked",
    'about (y/N), one request at a time; without a terminal it is refused unless --approve-all.',
    'Prints every signature it makes. Runs until the dApp disconnects, the channel expires, --timeout, or Ctrl-C',
    '(which tells the dApp), then exits 0. The key file holds the hex private key and must be mode 0600 (like ssh,',
    'a file others can read is refused). For development keys only: never a key that holds funds.',
  ].join('\n'),
  arguments: [{ name: 'URI', description: 'the latchkey:connect?… URI the dApp shows (quote it: it holds &)' }],
  flags: {
    'key-file': {
      type: 'string',
      value: 'PATH',
      description: 'file holding the hex private key (mode 0600; never printed)',
      env: KEY_FILE_ENV,
    },
    'chain-id': { type: 'string', value: 'ID', description: 'the EIP-155 chain the wallet signs for (default 1)' },
    'approve-all': { type: 'boolean', description: 'approve every request without asking (development only)' },
    timeout: {
      type: 'string',
      value: 'SECONDS',
      description: 'disconnect and exit after this long (default: until the dApp disconnects or Ctrl-C)',
    },
  },
  run: (io, values, positionals) => walletConnect(io, values, positionals),
};
