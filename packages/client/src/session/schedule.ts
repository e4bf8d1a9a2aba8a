import type { LatchkeyClientError } from '../errors/index.js';
import { asClientError } from '../errors/index.js';
import type { ClientState } from './state.js';

/** Setting a timer longer than this fires it at once (a 32-bit signed millisecond count). */
const MAX_TIMER_MS = 2_147_483_647;
/** After a failed proactive refresh, the next try waits this long (no tight loop against a failing server). */
export const RETRY_AFTER_FAILURE_MS = 30_000;

/**
 * When each part of the state is due for renewal: the session `lead` before its idle expiry (only while
 * a refresh can still extend it, i.e. idle expiry comes before absolute expiry), the key `lead` before
 * it lapses (only while a new key could outlive it). The lead is capped at half the lifetime, so a short
 * lifetime never makes renewal due at once.
 */
export function dueTimes(state: ClientState, leadMs: number): { session?: number; key?: number } {
  const s = state.tokens.session;
  const out: { session?: number; key?: number } = {};
  if (s.idleExpiresAt < s.absoluteExpiresAt) {
    const lifetime = s.idleExpiresAt - s.lastActiveAt;
    out.session = s.idleExpiresAt - Math.min(leadMs, Math.max(0, lifetime / 2));
  }
  const key = state.key?.info;
  if (key && key.expiresAt < s.absoluteExpiresAt) {
    const lifetime = key.expiresAt - key.createdAt;
    out.key = key.expiresAt - Math.min(leadMs, Math.max(0, lifetime / 2));
  }
  return out;
}

/**
 * The proactive refresh timer. Delays are computed from the injected clock and waited on the platform's
 * `setTimeout` (unref'd where the platform allows, so a Node process can still exit).
 */
export class RefreshTimer {
  readonly leadMs: number;
  readonly #o: {
    clock: { now(): number };
    isEnabled: boolean;
    run(): Promise<void>;
    failed(error: LatchkeyClientError): void;
  };
  #handle: ReturnType<typeof setTimeout> | undefined;
  #notBefore = 0;
  #stopped = false;
  #latest: ClientState | null = null;

  constructor(options: {
    clock: { now(): number };
    leadMs: number;
    isEnabled: boolean;
    run(): Promise<void>;
    failed(error: LatchkeyClientError): void;
  }) {
    this.leadMs = options.leadMs;
    this.#o = options;
  }

  /** (Re)arms the timer for `state`; no state, or nothing due, disarms it. */
  schedule(state: ClientState | null): void {
    this.#latest = state;
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
    if (this.#stopped || !this.#o.isEnabled || !state) return;
    const due = dueTimes(state, this.leadMs);
    const next = Math.min(due.session ?? Number.POSITIVE_INFINITY, due.key ?? Number.POSITIVE_INFINITY);
    if (!Number.isFinite(next)) return;
    const now = this.#o.clock.now();
    const delay = Math.min(Math.max(next - now, this.#notBefore - now, 0), MAX_TIMER_MS);
    const handle = setTimeout(() => this.#fire(), delay);
    (handle as { unref?: () => void }).unref?.();
    this.#handle = handle;
  }

  #fire(): void {
    this.#handle = undefined;
    // At most one run per second whatever happens, and a pause after a failure.
    this.#notBefore = this.#o.clock.now() + 1000;
    this.#o.run().then(
      () => this.schedule(this.#latest),
      (error: unknown) => {
        this.#notBefore = this.#o.clock.now() + RETRY_AFTER_FAILURE_MS;
        this.#o.failed(asClientError(error, 'NETWORK_ERROR'));
        this.schedule(this.#latest);
      },
    );
  }

  stop(): void {
    this.#stopped = true;
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
