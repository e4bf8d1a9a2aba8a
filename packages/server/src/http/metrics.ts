import type { Clock, Latchkey } from '@latchkey/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics, in a Registry of its own (two servers in one process never share
 * counters). Labels are bounded: routes are templates, results are registry codes.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #duration: Histogram<'method' | 'route' | 'status'>;
  readonly #signIns: Counter<'method' | 'result'>;
  readonly #reuse: Counter<'app'>;
  readonly #storeErrors: Counter<'operation'>;
  readonly #rateLimited: Counter<'bucket' | 'subject'>;
  readonly #activeSessions: Gauge<'app'>;
  readonly #series = new Map<string, { requests: { inc(): void }; duration: { observe(value: number): void } }>();
  readonly #latchkey: Latchkey;
  readonly #clock: Clock;
  readonly #statsIntervalMs: number;
  readonly #onStatsFailure: (error: unknown) => void;
  #statsReadAt = Number.NEGATIVE_INFINITY;
  #statsReading: Promise<void> | null = null;

  constructor(options: {
    latchkey: Latchkey;
    clock: Clock;
    /** How long the active-sessions gauge is served from its last store read, in milliseconds. */
    statsIntervalMs: number;
    onStatsFailure(error: unknown): void;
  }) {
    this.#latchkey = options.latchkey;
    this.#clock = options.clock;
    this.#statsIntervalMs = options.statsIntervalMs;
    this.#onStatsFailure = options.onStatsFailure;
    const registers = [this.registry];
    this.#activeSessions = new Gauge({
      name: 'latchkey_active_sessions',
      help: 'Live sessions per app, read from the store at most every few seconds (15 by default).',
      labelNames: ['app'],
      registers,
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_process_' });
    this.#requests = new Counter({
      name: 'latchkey_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.#signIns = new Counter({
      name: 'latchkey_signins_total',
      help: 'Sign-in attempts by method (siwe, siws, connect) and result (success, or the error code).',
      labelNames: ['method', 'result'],
      registers,
    });
    this.#reuse = new Counter({
      name: 'latchkey_refresh_reuse_detected_total',
      help: 'Refresh tokens presented again after rotation; each revoked its session.',
      labelNames: ['app'],
      registers,
    });
    this.#storeErrors = new Counter({
      name: 'latchkey_store_errors_total',
      help: 'Requests the store could not answer, by operation.',
      labelNames: ['operation'],
      registers,
    });
    this.#rateLimited = new Counter({
      name: 'latchkey_rate_limited_total',
      help: 'Requests refused by a rate limit, by bucket and subject (ip, wallet).',
      labelNames: ['bucket', 'subject'],
      registers,
    });
  }

  /**
   * The Prometheus text. `/metrics` is public and reading the stats walks an app's sessions, so the
   * active-sessions gauge is read from the store at most once per interval: a scrape within it serves the
   * last values, and the scrapes that find it due share one read (one in flight). Read here rather than in
   * a gauge's `collect`, so a store error met while reading is counted in the same scrape.
   */
  async scrape(): Promise<string> {
    if (!this.#statsReading && this.#clock.now() - this.#statsReadAt >= this.#statsIntervalMs) {
      this.#statsReadAt = this.#clock.now();
      this.#statsReading = this.#readStats().finally(() => {
        this.#statsReading = null;
      });
    }
    if (this.#statsReading) await this.#statsReading;
    return this.registry.metrics();
  }

  async #readStats(): Promise<void> {
    const active = new Map<string, number>();
    for (const appId of this.#latchkey.appIds()) {
      try {
        active.set(appId, (await this.#latchkey.getSessionStats({ appId })).active);
      } catch (error) {
        this.#storeErrors.inc({ operation: 'readStats' });
        this.#onStatsFailure(error);
      }
    }
    // Swapped in at once, so a scrape never sees half of a read.
    this.#activeSessions.reset();
    for (const [app, value] of active) this.#activeSessions.set({ app }, value);
  }

  request(method: string, route: string, status: number, seconds: number): void {
    // Label children are looked up once per (method, route, status), not hashed on every request.
    const key = `${method} ${route} ${status}`;
    let series = this.#series.get(key);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = { requests: this.#requests.labels(labels), duration: this.#duration.labels(labels) };
      if (this.#series.size < 10_000) this.#series.set(key, series);
    }
    series.requests.inc();
    series.duration.observe(seconds);
  }

  signIn(method: 'siwe' | 'siws' | 'connect', result: string): void {
    this.#signIns.inc({ method, result });
  }

  refreshReuse(appId: string): void {
    this.#reuse.inc({ app: appId });
  }

  storeError(operation: string): void {
    this.#storeErrors.inc({ operation });
  }

  rateLimited(bucket: string, subject: string): void {
    this.#rateLimited.inc({ bucket, subject });
  }
}
