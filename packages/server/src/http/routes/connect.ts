import { type IssuedSession, LatchkeyError } from '@latchkey/core';
import { z } from 'zod';
import { type CookieNames, checkSameOrigin } from '../credentials.js';
import { defineRoute, type RouteSpec } from '../route.js';
import { issuedCookieSchema, issuedSchema } from '../schemas.js';
import { answerIssued, deviceOf, rateClient } from './common.js';

/** RFC 4122 version 4, lowercase: the connect channel id (docs/connect-protocol.md §2); a pattern, so the OpenAPI document shows it. */
const CHANNEL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const connectBody = z
  .object({
    sessionToken: z.string().min(1).max(8192).describe('The lkc1.… session token the wallet sent in connected_uuid, verbatim.'),
    uuid: z.string().regex(CHANNEL_ID, 'an RFC 4122 v4 UUID in lowercase').describe('The channel the token came through.'),
    mode: z
      .enum(['bearer', 'cookie'])
      .optional()
      .describe('bearer (default): tokens in the body. cookie: tokens in HttpOnly cookies, not in the body.'),
    scope: z.enum(['read-only', 'read-write']).optional().describe('Ask for a read-only session. Default read-write.'),
    deviceId: z.string().min(1).max(128).optional().describe("The client's own device label, recorded with the session."),
  })
  .strict();

/**
 * `POST /v1/auth/connect`, the session bridge of QR connect: a dApp that received a wallet's session
 * token through the relay exchanges it for a Latchkey session, answered like the sign-in routes.
 */
const connect = defineRoute({
  method: 'POST',
  path: '/v1/auth/connect',
  operationId: 'signInWithConnect',
  tag: 'sign-in',
  summary: 'Exchange a QR-connect session token for a session',
  description:
    "Consumes the channel id first (a channel yields one session: a second exchange is CONNECT_CHANNEL_USED), then checks the wallet-signed token: its channel is `uuid`, its relay one of the app's `connect.relayUrls`, its chain one the app accepts, its times against the server clock, and its signature (EIP-191 for an EOA, ERC-1271 for a deployed smart account, Ed25519 for Solana). " +
    "Then creates a new session that ends no later than the token. In cookie mode the request must come from the app's origin (CSRF rule) and the tokens are set as HttpOnly cookies instead of returned. " +
    'Rate limited per client address (an IPv6 client by its /64), with the sign-in routes.',
  access: 'public',
  app: 'header',
  body: connectBody,
  success: [
    {
      status: 200,
      description: 'The new session: with its tokens (bearer mode) or with the tokens in cookies (cookie mode).',
      schema: z.union([issuedSchema, issuedCookieSchema]),
      setsCookies: true,
    },
  ],
  errors: [
    'SIGNIN_NOT_CONFIGURED',
    'CONNECT_CHANNEL_USED',
    'CONNECT_SESSION_TOKEN_INVALID',
    'CONNECT_SESSION_TOKEN_EXPIRED',
    'SIWE_VERIFIER_UNAVAILABLE',
    'SESSION_LIMIT_REACHED',
    'CSRF_REJECTED',
    'RATE_LIMITED',
  ],
  async handle({ request, reply, body, appId, services }) {
    const { latchkey, metrics } = services;
    if (!latchkey.settings(appId).connect) {
      throw new LatchkeyError('SIGNIN_NOT_CONFIGURED', { message: `Connect is not configured for app "${appId}".` });
    }
    let issued: IssuedSession;
    try {
      let cookies: CookieNames | undefined;
      if (body.mode === 'cookie') {
        checkSameOrigin(request, latchkey.settings(appId).signIn?.origin ?? null);
        cookies = services.cookies.names(appId);
      }
      // Per client address only: the wallet named in the token is unverified until the engine has checked it.
      await services.rateLimiter.hit(appId, 'signIn', rateClient(request));
      issued = await latchkey.signInWithConnect({
        appId,
        sessionToken: body.sessionToken,
        uuid: body.uuid,
        device: deviceOf(request, body.deviceId),
        ...(body.scope === undefined ? {} : { scope: body.scope }),
      });
      metrics.signIn('connect', 'success');
      return answerIssued(reply, services, issued, cookies);
    } catch (error) {
      metrics.signIn('connect', error instanceof LatchkeyError ? error.code : 'INTERNAL_ERROR');
      throw error;
    }
  },
});

export const connectRoutes: readonly RouteSpec[] = [connect];
