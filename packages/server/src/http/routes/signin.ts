import {
  type IssuedSession,
  isLatchkeyError,
  LatchkeyError,
  parseSiweMessage,
  parseSiwsMessage,
  parseToken,
} from '@latchkey/core';
import { z } from 'zod';
import { type CookieNames, challenge, checkSameOrigin } from '../credentials.js';
import { HttpRejection } from '../problems.js';
import { defineRoute, type RouteSpec } from '../route.js';
import { issuedCookieSchema, issuedSchema, nonceSchema } from '../schemas.js';
import { answerIssued, deviceOf, rateClient } from './common.js';

const nonce = defineRoute({
  method: 'POST',
  path: '/v1/auth/nonce',
  operationId: 'issueNonce',
  tag: 'sign-in',
  summary: 'Issue a sign-in nonce',
  description:
    "A single-use nonce for the app (`Latchkey-App`) to put in a SIWE or SIWS message. It lapses after the app's `nonceTtlSeconds` (5 minutes by default). Rate limited per client address (an IPv6 client by its /64).",
  access: 'public',
  app: 'header',
  body: z.object({}).strict().optional(),
  success: [{ status: 200, description: 'The nonce and when it lapses.', schema: nonceSchema }],
  errors: ['SIGNIN_NOT_CONFIGURED', 'RATE_LIMITED'],
  async handle({ request, appId, services }) {
    if (!services.latchkey.settings(appId).signIn) {
      throw new LatchkeyError('SIGNIN_NOT_CONFIGURED', { message: `Sign-in is not configured for app "${appId}".` });
    }
    await services.rateLimiter.hit(appId, 'nonce', rateClient(request));
    return services.latchkey.issueNonce({ appId });
  },
});

const signInBody = z
  .object({
    message: z.string().min(1).max(16_384).describe('The signed sign-in message, exactly as signed.'),
    signature: z.string().min(1).max(16_384).describe('0x-hex (Ethereum) or base58 (Solana) signature.'),
    mode: z
      .enum(['bearer', 'cookie'])
      .optional()
      .describe('bearer (default): tokens in the body. cookie: tokens in HttpOnly cookies, not in the body.'),
    scope: z.enum(['read-only', 'read-write']).optional().describe('Ask for a read-only session. Default read-write.'),
    deviceId: z.string().min(1).max(128).optional().describe("The client's own device label, recorded with the session."),
  })
  .strict();

type Family = 'siwe' | 'siws';

const FAMILY = {
  siwe: {
    name: 'Ethereum (EIP-4361)',
    parse: parseSiweMessage,
    isEnabled: (chainIds: readonly number[], _clusters: readonly string[]) => chainIds.length > 0,
    errors: [
      'SIWE_MESSAGE_INVALID',
      'SIWE_DOMAIN_MISMATCH',
      'SIWE_URI_MISMATCH',
      'SIWE_CHAIN_NOT_ALLOWED',
      'SIWE_NONCE_INVALID',
      'SIWE_EXPIRED',
      'SIWE_NOT_YET_VALID',
      'SIWE_SIGNATURE_INVALID',
      'SIWE_VERIFIER_UNAVAILABLE',
    ],
  },
  siws: {
    name: 'Solana (SIWS)',
    parse: parseSiwsMessage,
    isEnabled: (_chainIds: readonly number[], clusters: readonly string[]) => clusters.length > 0,
    errors: [
      'SIWS_MESSAGE_INVALID',
      'SIWS_DOMAIN_MISMATCH',
      'SIWS_URI_MISMATCH',
      'SIWS_CHAIN_NOT_ALLOWED',
      'SIWS_NONCE_INVALID',
      'SIWS_EXPIRED',
      'SIWS_NOT_YET_VALID',
      'SIWS_SIGNATURE_INVALID',
    ],
  },
} as const;

function signIn(family: Family): RouteSpec {
  const f = FAMILY[family];
  return defineRoute({
    method: 'POST',
    path: `/v1/auth/${family}`,
    operationId: family === 'siwe' ? 'signInWithEthereum' : 'signInWithSolana',
    tag: 'sign-in',
    summary: `Sign in with ${f.name}`,
    description:
      "Consumes the message's nonce, checks domain, URI origin, chain and times against the app's settings, verifies the signature and creates a new session. " +
      "In cookie mode the request must come from the app's origin (CSRF rule) and the tokens are set as HttpOnly cookies instead of returned. " +
      'Rate limited per client address (an IPv6 client by its /64).',
    access: 'public',
    app: 'header',
    body: signInBody,
    success: [
      {
        status: 200,
        description: 'The new session: with its tokens (bearer mode) or with the tokens in cookies (cookie mode).',
        schema: z.union([issuedSchema, issuedCookieSchema]),
        setsCookies: true,
      },
    ],
    errors: ['SIGNIN_NOT_CONFIGURED', ...f.errors, 'SESSION_LIMIT_REACHED', 'CSRF_REJECTED', 'RATE_LIMITED'],
    async handle({ request, reply, body, appId, services }) {
      const { latchkey, metrics } = services;
      const settings = latchkey.settings(appId).signIn;
      if (!settings || !f.isEnabled(settings.chainIds, settings.solanaClusters)) {
        throw new LatchkeyError('SIGNIN_NOT_CONFIGURED', {
          message: `${family.toUpperCase()} is not enabled for app "${appId}".`,
        });
      }
      let issued: IssuedSession;
      try {
        // Parsed here first: a message that is not one is refused before anything is counted, stored or audited.
        f.parse(body.message);
        let cookies: CookieNames | undefined;
        if (body.mode === 'cookie') {
          checkSameOrigin(request, settings.origin);
          cookies = services.cookies.names(appId);
        }
        // Per client address only: the wallet named in the message is unverified until the engine has checked the signature.
        await services.rateLimiter.hit(appId, 'signIn', rateClient(request));
        const signInRequest = {
          appId,
          message: body.message,
          signature: body.signature,
          device: deviceOf(request, body.deviceId),
          ...(body.scope === undefined ? {} : { scope: body.scope }),
        };
        issued =
          family === 'siwe' ? await latchkey.signInWithEthereum(signInRequest) : await latchkey.signInWithSolana(signInRequest);
        metrics.signIn(family, 'success');
        return answerIssued(reply, services, issued, cookies);
      } catch (error) {
        metrics.signIn(family, error instanceof LatchkeyError ? error.code : 'INTERNAL_ERROR');
        throw error;
      }
    },
  });
}

const refresh = defineRoute({
  method: 'POST',
  path: '/v1/session/refresh',
  operationId: 'refreshSession',
  tag: 'sign-in',
  summary: "Rotate the session's tokens",
  description:
    'Exchanges a refresh token (in the body, or the refresh cookie when the body has none) for a new token pair; the session id stays. ' +
    'A refresh token used again within the grace window gets the same successor; any other reuse revokes the session (REFRESH_TOKEN_REUSED). ' +
    'The cookie form must pass the CSRF rule and answers with new cookies; a refresh that fails for good clears them. Every 401 carries `WWW-Authenticate`. ' +
    'Rate limited per client address (an IPv6 client by its /64).',
  access: 'public',
  app: 'header',
  body: z
    .object({ refreshToken: z.string().min(1).max(512).optional().describe('lkr_… refresh token (bearer mode).') })
    .strict()
    .optional(),
  success: [
    {
      status: 200,
      description: 'The rotated session: new tokens in the body (bearer mode) or in cookies (cookie mode).',
      schema: z.union([issuedSchema, issuedCookieSchema]),
      setsCookies: true,
    },
  ],
  errors: [
    'AUTHENTICATION_REQUIRED',
    'REFRESH_TOKEN_INVALID',
    'REFRESH_TOKEN_REUSED',
    'SESSION_EXPIRED',
    'CSRF_REJECTED',
    'RATE_LIMITED',
  ],
  async handle({ request, reply, body, appId, services }) {
    const { latchkey, cookies: jar } = services;
    let token = body?.refreshToken;
    let cookies: CookieNames | undefined;
    if (token === undefined) {
      const names = jar.names(appId);
      token = request.cookies?.[names.refresh];
      if (token === undefined) throw new HttpRejection('AUTHENTICATION_REQUIRED', { headers: challenge() });
      checkSameOrigin(request, latchkey.settings(appId).signIn?.origin ?? null);
      cookies = names;
    }
    try {
      if (!parseToken('refresh', token)) throw new LatchkeyError('REFRESH_TOKEN_INVALID');
      // Per client address only: the session id's wallet tag is public, so counting it would let anyone spend its budget.
      await services.rateLimiter.hit(appId, 'refresh', rateClient(request));
      const issued = await latchkey.refreshSession(token, { appId });
      return answerIssued(reply, services, issued, cookies);
    } catch (error) {
      if (isLatchkeyError(error, 'REFRESH_TOKEN_REUSED')) services.metrics.refreshReuse(appId);
      if (
        cookies &&
        isLatchkeyError(error) &&
        ['REFRESH_TOKEN_INVALID', 'REFRESH_TOKEN_REUSED', 'SESSION_EXPIRED'].includes(error.code)
      ) {
        jar.clear(reply, cookies);
      }
      // RFC 6750 §3: a refused credential is answered with its challenge.
      if (isLatchkeyError(error) && error.status === 401 && !(error instanceof HttpRejection)) {
        throw new HttpRejection(error.code, { message: error.message, headers: challenge('invalid_token') });
      }
      throw error;
    }
  },
});

export const signInRoutes: readonly RouteSpec[] = [nonce, signIn('siwe'), signIn('siws'), refresh];
