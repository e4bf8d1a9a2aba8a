// A minimal eip155 wallet (§10.2, §9) over the real relay.
import type { Socket } from 'socket.io-client';
import { type Hex, isAddress, type LocalAccount, type TransactionSerializable, type TypedDataDefinition, toHex } from 'viem';
import { deriveChannelKey, generateKeyPair, open, seal, sharedSecret } from './crypto.js';
import { b64uEncode } from './encoding.js';
import { FIXED_MESSAGES, fail, IndependentConnectError } from './errors.js';
import { parseJsonBytes, parseRequestPayload, type SignRequest } from './payloads.js';
import { connectRelay, type Envelope, emitWithAck, type JoinAck, randomRejoinKey, SeqFilter } from './relay.js';
import { type Claims, createSessionToken, verifySessionToken } from './token.js';
import { type ConnectUri, parseConnectUri } from './uri.js';

export interface WalletOptions {
  account: LocalAccount;
  chainId: number;
  approve?: (req: SignRequest) => boolean | Promise<boolean>;
  now?: () => number;
  tokenLifetimeMs?: number;
  /** Test hook: alter the token (or payload) before it is sealed into connected_uuid. */
  tamper?: (payload: { sessionToken: string; address: string; chainType: string }) => object;
  /** Test hook: answers to send instead of serving the request (after all checks passed). */
  answerHook?: (req: SignRequest) => WalletAnswer[] | undefined;
  /** Test hook: alter the claims before they are signed (binding tests). */
  mutateClaims?: (claims: Claims) => Claims;
}

export interface WalletAnswer {
  id: string;
  result?: unknown;
  error?: { code: string; message: string };
}

const WINDOW = 60_000;

export class IndependentWallet {
  readonly answers: WalletAnswer[] = [];
  readonly localErrors: IndependentConnectError[] = [];
  readonly handled: SignRequest[] = [];
  ended = false;
  uri: ConnectUri | undefined;
  claims: Claims | undefined;
  sessionToken: string | undefined;
  private readonly opts: WalletOptions;
  private readonly now: () => number;
  private readonly keys = generateKeyPair();
  private channelKey: Uint8Array | undefined;
  private socket: Socket | undefined;
  private readonly rejoinKey = randomRejoinKey();
  private readonly seq = new SeqFilter();
  private readonly seen = new Map<string, number>();
  private queue: Promise<void> = Promise.resolve();
  private readonly listeners: Array<() => void> = [];

  constructor(opts: WalletOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  get publicKey(): string {
    return b64uEncode(this.keys.publicKey);
  }

  async connect(uriText: string): Promise<Claims> {
    const uri = parseConnectUri(uriText, this.now());
    this.uri = uri;
    const z = sharedSecret(this.keys.privateKey, uri.pkBytes);
    if (z === null) return fail('CONNECT_URI_INVALID', 'pk', 'pk: low-order key');
    this.channelKey = deriveChannelKey(z, uri.uuid, uri.pkBytes, this.keys.publicKey);
    z.fill(0);
    const issuedAt = this.now();
    const base: Claims = {
      v: 1,
      uuid: uri.uuid,
      relay: uri.relay,
      chainType: 'eip155',
      chainId: String(this.opts.chainId),
      address: this.opts.account.address,
      dappPublicKey: uri.pk,
      walletPublicKey: this.publicKey,
      issuedAt,
      expiresAt: issuedAt + (this.opts.tokenLifetimeMs ?? 86_400_000),
    };
    const claims = this.opts.mutateClaims ? this.opts.mutateClaims(base) : base;
    const token = await createSessionToken(claims, { chainType: 'eip155', account: this.opts.account });
    if (this.now() >= uri.exp * 1000) fail('CONNECT_URI_EXPIRED', 'exp', 'exp: expired');
    this.claims = claims;
    this.sessionToken = token;
    this.socket = await connectRelay(uri.relay);
    this.socket.on('request', (env: Envelope) => this.enqueue(env));
    this.socket.on('channel_expired', () => {
      this.ended = true;
    });
    const ack = await emitWithAck<JoinAck>(this.socket, 'join', {
      uuid: uri.uuid,
      role: 'wallet',
      rejoinKey: this.rejoinKey,
    });
    for (const m of ack.missed) if (m.event === 'request') this.enqueue(m);
    const payload = { sessionToken: token, address: claims.address, chainType: claims.chainType };
    const { nonce, data } = seal(
      this.channelKey,
      'connected_uuid',
      uri.uuid,
      JSON.stringify(this.opts.tamper ? this.opts.tamper(payload) : payload),
    );
    await emitWithAck(this.socket, 'connected_uuid', {
      uuid: uri.uuid,
      publicKey: this.publicKey,
      nonce,
      data,
    });
    return claims;
  }

  private enqueue(env: Envelope): void {
    if (!this.seq.accept(env?.seq)) return;
    this.queue = this.queue
      .then(() => this.onRequest(env))
      .catch((e) => {
        this.localErrors.push(
          e instanceof IndependentConnectError ? e : new IndependentConnectError('INTERNAL_ERROR', String(e)),
        );
      })
      .finally(() => {
        for (const l of this.listeners.splice(0)) l();
      });
  }

  /** Resolves after the next request was processed (answered or dropped). */
  nextProcessed(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no request processed')), timeoutMs);
      this.listeners.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async onRequest(env: Envelope): Promise<void> {
    const uri = this.uri;
    const key = this.channelKey;
    if (!uri || !key || !this.claims || this.ended) return;
    // 1. envelope
    if (typeof env !== 'object' || env === null || env.uuid !== uri.uuid) return fail('RELAY_ENVELOPE_INVALID');
    // 2. decrypt (throws CONNECT_DECRYPT_FAILED: local drop)
    const plain = open(key, 'request', uri.uuid, env.nonce, env.data);
    // 3. parse
    let json: unknown;
    try {
      json = parseJsonBytes(plain);
    } catch (e) {
      this.localErrors.push(e as IndependentConnectError);
      return;
    }
    const parsed = parseRequestPayload(json);
    if (parsed.kind === 'disconnect') {
      this.ended = true;
      return;
    }
    if (parsed.kind === 'invalid') {
      if (parsed.id !== undefined) {
        await this.answerError(parsed.id, 'VALIDATION_FAILED', `${parsed.field}: invalid`);
      } else this.localErrors.push(new IndependentConnectError('VALIDATION_FAILED', undefined, parsed.field));
      return;
    }
    const req = parsed.request;
    const now = this.now();
    // 4. session token first
    if (req.sessionToken === undefined) return this.answerError(req.id, 'CONNECT_SESSION_TOKEN_MISSING');
    try {
      await verifySessionToken(
        req.sessionToken,
        {
          uuid: uri.uuid,
          relay: uri.relay,
          dappPublicKey: uri.pk,
          walletPublicKey: this.claims.walletPublicKey,
          chainType: 'eip155',
          address: this.opts.account.address,
        },
        now,
      );
    } catch (e) {
      if (e instanceof IndependentConnectError) return this.answerError(req.id, e.code, e.message);
      throw e;
    }
    // 5. window
    if (Math.abs(now - req.timestamp) > WINDOW) return this.answerError(req.id, 'CONNECT_REQUEST_STALE');
    // 6. replay (atomic: single-threaded check-and-set)
    for (const [id, ts] of this.seen) if (ts < now - WINDOW) this.seen.delete(id);
    if (this.seen.has(req.id)) {
      this.localErrors.push(new IndependentConnectError('CONNECT_REQUEST_REPLAYED'));
      return;
    }
    this.seen.set(req.id, req.timestamp);
    // 7-9
    let sign: () => Promise<unknown>;
    try {
      sign = this.prepare(req);
    } catch (e) {
      if (e instanceof IndependentConnectError) return this.answerError(req.id, e.code, e.message);
      throw e;
    }
    this.handled.push(req);
    const hooked = this.opts.answerHook?.(req);
    if (hooked) {
      for (const a of hooked) await this.answer(a);
      return;
    }
    let approved: boolean;
    try {
      approved = this.opts.approve ? await this.opts.approve(req) : true;
    } catch (e) {
      if ((e as { code?: unknown }).code === 4001) return this.answerError(req.id, 'CONNECT_REQUEST_REJECTED');
      return this.answerError(req.id, 'INTERNAL_ERROR');
    }
    if (!approved) return this.answerError(req.id, 'CONNECT_REQUEST_REJECTED');
    let result: unknown;
    try {
      result = await sign();
    } catch (e) {
      if ((e as { code?: unknown }).code === 4001) return this.answerError(req.id, 'CONNECT_REQUEST_REJECTED');
      return this.answerError(req.id, 'INTERNAL_ERROR');
    }
    await this.answer({ id: req.id, result });
  }

  /** §9: validate method and params; returns the signing step. */
  private prepare(req: SignRequest): () => Promise<unknown> {
    const account = this.opts.account;
    const mine = (a: unknown): boolean => typeof a === 'string' && a.toLowerCase() === account.address.toLowerCase();
    const params = req.params;
    const bad = (field: string): never => fail('VALIDATION_FAILED', field, `${field}: invalid`);
    switch (req.method) {
      case 'personal_sign': {
        if (!Array.isArray(params) || params.length < 2) return bad('params');
        const [message, address] = params as unknown[];
        if (typeof message !== 'string') return bad('params[0]');
        if (!mine(address)) return bad('params[1]');
        // GUESS: only `0x` + even-length hex is bytes; anything else (incl. odd-length 0x…) is UTF-8 text.
        const raw = /^0x([0-9a-fA-F]{2})*$/.test(message);
        return async () => account.signMessage?.({ message: raw ? { raw: message as Hex } : message }) ?? fail('INTERNAL_ERROR');
      }
      case 'eth_signTypedData_v4': {
        if (!Array.isArray(params) || params.length < 2) return bad('params');
        const [address, td] = params as unknown[];
        if (!mine(address)) return bad('params[0]');
        let typed: unknown = td;
        if (typeof td === 'string') {
          try {
            typed = JSON.parse(td);
          } catch {
            return bad('params[1]');
          }
        }
        if (typeof typed !== 'object' || typed === null) return bad('params[1]');
        const t = typed as Record<string, unknown>;
        if (typeof t.types !== 'object' || t.types === null) return bad('params[1].types');
        if (typeof t.primaryType !== 'string') return bad('params[1].primaryType');
        if (typeof t.domain !== 'object' || t.domain === null) return bad('params[1].domain');
        if (typeof t.message !== 'object' || t.message === null) return bad('params[1].message');
        const domain = t.domain as Record<string, unknown>;
        if (domain.chainId !== undefined && parseChainId(domain.chainId) !== BigInt(this.opts.chainId)) {
          return bad('params[1].domain.chainId');
        }
        return async () => account.signTypedData?.(t as unknown as TypedDataDefinition) ?? fail('INTERNAL_ERROR');
      }
      case 'eth_signTransaction': {
        if (!Array.isArray(params) || params.length < 1) return bad('params');
        const tx = params[0] as unknown;
        if (typeof tx !== 'object' || tx === null || Array.isArray(tx)) return bad('params[0]');
        const serializable = this.toTransaction(tx as Record<string, unknown>);
        return async () => account.signTransaction?.(serializable) ?? fail('INTERNAL_ERROR');
      }
      default:
        // eth_sendTransaction: this wallet cannot broadcast; solana_*: other chain.
        return fail('CONNECT_METHOD_UNSUPPORTED', 'method');
    }
  }

  private toTransaction(tx: Record<string, unknown>): TransactionSerializable {
    const bad = (field: string): never => fail('VALIDATION_FAILED', field, `${field}: invalid`);
    const qty = (name: string): bigint | undefined => {
      const v = tx[name];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string' || !/^0x[0-9a-fA-F]+$/.test(v)) return bad(`params[0].${name}`);
      return BigInt(v);
    };
    if (
      tx.from !== undefined &&
      (typeof tx.from !== 'string' || tx.from.toLowerCase() !== this.opts.account.address.toLowerCase())
    ) {
      bad('params[0].from');
    }
    if (tx.chainId !== undefined && parseChainId(tx.chainId) !== BigInt(this.opts.chainId)) bad('params[0].chainId');
    const to = tx.to;
    if (to !== undefined && to !== null && (typeof to !== 'string' || !isAddress(to, { strict: false }))) {
      bad('params[0].to');
    }
    const data = tx.data ?? tx.input;
    if (data !== undefined && (typeof data !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(data))) bad('params[0].data');
    const type = tx.type ?? (tx.gasPrice !== undefined ? '0x0' : '0x2');
    const base = {
      chainId: this.opts.chainId,
      to: (to ?? null) as Hex | null,
      value: qty('value') ?? 0n,
      gas: qty('gas') ?? qty('gasLimit') ?? 21_000n,
      nonce: Number(qty('nonce') ?? 0n),
      data: data as Hex | undefined,
    };
    if (type === '0x0') return { ...base, type: 'legacy', gasPrice: qty('gasPrice') ?? 1_000_000_000n };
    if (type === '0x1') {
      return {
        ...base,
        type: 'eip2930',
        gasPrice: qty('gasPrice') ?? 1_000_000_000n,
        accessList: (tx.accessList ?? []) as [],
      };
    }
    if (type === '0x2') {
      return {
        ...base,
        type: 'eip1559',
        maxFeePerGas: qty('maxFeePerGas') ?? 2_000_000_000n,
        maxPriorityFeePerGas: qty('maxPriorityFeePerGas') ?? 1_000_000_000n,
        accessList: (tx.accessList ?? []) as [],
      };
    }
    return bad('params[0].type');
  }

  private async answerError(id: string, code: string, message?: string): Promise<void> {
    await this.answer({
      id,
      error: { code, message: message ?? FIXED_MESSAGES[code as keyof typeof FIXED_MESSAGES] ?? code },
    });
  }

  private async answer(a: WalletAnswer): Promise<void> {
    this.answers.push(a);
    await this.sendSealed(JSON.stringify(a));
  }

  async sendSealed(plaintext: string): Promise<void> {
    if (!this.uri || !this.channelKey || !this.socket) throw new Error('not connected');
    const { nonce, data } = seal(this.channelKey, 'response', this.uri.uuid, plaintext);
    await emitWithAck(this.socket, 'response', { uuid: this.uri.uuid, nonce, data });
  }

  async disconnect(): Promise<void> {
    if (!this.ended) await this.sendSealed(JSON.stringify({ type: 'disconnect' }));
    this.ended = true;
  }

  close(): void {
    this.ended = true;
    this.channelKey?.fill(0);
    this.socket?.close();
  }
}

function parseChainId(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^0x[0-9a-fA-F]+$/.test(v)) return BigInt(v);
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) return BigInt(v);
  return undefined;
}

export const hexChainId = (n: number): Hex => toHex(n);
