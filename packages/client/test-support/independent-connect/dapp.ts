// A minimal dApp (§10.1, §10.3) over the real relay.
import type { Socket } from 'socket.io-client';
import { type ConnectEvent, deriveChannelKey, generateKeyPair, open, seal, sharedSecret } from './crypto.js';
import { b64uDecode, b64uEncode } from './encoding.js';
import { fail, IndependentConnectError } from './errors.js';
import { parseConnectedPayload, parseJsonBytes, parseResponsePayload } from './payloads.js';
import { connectRelay, type Envelope, emitWithAck, type JoinAck, randomRejoinKey, SeqFilter } from './relay.js';
import { type ChainType, type Claims, caip10, verifySessionToken } from './token.js';
import { formatConnectUri, normalizeRelayUrl, randomUuid } from './uri.js';

export interface DappSession {
  sessionToken: string | undefined;
  claims: Claims | undefined;
  address: string | undefined;
  chainType: ChainType | undefined;
  account: string | undefined;
  walletPublicKey: string;
}

export interface DappOptions {
  relay: string;
  now?: () => number;
  expiresInMs?: number;
  requestTimeoutMs?: number;
  requireSessionToken?: boolean;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class IndependentDapp {
  readonly uuid = randomUuid();
  readonly relay: string;
  readonly errors: IndependentConnectError[] = [];
  readonly keys = generateKeyPair();
  session: DappSession | undefined;
  ended = false;
  private readonly now: () => number;
  private readonly opts: DappOptions;
  private socket: Socket | undefined;
  private readonly rejoinKey = randomRejoinKey();
  private readonly seq = new SeqFilter();
  private channelExpiresAtMs = 0;
  private channelKey: Uint8Array | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly pending = new Map<string, Pending>();
  private readonly waiters: Array<() => void> = [];

  constructor(opts: DappOptions) {
    this.opts = opts;
    this.relay = normalizeRelayUrl(opts.relay);
    this.now = opts.now ?? Date.now;
  }

  get publicKey(): string {
    return b64uEncode(this.keys.publicKey);
  }

  /** Joins the channel, then returns the QR URI (§7.1: join before showing the code). */
  async open(): Promise<string> {
    const requested = this.now() + (this.opts.expiresInMs ?? 300_000);
    this.socket = await connectRelay(this.relay);
    for (const ev of ['connected_uuid', 'response'] as const) {
      this.socket.on(ev, (env: Envelope) => this.enqueue(ev, env));
    }
    this.socket.on('channel_expired', () => this.end());
    const ack = await emitWithAck<JoinAck>(this.socket, 'join', {
      uuid: this.uuid,
      role: 'dapp',
      rejoinKey: this.rejoinKey,
      expiresAt: requested,
    });
    for (const m of ack.missed) this.enqueue(m.event, m);
    const exp = Math.floor(Math.min(requested, ack.channel.expiresAt) / 1000);
    this.channelExpiresAtMs = exp * 1000;
    return formatConnectUri({ uuid: this.uuid, relay: this.relay, pk: this.publicKey, exp });
  }

  private enqueue(event: string, env: Envelope): void {
    if (!this.seq.accept(env?.seq)) return;
    this.queue = this.queue.then(() => this.handle(event, env)).catch(() => undefined);
  }

  private async handle(event: string, env: Envelope): Promise<void> {
    try {
      if (event === 'connected_uuid') await this.onConnected(env);
      else if (event === 'response') this.onResponse(env);
    } catch (e) {
      this.errors.push(e instanceof IndependentConnectError ? e : new IndependentConnectError('INTERNAL_ERROR', String(e)));
      for (const w of this.waiters.splice(0)) w();
    }
  }

  private async onConnected(env: Envelope): Promise<void> {
    if (this.session || this.ended) return; // later ones are ignored
    // 1. envelope shape
    if (typeof env !== 'object' || env === null || env.uuid !== this.uuid) fail('RELAY_ENVELOPE_INVALID', 'uuid');
    const wpk = typeof env.publicKey === 'string' && env.publicKey.length === 43 ? b64uDecode(env.publicKey) : null;
    if (wpk === null || wpk.length !== 32) return fail('RELAY_ENVELOPE_INVALID', 'publicKey');
    if ((env.nonce === undefined) !== (env.data === undefined)) fail('RELAY_ENVELOPE_INVALID', 'data');
    // 2. derive K
    const z = sharedSecret(this.keys.privateKey, wpk);
    if (z === null) return fail('CONNECT_DECRYPT_FAILED');
    const key = deriveChannelKey(z, this.uuid, this.keys.publicKey, wpk);
    z.fill(0);
    const walletPublicKey = env.publicKey as string;
    // 3. old wallet (§11)
    if (env.nonce === undefined) {
      if (this.opts.requireSessionToken) fail('CONNECT_SESSION_TOKEN_MISSING');
      this.establish(key, {
        sessionToken: undefined,
        claims: undefined,
        address: undefined,
        chainType: undefined,
        account: undefined,
        walletPublicKey,
      });
      return;
    }
    // 4-5. decrypt and parse
    const payload = parseConnectedPayload(parseJsonBytes(open(key, 'connected_uuid', this.uuid, env.nonce, env.data)));
    // 6. verify (dApp row of §6.4)
    const now = this.now();
    const claims = await verifySessionToken(
      payload.sessionToken,
      { uuid: this.uuid, relay: this.relay, dappPublicKey: this.publicKey, walletPublicKey },
      now,
    );
    // GUESS: "channel expiry" = the URI's exp (ms); failure code CONNECT_SESSION_TOKEN_INVALID, field issuedAt.
    if (claims.issuedAt > this.channelExpiresAtMs + 60_000) fail('CONNECT_SESSION_TOKEN_INVALID', 'issuedAt');
    if (payload.chainType !== claims.chainType) fail('CONNECT_SESSION_TOKEN_INVALID', 'chainType');
    const sameAddress =
      claims.chainType === 'eip155'
        ? payload.address.toLowerCase() === claims.address.toLowerCase()
        : payload.address === claims.address;
    if (!sameAddress) fail('CONNECT_SESSION_TOKEN_INVALID', 'address');
    // 7. connected
    this.establish(key, {
      sessionToken: payload.sessionToken,
      claims,
      address: claims.address,
      chainType: claims.chainType,
      account: caip10(claims),
      walletPublicKey,
    });
  }

  private establish(key: Uint8Array, session: DappSession): void {
    this.channelKey = key;
    this.session = session;
    for (const w of this.waiters.splice(0)) w();
  }

  private onResponse(env: Envelope): void {
    if (!this.channelKey || this.ended) return;
    if (typeof env !== 'object' || env === null || env.uuid !== this.uuid) fail('RELAY_ENVELOPE_INVALID', 'uuid');
    const parsed = parseResponsePayload(parseJsonBytes(open(this.channelKey, 'response', this.uuid, env.nonce, env.data)));
    if (parsed.kind === 'disconnect') {
      this.end();
      return;
    }
    const p = this.pending.get(parsed.id);
    if (!p) return; // unknown id or later answer
    this.pending.delete(parsed.id);
    clearTimeout(p.timer);
    if (parsed.kind === 'result') p.resolve(parsed.result);
    else p.reject(parsed.error);
  }

  /** Waits until a session is established or a local error is recorded. */
  async waitForSession(timeoutMs = 10_000): Promise<DappSession> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.session) return this.session;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no session');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async waitForError(timeoutMs = 10_000): Promise<IndependentConnectError> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.errors[0];
      if (e) return e;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no error');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Raw send with overridable fields (for tampering tests). */
  async request(
    method: string,
    params: unknown,
    override: { sessionToken?: string | null; id?: string; timestamp?: number; timeoutMs?: number } = {},
  ): Promise<unknown> {
    const session = this.session;
    const key = this.channelKey;
    if (!session || !key || !this.socket || this.ended) return fail('CONNECT_REQUEST_TIMEOUT');
    if (session.claims && this.now() >= session.claims.expiresAt) fail('CONNECT_SESSION_TOKEN_EXPIRED');
    const id = override.id ?? randomUuid();
    const body: Record<string, unknown> = { id, method, params, timestamp: override.timestamp ?? this.now() };
    const token = override.sessionToken === undefined ? session.sessionToken : override.sessionToken;
    if (token !== null && token !== undefined) body.sessionToken = token;
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(new IndependentConnectError('CONNECT_REQUEST_TIMEOUT'));
        },
        override.timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000,
      );
      this.pending.set(id, { resolve, reject, timer });
    });
    try {
      await this.sendSealed('request', JSON.stringify(body));
    } catch (e) {
      const p = this.pending.get(id);
      if (p) {
        clearTimeout(p.timer);
        this.pending.delete(id);
      }
      throw e;
    }
    return result;
  }

  async sendSealed(event: ConnectEvent, plaintext: string): Promise<void> {
    if (!this.channelKey || !this.socket) throw new Error('not connected');
    const { nonce, data } = seal(this.channelKey, event, this.uuid, plaintext);
    await emitWithAck(this.socket, event, { uuid: this.uuid, nonce, data });
  }

  async disconnect(): Promise<void> {
    if (this.channelKey && !this.ended) await this.sendSealed('request', JSON.stringify({ type: 'disconnect' }));
    this.end();
  }

  private end(): void {
    this.ended = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new IndependentConnectError('CONNECT_REQUEST_TIMEOUT'));
      this.pending.delete(id);
    }
    this.channelKey?.fill(0);
    for (const w of this.waiters.splice(0)) w();
  }

  close(): void {
    this.end();
    this.socket?.close();
  }
}
