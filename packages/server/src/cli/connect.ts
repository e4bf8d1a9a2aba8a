import type { ConnectSession } from '@latchkey/client/connect';
import { APP_ID_PATTERN } from '@latchkey/core';
import { isConnectError, normalizeRelayUrl } from '@latchkey/protocol/connect';
import { toHex } from 'viem';
import { UsageError } from '../config/index.js';
import { type FlagValues, stringFlag } from './args.js';
import type { Command } from './commands.js';
import { type CliIo, time } from './output.js';

/** The variable that stands in for `--server`. */
export const SERVER_ENV = 'LATCHKEY_SERVER';
const DEFAULT_SERVER = 'http://127.0.0.1:8787';
/** How long `latchkey connect` waits for the wallet (to connect, then to answer), seconds. */
const DEFAULT_TIMEOUT_SECONDS = 300;

/** `CODE: message` for a connect or HTTP refusal, the message alone for anything else. */
export function describeFailure(error: unknown): string {
  if (isConnectError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** A whole number of seconds from a flag, 1..max. */
export function secondsFlag(values: FlagValues, name: string, max: number): number | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,7}$/.test(text) || Number(text) < 1 || Number(text) > max)
    throw new UsageError(`--${name}`, `expected whole seconds from 1 to ${max}, got "${text.slice(0, 32)}"`);
  return Number(text);
}

/** Why waiting stopped before the work settled. */
export class Stopped extends Error {
  override readonly name = 'Stopped';
  constructor(readonly reason: 'timeout' | 'interrupted') {
    super(reason === 'timeout' ? 'timed out (--timeout)' : 'interrupted');
  }
}

/**
 * Settles with `work`, or rejects with {@link Stopped} after `ms` (null: never) or on Ctrl-C / SIGTERM.
 * The signal handlers are removed again either way.
 */
export function untilStopped<T>(work: Promise<T>, ms: number | null): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onSignal = (): void => finish(() => reject(new Stopped('interrupted')));
    const timer = ms === null ? undefined : setTimeout(() => finish(() => reject(new Stopped('timeout'))), ms);
    function finish(settle: () => void): void {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      settle();
    }
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    work.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error)),
    );
  });
}

function serverOf(io: CliIo, values: FlagValues): string {
  const flag = stringFlag(values, 'server');
  const fromEnv = io.env[SERVER_ENV];
  const [text, source] = flag !== undefined ? [flag, '--server'] : fromEnv ? [fromEnv, SERVER_ENV] : [DEFAULT_SERVER, '--server'];
  try {
    return normalizeRelayUrl(text);
  } catch {
    throw new UsageError(
      source,
      `expected the Latchkey server's URL, https://host[:port][/path] (http only on localhost), got "${text.slice(0, 100)}"`,
    );
  }
}

interface IssuedAnswer {
  session?: { id?: string; account?: string; expiresAt?: number };
  token?: string;
  refreshToken?: string;
  error?: { code?: string; message?: string };
}

/** Posts the wallet's session token to the server's session bridge and prints the Latchkey session. */
async function exchange(io: CliIo, server: string, session: ConnectSession, app: string | undefined): Promise<void> {
  if (!session.sessionToken) throw new Error('the wallet sent no session token (an old wallet), so there is nothing to exchange');
  const url = `${server}/v1/auth/connect`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(app === undefined ? {} : { 'latchkey-app': app }) },
      body: JSON.stringify({ sessionToken: session.sessionToken, uuid: session.uuid, deviceId: 'latchkey-cli' }),
    });
  } catch (error) {
    throw new Error(`cannot reach ${url} (${(error as Error).message})`);
  }
  const answer = (await response.json().catch(() => ({}))) as IssuedAnswer;
  if (!response.ok || !answer.session?.id) {
    const { code = 'UNKNOWN', message = 'no error body' } = answer.error ?? {};
    throw new Error(`POST /v1/auth/connect answered ${response.status} ${code}: ${message}`);
  }
  io.out(`Latchkey session: ${answer.session.id}\n`);
  io.out(`  account: ${answer.session.account}\n`);
  if (answer.session.expiresAt !== undefined) io.out(`  expires: ${time(answer.session.expiresAt)}\n`);
  io.out(`  bearer token: ${answer.token}\n`);
  io.out(`  refresh token: ${answer.refreshToken}\n`);
}

async function connectDapp(io: CliIo, values: FlagValues): Promise<number> {
  const server = serverOf(io, values);
  const app = stringFlag(values, 'app');
  if (app !== undefined && !APP_ID_PATTERN.test(app)) throw new UsageError('--app', `an app id matches ${APP_ID_PATTERN.source}`);
  const message = stringFlag(values, 'sign');
  if (message !== undefined && message.length > 4096) throw new UsageError('--sign', 'at most 4096 characters');
  const timeoutMs = (secondsFlag(values, 'timeout', 3600) ?? DEFAULT_TIMEOUT_SECONDS) * 1000;

  // Loaded here, not at start: the other commands never need the SDK or the QR renderer.
  const [{ ConnectDapp }, { default: QRCode }] = await Promise.all([import('@latchkey/client/connect'), import('qrcode')]);
  const dapp = new ConnectDapp({
    relay: server,
    channelTtlMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
    connectTimeoutMs: Math.min(10_000, timeoutMs),
  });
  try {
    const channel = await dapp.createChannel().catch((error: unknown) => {
      const hint = isConnectError(error, 'RELAY_UNAVAILABLE')
        ? ` (is a Latchkey server with its relay on at ${server}? --server)`
        : '';
      throw new Error(`${describeFailure(error)}${hint}`);
    });
    const connected = new Promise<ConnectSession>((resolve, reject) => {
      dapp.once('session_connected', resolve);
      dapp.once('disconnected', ({ reason }) =>
        reject(
          new Error(
            reason === 'channel_expired' ? 'no wallet connected before the QR code expired' : `the channel closed (${reason})`,
          ),
        ),
      );
    });
    connected.catch(() => {}); // awaited below; a rejection after a timeout must not go unhandled
    dapp.on('error', (error) => io.err(`warning: refused a message from the wallet: ${describeFailure(error)}\n`));
    io.out(`${(await QRCode.toString(channel.uri, { type: 'utf8', errorCorrectionLevel: 'M', margin: 2 })).trimEnd()}\n`);
    io.out(`URI: ${channel.uri}\n`);
    io.err(
      `Waiting for a wallet until ${time(channel.expiresAt)}. Scan the code with a wallet, or run:\n` +
        `  latchkey wallet connect '${channel.uri}' --key-file KEY\n`,
    );
    const session = await untilStopped(connected, timeoutMs);
    io.out(`Connected: ${session.account ?? 'an old wallet (it sent no session token, so no address is known)'}\n`);
    if (session.address) io.out(`Address: ${session.address}\n`);
    io.out(`Session token: ${session.expiresAt === null ? 'no' : `yes, expires ${time(session.expiresAt)}`}\n`);
    if (values.exchange) await exchange(io, server, session, app);
    if (message !== undefined) {
      if (!session.address) throw new Error('an old wallet names no address, so it cannot be asked to sign (--sign)');
      io.err(`Asking the wallet to sign ${JSON.stringify(message)}…\n`);
      const signature = await untilStopped(dapp.request('personal_sign', [toHex(message), session.address]), null);
      io.out(`Signature: ${String(signature)}\n`);
    }
    return 0;
  } catch (error) {
    throw new Error(describeFailure(error));
  } finally {
    await dapp.disconnect();
  }
}

export const connectCommand: Command = {
  path: ['connect'],
  summary: 'Show a QR-connect code (dApp side), wait for a wallet, optionally exchange its token and ask it to sign.',
  usage: 'latchkey connect [--server URL] [--exchange] [--sign MESSAGE] [--app ID] [--timeout SECONDS]',
  details: [
    "Opens a channel on the server's relay, prints the QR code and its URI, and waits for a wallet to scan it",
    "(a phone wallet, or `latchkey wallet connect URI --key-file KEY`). Then prints the wallet's account and address",
    'and whether it sent a session token. --exchange posts that token to POST /v1/auth/connect and prints the',
    'Latchkey session (its bearer token included). --sign sends a personal_sign request and prints the signature.',
    'Exits 0 when everything asked for is done, 1 when the wallet never came, refused, or the server said no.',
  ].join('\n'),
  flags: {
    server: {
      type: 'string',
      value: 'URL',
      description: `the Latchkey server (its relay and its API), default ${DEFAULT_SERVER}`,
      env: SERVER_ENV,
    },
    exchange: { type: 'boolean', description: "exchange the wallet's session token for a Latchkey session" },
    sign: { type: 'string', value: 'MESSAGE', description: 'ask the wallet to personal_sign this text' },
    app: { type: 'string', value: 'ID', description: 'the app to exchange the token in (Latchkey-App; default: default)' },
    timeout: {
      type: 'string',
      value: 'SECONDS',
      description: `how long the QR code is offered, and how long to wait for the signature (default ${DEFAULT_TIMEOUT_SECONDS})`,
    },
  },
  run: (io, values) => connectDapp(io, values),
};
