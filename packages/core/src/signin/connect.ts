import {
  CONNECT_LIMITS,
  type DecodedSessionToken,
  decodeSessionToken,
  isConnectError,
  parseConnectAuthRequest,
  type SessionTokenClaims,
  sessionTokenAccount,
  verifyConnectSessionToken,
  verifySessionTokenSignature,
} from '@latchkey/protocol/connect';
import { bytesToHex } from 'viem';
import { z } from 'zod';
import { type ErrorCode, LatchkeyError } from '../errors/index.js';
import { type ConnectSettings, DEFAULT_APP_ID } from '../session/config.js';
import { deviceInput, parseInput } from '../session/inputs.js';
import type { IssuedSession } from '../session/issue.js';
import { type SmartAccounts, verifyEthereumSignature } from './ethereum-signature.js';
import { issueSignInSession, type SignInHost, signInFailure } from './host.js';

/** Where used connect channel ids are remembered: a channel's token becomes a session at most once. */
export const CONNECT_CHANNEL_NAMESPACE = 'connect-channels';
/**
 * Used channels are recorded server-wide, not per app: a token names a relay, not an app, so every app
 * listing that relay would accept it; the first exchange anywhere wins.
 */
export const CONNECT_CHANNEL_SCOPE = '_system';

/**
 * How long a used channel id is remembered: past the last moment any token for it can still verify
 * (a token lives at most 7 days from an `issuedAt` that may lie up to the clock skew, at most 10 min,
 * ahead of now).
 */
const CHANNEL_MEMORY_MS = CONNECT_LIMITS.maxSessionTtlMs + 10 * 60_000;

/**
 * What a connect exchange may carry besides the token and its channel: like a sign-in request,
 * nothing here raises privilege (roles come from `resolveSignIn`), `scope` can only narrow.
 */
const connectSignInRequest = z
  .object({
    appId: z.string().optional(),
    sessionToken: z.string().min(1).max(8192),
    uuid: z.string().min(1).max(64),
    scope: z.enum(['read-only', 'read-write']).optional(),
    device: deviceInput.optional(),
  })
  .strict();

export type ConnectSignInRequest = z.input<typeof connectSignInRequest>;

/** A protocol refusal as the registry's error; token refusals keep their fixed message (the field goes to the audit log). */
function asLatchkeyError(error: unknown): LatchkeyError {
  if (error instanceof LatchkeyError) return error;
  if (isConnectError(error)) {
    if (error.code === 'VALIDATION_FAILED') {
      return new LatchkeyError('VALIDATION_FAILED', {
        message: error.message,
        ...(error.field === undefined ? {} : { field: error.field }),
      });
    }
    return new LatchkeyError(error.code as ErrorCode);
  }
  return new LatchkeyError('INTERNAL_ERROR', { cause: error });
}

function connectSettings(host: SignInHost, appId: string): ConnectSettings {
  const connect = host.settings(appId).connect;
  if (!connect) throw new LatchkeyError('SIGNIN_NOT_CONFIGURED', { message: `Connect is not configured for app "${appId}".` });
  return connect;
}

/** The token's chain must be one the app accepts (when it names any). */
function isChainAllowed(claims: SessionTokenClaims, connect: ConnectSettings): boolean {
  if (claims.chainType === 'eip155') return connect.chainIds === null || connect.chainIds.includes(Number(claims.chainId));
  return connect.solanaClusters === null || connect.solanaClusters.includes(claims.chainId);
}

/**
 * The session bridge (docs/connect-protocol.md §12): exchanges a connect session token for a
 * Latchkey session. In order: parse; consume the channel id atomically BEFORE any binding or
 * signature check (a second exchange is `CONNECT_CHANNEL_USED`, whatever its token; only a
 * smart-account verifier that could not answer, `SIWE_VERIFIER_UNAVAILABLE`, gives it back); check the
 * token's chain against the app's, its channel, relay (one of the app's `connect.relayUrls`) and
 * times against the server clock, and its signature — EIP-191 for an EOA, ERC-1271 through the
 * engine's smart-account verifiers (a deployed smart account: a token's signature is 65 bytes, so an
 * ERC-6492 wrapper never fits), Ed25519 for Solana; then create the session like every sign-in
 * does, capped at the token's expiry.
 *
 * @throws LatchkeyError `SIGNIN_NOT_CONFIGURED`, `VALIDATION_FAILED`, `CONNECT_CHANNEL_USED`,
 *   `CONNECT_SESSION_TOKEN_INVALID`, `CONNECT_SESSION_TOKEN_EXPIRED`, `SIWE_VERIFIER_UNAVAILABLE`,
 *   `SESSION_LIMIT_REACHED`, `STORE_UNAVAILABLE`.
 */
export async function signInWithConnect(
  host: SignInHost,
  smartAccounts: SmartAccounts | undefined,
  raw: ConnectSignInRequest,
): Promise<IssuedSession> {
  const request = parseInput(connectSignInRequest, raw, 'input');
  const appId = request.appId ?? DEFAULT_APP_ID;
  const connect = connectSettings(host, appId);
  // Refused before the channel is spent, and not audited: a request that is not a token costs nothing to send.
  let decoded: DecodedSessionToken;
  let body: { sessionToken: string; uuid: string };
  try {
    body = parseConnectAuthRequest({ sessionToken: request.sessionToken, uuid: request.uuid });
    decoded = decodeSessionToken(body.sessionToken);
  } catch (error) {
    throw asLatchkeyError(error);
  }
  const now = host.clock.now();
  // Single use first: the channel is spent by any attempt, whatever its signature turns out to be.
  const isFirstUse = await host.storeCall('addEntry', () =>
    host.store.addEntry(
      CONNECT_CHANNEL_SCOPE,
      CONNECT_CHANNEL_NAMESPACE,
      { key: body.uuid, value: '1', expiresAt: now + CHANNEL_MEMORY_MS },
      now,
    ),
  );
  if (!isFirstUse) throw new LatchkeyError('CONNECT_CHANNEL_USED');

  let verifierFailure: LatchkeyError | null = null;
  const verifySignature = async (token: DecodedSessionToken): Promise<boolean> => {
    if (token.claims.chainType !== 'eip155') return verifySessionTokenSignature(token);
    try {
      const signer = await verifyEthereumSignature({
        message: token.message,
        signature: bytesToHex(token.signature),
        address: token.claims.address,
        chainId: Number(token.claims.chainId),
        smartAccounts,
      });
      return signer !== null;
    } catch (error) {
      verifierFailure = asLatchkeyError(error);
      return false;
    }
  };
  try {
    if (!isChainAllowed(decoded.claims, connect)) throw new LatchkeyError('CONNECT_SESSION_TOKEN_INVALID');
    let verified: Awaited<ReturnType<typeof verifyConnectSessionToken>>;
    try {
      verified = await verifyConnectSessionToken(body, {
        relay: connect.relayUrls,
        now,
        clockSkewMs: connect.clockSkewMs,
        verifySignature,
        ...(connect.maxTokenAgeMs === null ? {} : { maxAgeMs: connect.maxTokenAgeMs }),
      });
    } catch (error) {
      if (verifierFailure === null) throw error;
      // A verifier that could not answer (the chain's RPC is down) is not a bad signature and nobody's
      // fault: the channel is given back, so the same token can be exchanged once the chain answers.
      // Every other failure leaves it spent.
      await host.storeCall('deleteEntry', () =>
        host.store.deleteEntry(CONNECT_CHANNEL_SCOPE, CONNECT_CHANNEL_NAMESPACE, body.uuid, now),
      );
      throw verifierFailure;
    }
    return await issueSignInSession(host, {
      appId,
      account: verified.account,
      method: 'connect',
      notAfter: verified.expiresAt,
      scope: request.scope,
      device: request.device,
    });
  } catch (error) {
    const failure = asLatchkeyError(error);
    if (failure.code !== 'STORE_UNAVAILABLE') {
      const field: Record<string, string> = isConnectError(error) && error.field !== undefined ? { field: error.field } : {};
      await host.record(appId, [signInFailure(now, 'connect', sessionTokenAccount(decoded.claims), failure.code, field)]);
    }
    throw failure;
  }
}
