/**
 * The two relay checks of bench/relay.bench.ts beside throughput: many channels held open at once, and
 * the QR handshake's latency (scan → session_connected).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { io, type Socket } from 'socket.io-client';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { openPair, percentile } from './relay-load.js';

export interface HoldResult {
  channels: number;
  openSeconds: number;
  /** Channels whose request and response both arrived. */
  answered: number;
  /** Request → response round trip with every channel sending at once, ms. */
  p50: number;
  p99: number;
  rssBeforeMb: number | undefined;
  rssAfterMb: number | undefined;
  /** As the relay's /metrics reported them while all were open. */
  gaugeChannels: number | undefined;
  gaugeConnections: number | undefined;
}

function rssMb(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

async function gauge(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1];
  return value === undefined ? undefined : Number(value);
}

/** Opens `count` channels (a dApp and a wallet each), `batch` at a time, then has every one exchange a request and a response at once. */
export async function holdChannels(url: string, serverPid: number, count: number, batch = 100): Promise<HoldResult> {
  const rssBeforeMb = rssMb(serverPid);
  const start = performance.now();
  const pairs: Awaited<ReturnType<typeof openPair>>[] = [];
  try {
    for (let i = 0; i < count; i += batch) {
      const size = Math.min(batch, count - i);
      pairs.push(...(await Promise.all(Array.from({ length: size }, () => openPair('latchkey', url, url)))));
    }
    const openSeconds = (performance.now() - start) / 1000;
    const gaugeChannels = await gauge(url, 'latchkey_relay_channels_open');
    const gaugeConnections = await gauge(url, 'latchkey_relay_connections');
    const roundTrips = await Promise.all(
      pairs.map(
        ({ uuid, dapp, wallet }) =>
          new Promise<number>((resolve) => {
            const timer = setTimeout(() => resolve(Number.NaN), 30_000);
            wallet.on('request', () => wallet.send('response', uuid));
            const sentAt = performance.now();
            dapp.on('response', () => {
              clearTimeout(timer);
              resolve(performance.now() - sentAt);
            });
            dapp.send('request', uuid);
          }),
      ),
    );
    const answered = roundTrips.filter((ms) => !Number.isNaN(ms));
    const sorted = Float64Array.from(answered).sort();
    return {
      channels: count,
      openSeconds,
      answered: answered.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      rssBeforeMb,
      rssAfterMb: rssMb(serverPid),
      gaugeChannels,
      gaugeConnections,
    };
  } finally {
    for (const { dapp, wallet } of pairs) {
      dapp.close();
      wallet.close();
    }
  }
}

export interface HandshakeResult {
  /** 'sdk': ConnectDapp/ConnectWallet with the protocol's crypto; 'envelope': bare relay events. */
  level: 'sdk' | 'envelope';
  count: number;
  p50: number;
  p99: number;
  max: number;
}

type ConnectModule = typeof import('../packages/client/src/connect/index.js');

/**
 * `count` handshakes, `concurrency` at a time. Each dApp first creates its channel (the QR code is on
 * screen); the clock starts when the wallet "scans": it connects to the relay, joins, derives keys, signs
 * and seals its session token and sends connected_uuid; it stops when the dApp has opened and checked it
 * (`session_connected`). Without the SDK (it failed to load), envelope level: the wallet connects, joins
 * and sends connected_uuid; the clock stops when the dApp receives it.
 */
export async function handshakes(
  url: string,
  count: number,
  concurrency: number,
  level: 'sdk' | 'envelope' = 'sdk',
): Promise<HandshakeResult> {
  let sdk: ConnectModule | null = null;
  try {
    if (level === 'sdk') sdk = await import('../packages/client/src/connect/index.js');
  } catch {
    sdk = null;
  }
  const times: number[] = [];
  const signer = sdk?.ethereumSigner(privateKeyToAccount(generatePrivateKey()), { chainId: 1 });
  const one = async (): Promise<number> => {
    if (sdk && signer) {
      const dapp = new sdk.ConnectDapp({ relay: url });
      const wallet = new sdk.ConnectWallet();
      try {
        const { uri } = await dapp.createChannel();
        const connected = once(dapp as unknown as NodeJS.EventEmitter, 'session_connected');
        const start = performance.now();
        await wallet.connect(uri, signer);
        await connected;
        return performance.now() - start;
      } finally {
        await Promise.allSettled([dapp.disconnect(), wallet.disconnect()]);
      }
    }
    const scan = await envelopeChannel(url);
    return scan();
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        times.push(await one());
      }
    }),
  );
  const sorted = Float64Array.from(times).sort();
  return {
    level: sdk ? 'sdk' : 'envelope',
    count,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

/** The next `event` a socket.io client socket receives. */
function nextEvent(socket: Socket, event: string): Promise<unknown> {
  return new Promise((resolve) => socket.once(event, resolve));
}

/** Envelope level: the dApp joins; the function returned is the wallet's part, and answers its time. */
async function envelopeChannel(url: string): Promise<() => Promise<number>> {
  const uuid = randomUUID();
  const options = { path: '/v1/relay', transports: ['websocket'], forceNew: true, reconnection: false };
  const dapp = io(`${url}/connect`, options);
  await nextEvent(dapp, 'connect');
  await dapp.emitWithAck('join', { uuid, role: 'dapp', rejoinKey: randomBytes(24).toString('base64url') });
  return async () => {
    const arrived = nextEvent(dapp, 'connected_uuid');
    const start = performance.now();
    const wallet = io(`${url}/connect`, options);
    await nextEvent(wallet, 'connect');
    await wallet.emitWithAck('join', { uuid, role: 'wallet', rejoinKey: randomBytes(24).toString('base64url') });
    wallet.emit('connected_uuid', {
      uuid,
      publicKey: randomBytes(32).toString('base64url'),
      nonce: randomBytes(12).toString('base64url'),
      data: randomBytes(400).toString('base64url'),
    });
    await arrived;
    const ms = performance.now() - start;
    wallet.disconnect();
    dapp.disconnect();
    return ms;
  };
}
