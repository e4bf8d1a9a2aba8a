import type { ErrorCode } from '@latchkey/core';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ChannelHoldings } from './channels.js';
import type { MessageEvent } from './envelope.js';

/** Refusal codes the relay answers with: a bounded label set. */
export type RelayRefusal = Extract<
  ErrorCode,
  | 'RELAY_ENVELOPE_INVALID'
  | 'RELAY_PAYLOAD_TOO_LARGE'
  | 'RELAY_RATE_LIMITED'
  | 'CONNECT_CHANNEL_FULL'
  | 'CONNECT_CHANNEL_EXPIRED'
  | 'STORE_UNAVAILABLE'
>;

const EVENTS: readonly MessageEvent[] = ['connected_uuid', 'request', 'response'];

/** Per-event tallies kept as plain numbers: the per-message cost is one increment, read at scrape time. */
type Tally = Record<MessageEvent, number>;
const tally = (): Tally => ({ connected_uuid: 0, request: 0, response: 0 });

/** A counter by event whose values are the tally's, copied in when Prometheus scrapes. */
function eventCounter(registry: Registry, name: string, help: string, values: Tally): void {
  new Counter({
    name,
    help,
    labelNames: ['event'],
    registers: [registry],
    collect() {
      this.reset();
      for (const event of EVENTS) this.inc({ event }, values[event]);
    },
  });
}

/** The relay's Prometheus series, in the server's registry. Counters are per node; the gauges count what this node holds. */
export class RelayMetrics {
  readonly #forwarded = tally();
  readonly #buffered = tally();
  readonly #refused: Counter<'code'>;
  readonly #expired: Counter;

  constructor(options: {
    registry: Registry;
    channelsOpen(): number;
    connections(): number;
    /** What the channel store holds, when it can tell (channels in memory). */
    held?: () => ChannelHoldings | null;
  }) {
    const registers = [options.registry];
    const { held } = options;
    if (held) {
      new Gauge({
        name: 'latchkey_relay_channels_held',
        help: 'Relay channels this node holds in memory, connected or not (at most maxChannels).',
        registers,
        collect() {
          this.set(held()?.channels ?? 0);
        },
      });
      new Gauge({
        name: 'latchkey_relay_buffered_bytes',
        help: 'Bytes this node keeps in memory for relay peers that are away (at most maxBufferedBytes).',
        registers,
        collect() {
          this.set(held()?.bufferedBytes ?? 0);
        },
      });
    }
    new Gauge({
      name: 'latchkey_relay_channels_open',
      help: 'Relay channels with at least one peer connected to this node.',
      registers,
      collect() {
        this.set(options.channelsOpen());
      },
    });
    new Gauge({
      name: 'latchkey_relay_connections',
      help: 'Relay connections on this node that joined a channel.',
      registers,
      collect() {
        this.set(options.connections());
      },
    });
    eventCounter(
      options.registry,
      'latchkey_relay_messages_forwarded_total',
      'Relay messages forwarded to a connected peer, by event.',
      this.#forwarded,
    );
    eventCounter(
      options.registry,
      'latchkey_relay_messages_buffered_total',
      'Relay messages kept for a peer that was away, by event.',
      this.#buffered,
    );
    this.#refused = new Counter({
      name: 'latchkey_relay_refused_total',
      help: 'Relay joins and messages refused, by error code.',
      labelNames: ['code'],
      registers,
    });
    this.#expired = new Counter({
      name: 'latchkey_relay_channels_expired_total',
      help: 'Relay channels that expired with a peer connected to this node.',
      registers,
    });
  }

  forwarded(event: MessageEvent): void {
    this.#forwarded[event] += 1;
  }

  buffered(event: MessageEvent): void {
    this.#buffered[event] += 1;
  }

  refused(code: RelayRefusal): void {
    this.#refused.inc({ code });
  }

  expired(): void {
    this.#expired.inc();
  }
}
