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
import { type Hex, hexToString, isHex } from 'viem';
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

/** The text a personal_sign asks for when it is printable UTF-8, quoted; its hex otherwise. */
function shownMessage(param: unknown): string {
  if (typeof param !== 'string') return JSON.stringify(param);
  if (isHex(param)) {
    try {
      const text = hexToString(param);
      if (/^[\P{Cc}\n\t]*$/u.test(text)) return JSON.stringify(text);
    } catch {}
    return param.length > 130 ? `${param.slice(0, 130)}…` : param;
  }
  return JSON.stringify(param);
}

function describeRequest(request: WalletSignRequest): string {
  if (request.method === 'personal_sign' && Array.isArray(request.params))
    return `personal_sign of ${shownMessage(request.params[0])}`;
  const params = JSON.stringify(request.params);
  return `${request.method} ${params.length > 300 ? `${params.slice(0, 300)}…` : params}`;
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
    'request is shown and, on a terminal, asked about (y/N); without a terminal it is refused unless --approve-all.',
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
