import type { Hex } from 'viem';
import { createSiweMessage } from 'viem/siwe';
import { LatchkeyClientError } from '../errors/index.js';

/**
 * What the sign-in message says besides the wallet and the nonce. The server checks domain, URI origin
 * and chain against the app's `signIn` settings, so these must match them.
 */
export interface SiweOptions {
  /** RFC 3986 authority, e.g. `app.example.com` or `localhost:3000`. Default in a browser: `location.host`. */
  domain?: string;
  /** The signing page; its origin must be the app's `signIn.origin`. Default in a browser: `location.origin`. */
  uri?: string;
  /** Default: the wallet's chain (EIP-1193 `eth_chainId`), or 1 for a local account. */
  chainId?: number;
  /** The human-readable line the wallet shows. */
  statement?: string;
  /** Seconds the message stays valid; the session is capped at it. Default: none (the app's lifetimes apply). */
  expirationSeconds?: number;
}

interface PageLocation {
  host: string;
  origin: string;
}

function pageLocation(): PageLocation | undefined {
  const location = (globalThis as { location?: PageLocation }).location;
  return typeof location?.host === 'string' && typeof location.origin === 'string' && location.origin !== 'null'
    ? location
    : undefined;
}

/** The EIP-4361 message for one sign-in, built with viem's `createSiweMessage`. */
export function buildSiweMessage(input: {
  options: SiweOptions;
  address: Hex;
  walletChainId: number | undefined;
  nonce: string;
  now: number;
}): string {
  const { options } = input;
  const page = pageLocation();
  const domain = options.domain ?? page?.host;
  const uri = options.uri ?? page?.origin;
  if (domain === undefined || uri === undefined) {
    throw new LatchkeyClientError('CLIENT_OPTIONS_INVALID', {
      message:
        'siwe.domain and siwe.uri: needed outside a browser page (the app’s signIn.domain and an URI on its signIn.origin)',
      field: domain === undefined ? 'siwe.domain' : 'siwe.uri',
    });
  }
  const chainId = options.chainId ?? input.walletChainId ?? 1;
  try {
    return createSiweMessage({
      address: input.address,
      chainId,
      domain,
      uri,
      version: '1',
      nonce: input.nonce,
      issuedAt: new Date(input.now),
      ...(options.statement === undefined ? {} : { statement: options.statement }),
      ...(options.expirationSeconds === undefined
        ? {}
        : { expirationTime: new Date(input.now + options.expirationSeconds * 1000) }),
    });
  } catch (error) {
    throw new LatchkeyClientError('CLIENT_OPTIONS_INVALID', {
      message: `siwe: ${error instanceof Error ? error.message.split('\n', 1)[0] : 'invalid message field'}`,
      cause: error,
    });
  }
}
