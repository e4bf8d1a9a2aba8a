import { z } from 'zod';

/**
 * The shapes the API answers with, for the OpenAPI document. Objects are strict, so the conformance
 * test notices any field the server adds without documenting it (a secret, say).
 */

const ms = z.number().int().describe('milliseconds since the epoch');

export const sessionIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'a session id is 32 lowercase hex characters');

export const sessionSchema = z
  .object({
    id: sessionIdSchema,
    appId: z.string(),
    account: z.string().describe('CAIP-10 account, e.g. eip155:1:0xAb…'),
    chainType: z.enum(['eip155', 'solana']),
    address: z.string(),
    userId: z.string().nullable(),
    authMethod: z.string().describe('siwe, siws, connect, api, …'),
    scope: z.enum(['read-only', 'read-write']),
    roles: z.array(z.string()),
    permissions: z.array(z.string()),
    device: z.object({ deviceId: z.string().optional(), userAgent: z.string().optional(), ip: z.string().optional() }).strict(),
    createdAt: ms,
    lastActiveAt: ms,
    idleExpiresAt: ms,
    absoluteExpiresAt: ms,
    expiresAt: ms.describe('the earlier of the two expiries'),
    refreshGeneration: z.number().int().nonnegative(),
    hasData: z.boolean(),
  })
  .strict()
  .describe('A session as callers see it: never a token, a hash or session data.');

export const issuedSchema = z
  .object({
    session: sessionSchema,
    token: z.string().describe('lks_… session token (bearer mode only)'),
    refreshToken: z.string().describe('lkr_… refresh token (bearer mode only)'),
    accessToken: z.string().optional().describe('JWT access token, when the app has access tokens'),
  })
  .strict();

/** Cookie mode: the tokens travel in HttpOnly cookies and never reach page scripts. */
export const issuedCookieSchema = z
  .object({
    session: sessionSchema,
    accessToken: z.string().optional().describe('JWT access token, when the app has access tokens'),
  })
  .strict();

export const sessionsSchema = z.object({ sessions: z.array(sessionSchema.extend({ current: z.boolean() }).strict()) }).strict();

export const operatorSessionsSchema = z.object({ sessions: z.array(sessionSchema) }).strict();

export const revokedSchema = z.object({ revoked: z.number().int().nonnegative() }).strict();

export const statsSchema = z
  .object({
    appId: z.string(),
    active: z.number().int().nonnegative(),
    byChain: z.record(z.string(), z.number().int()),
    byAuthMethod: z.record(z.string(), z.number().int()),
    counters: z.record(z.string(), z.number().int()),
  })
  .strict();

export const auditEntrySchema = z
  .object({
    appId: z.string(),
    seq: z.number().int().positive(),
    at: ms,
    type: z.string(),
    sessionId: z.string().nullable(),
    subject: z.string().nullable(),
    details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    prevHash: z.string(),
    hash: z.string(),
  })
  .strict();

export const auditSchema = z.object({ entries: z.array(auditEntrySchema) }).strict();

const auditHeadSchema = z.object({ seq: z.number().int().nonnegative(), hash: z.string() }).strict();

export const auditVerifySchema = z.union([
  z.object({ valid: z.literal(true), entries: z.number().int().nonnegative(), head: auditHeadSchema }).strict(),
  z
    .object({
      valid: z.literal(false),
      entries: z.number().int().nonnegative(),
      brokenAtSeq: z.number().int().positive(),
      reason: z.enum(['hash_mismatch', 'link_mismatch', 'sequence_gap']),
    })
    .strict(),
]);

export const jwksSchema = z
  .object({
    keys: z.array(
      z
        .object({
          kid: z.string(),
          alg: z.enum(['EdDSA', 'ES256']),
          use: z.literal('sig'),
          kty: z.string(),
          crv: z.string(),
          x: z.string(),
          y: z.string().optional(),
        })
        .strict(),
    ),
  })
  .strict();

export const nonceSchema = z.object({ nonce: z.string(), expiresAt: ms }).strict();

export const healthSchema = z.object({ status: z.literal('ok') }).strict();
export const readySchema = z.object({ status: z.literal('ready') }).strict();
