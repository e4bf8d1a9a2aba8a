import { base58 } from '@scure/base';
import { z } from 'zod';
import { type ErrorCode, LatchkeyError } from '../errors/index.js';
import type { SignInSettings } from '../session/config.js';
import { DEFAULT_APP_ID } from '../session/config.js';
import { deviceInput, parseInput } from '../session/inputs.js';
import type { IssuedSession } from '../session/issue.js';
import { type ConnectSignInRequest, signInWithConnect } from './connect.js';
import type { SmartAccounts } from './ethereum-signature.js';
import { issueSignInSession, type SignInHost, signInFailure } from './host.js';
import type { SignInMessage } from './message.js';
import { parseSiweMessage, type VerifiedSignIn, verifySiweMessage } from './siwe.js';
import { parseSiwsMessage, SOLANA_CLUSTERS, solanaReference, verifySiwsMessage } from './siws.js';

export type { ResolveSignIn, SignInHost, SignInMethod } from './host.js';

/** Where issued sign-in nonces live until they are used once. */
export const NONCE_NAMESPACE = 'signin-nonce';
const NONCE_BYTES = 16;

/**
 * What a sign-in request may carry. Nothing here is signed, so nothing here may raise privilege:
 * roles and the user id come from the server's `resolveSignIn` hook, never from the request, and
 * `scope` can only narrow (a read-only session on request).
 */
const signInRequest = z
  .object({
    appId: z.string().optional(),
    message: z.string().min(1).max(16_384),
    signature: z.string().min(1).max(16_384),
    scope: z.enum(['read-only', 'read-write']).optional(),
    device: deviceInput.optional(),
  })
  .strict();

export type SignInRequest = z.input<typeof signInRequest>;

interface Family {
  method: 'siwe' | 'siws';
  codes: { notConfigured: ErrorCode; nonce: ErrorCode; expired: ErrorCode };
  parse(text: string): SignInMessage;
  claimedAccount(message: SignInMessage, signIn: SignInSettings): string | null;
  verify(
    message: string,
    signature: string,
    message_: SignInMessage,
    signIn: SignInSettings,
    now: number,
  ): Promise<VerifiedSignIn>;
  isEnabled(signIn: SignInSettings): boolean;
}

/**
 * Nonce issuance and the sign-in flow shared by Ethereum and Solana: parse the message, consume its
 * nonce atomically BEFORE any signature work, verify every signed field against the app's settings
 * and the signature, then create a fresh session capped at the message's Expiration Time.
 */
export class SignInFlow {
  readonly #host: SignInHost;
  readonly #smartAccounts: SmartAccounts | undefined;
  readonly #ethereum: Family;
  readonly #solana: Family;

  constructor(host: SignInHost, smartAccounts: SmartAccounts | undefined) {
    this.#host = host;
    this.#smartAccounts = smartAccounts;
    const expectations = (signIn: SignInSettings, nonce: string, now: number) => ({
      domain: signIn.domain,
      origin: signIn.origin,
      nonce,
      now,
      clockSkewMs: signIn.clockSkewMs,
    });
    this.#ethereum = {
      method: 'siwe',
      codes: { notConfigured: 'SIGNIN_NOT_CONFIGURED', nonce: 'SIWE_NONCE_INVALID', expired: 'SIWE_EXPIRED' },
      parse: parseSiweMessage,
      claimedAccount: (m) => `eip155:${m.chainId}:${m.address}`,
      isEnabled: (signIn) => signIn.chainIds.length > 0,
      verify: (text, signature, parsed, signIn, now) =>
        verifySiweMessage({
          message: text,
          signature,
          expected: { ...expectations(signIn, parsed.nonce, now), chainIds: signIn.chainIds },
          ...(smartAccounts ? { verifiers: smartAccounts.verifiers } : {}),
          ...(smartAccounts?.timeoutMs ? { timeoutMs: smartAccounts.timeoutMs } : {}),
        }),
    };
    this.#solana = {
      method: 'siws',
      codes: { notConfigured: 'SIGNIN_NOT_CONFIGURED', nonce: 'SIWS_NONCE_INVALID', expired: 'SIWS_EXPIRED' },
      parse: parseSiwsMessage,
      claimedAccount: (m, signIn) => {
        const reference = solanaReference(m.chainId, signIn.solanaClusters[0] ?? SOLANA_CLUSTERS.mainnet!);
        return reference ? `solana:${reference}:${m.address}` : null;
      },
      isEnabled: (signIn) => signIn.solanaClusters.length > 0,
      verify: async (text, signature, parsed, signIn, now) =>
        verifySiwsMessage({
          message: text,
          signature,
          expected: { ...expectations(signIn, parsed.nonce, now), clusters: signIn.solanaClusters },
        }),
    };
  }

  /** Issues a single-use nonce (128 bits, alphanumeric as EIP-4361 asks) that expires after the app's nonce TTL. */
  async issueNonce(options: { appId?: string } = {}): Promise<{ nonce: string; expiresAt: number }> {
    const appId = options.appId ?? DEFAULT_APP_ID;
    const signIn = this.#signIn(appId, 'SIGNIN_NOT_CONFIGURED');
    const now = this.#host.clock.now();
    const nonce = base58.encode(this.#host.random.bytes(NONCE_BYTES));
    const expiresAt = now + signIn.nonceTtlMs;
    await this.#host.storeCall('putEntry', () =>
      this.#host.store.putEntry(appId, NONCE_NAMESPACE, { key: nonce, value: '1', expiresAt }, now),
    );
    return { nonce, expiresAt };
  }

  signInWithEthereum(request: SignInRequest): Promise<IssuedSession> {
    return this.#signIn_(this.#ethereum, request);
  }

  signInWithSolana(request: SignInRequest): Promise<IssuedSession> {
    return this.#signIn_(this.#solana, request);
  }

  /** Exchanges a QR-connect session token for a session (see connect.ts). */
  signInWithConnect(request: ConnectSignInRequest): Promise<IssuedSession> {
    return signInWithConnect(this.#host, this.#smartAccounts, request);
  }

  #signIn(appId: string, code: ErrorCode): SignInSettings {
    const signIn = this.#host.settings(appId).signIn;
    if (!signIn) throw new LatchkeyError(code, { message: `Sign-in is not configured for app "${appId}".` });
    return signIn;
  }

  async #signIn_(family: Family, raw: SignInRequest): Promise<IssuedSession> {
    const request = parseInput(signInRequest, raw, 'input');
    const appId = request.appId ?? DEFAULT_APP_ID;
    const signIn = this.#signIn(appId, family.codes.notConfigured);
    if (!family.isEnabled(signIn))
      throw new LatchkeyError('SIGNIN_NOT_CONFIGURED', {
        message: `${family.method.toUpperCase()} is not enabled for app "${appId}".`,
      });
    const now = this.#host.clock.now();
    // Everything that can be refused without state is refused before the nonce is spent, and is not
    // audited: without a nonce it costs nothing to send, so it must not be able to fill the log.
    const message = family.parse(request.message);
    // Nonces Latchkey issues are 22 characters; a longer one was never issued (and is no store key).
    if (message.nonce.length > 64) throw new LatchkeyError(family.codes.nonce);
    // Single use first: a nonce is spent by any attempt, whatever its signature turns out to be.
    const taken = await this.#host.storeCall('takeEntry', () =>
      this.#host.store.takeEntry(appId, NONCE_NAMESPACE, message.nonce, now),
    );
    if (taken === null) throw new LatchkeyError(family.codes.nonce);
    try {
      const verified = await family.verify(request.message, request.signature, message, signIn, now);
      // Inside the skew the message is still acceptable, but a session must end in the future.
      if (verified.expiresAt !== undefined && verified.expiresAt <= now) throw new LatchkeyError(family.codes.expired);
      return await issueSignInSession(this.#host, {
        appId,
        account: verified.account,
        method: family.method,
        notAfter: verified.expiresAt,
        scope: request.scope,
        device: request.device,
      });
    } catch (error) {
      if (error instanceof LatchkeyError && error.code !== 'STORE_UNAVAILABLE') {
        const failure = signInFailure(now, family.method, family.claimedAccount(message, signIn), error.code);
        await this.#host.record(appId, [failure]);
      }
      throw error;
    }
  }
}
