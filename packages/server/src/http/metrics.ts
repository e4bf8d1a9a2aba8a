import type { Latchkey } from '@latchkey/core';
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
  readonly #onStatsFailure: (error: unknown) => void;

  constructor(latchkey: Latchkey, onStatsFailure: (error: unknown) => void) {
    this.#latchkey = latchkey;
    this.#onStatsFailure = onStatsFailure;
    const registers = [this.registry];
    this.#activeSessions = new Gauge({
      name: 'latchkey_active_sessions',
      help: 'Live sessions per app, read from the store at scrape time.',
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
      help: 'Sign-in attempts by method (siwe, siws) and result (success, or the error code).',
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
   * The Prometheus text, after reading each app's live sessions from the store. Read here rather than in
   * a gauge's `collect`, so a store error met while scraping is counted in the same scrape.
   */
  async scrape(): Promise<string> {
    this.#activeSessions.reset();
    for (const appId of this.#latchkey.appIds()) {
      try {
        this.#activeSessions.set({ app: appId }, (await this.#latchkey.getSessionStats({ appId })).active);
      } catch (error) {
        this.#storeErrors.inc({ operation: 'readStats' });
        this.#onStatsFailure(error);
      }
    }
    return this.registry.metrics();
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

  signIn(method: 'siwe' | 'siws', result: string): void {
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
