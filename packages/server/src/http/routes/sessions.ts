import { LatchkeyError } from '@latchkey/core';
import { z } from 'zod';
import { HttpRejection } from '../problems.js';
import { defineRoute, type RouteSpec, type SessionCaller } from '../route.js';
import { revokedSchema, sessionIdSchema, sessionSchema, sessionsSchema } from '../schemas.js';

const SESSION_AUTH =
  'Authenticated by `Authorization: Bearer lks_…` or the session cookie; a cookie-authenticated request that changes state must pass the CSRF rule.';

/**
 * A read-only session may end itself, and nothing else: revoking any other session of the wallet
 * (which may be read-write) takes a read-write session. Decided before any store call, so the answer
 * says nothing about the target.
 */
function requireReadWrite(caller: SessionCaller): void {
  if (caller.session.scope !== 'read-write') throw new LatchkeyError('SCOPE_READ_ONLY');
}

const current = defineRoute({
  method: 'GET',
  path: '/v1/session',
  operationId: 'getSession',
  tag: 'session',
  summary: "The caller's session",
  description: `Validates the credential (sliding the idle expiry, at most once per activity interval) and answers the session. ${SESSION_AUTH}`,
  access: 'session',
  app: 'header',
  success: [{ status: 200, description: 'The session, without secrets.', schema: z.object({ session: sessionSchema }).strict() }],
  errors: [],
  async handle({ caller }) {
    return { session: caller.session };
  },
});

const signOut = defineRoute({
  method: 'DELETE',
  path: '/v1/session',
  operationId: 'signOut',
  tag: 'session',
  summary: 'Sign out this session',
  description: `Revokes the caller's session; in cookie mode the cookies are cleared. ${SESSION_AUTH}`,
  access: 'session',
  app: 'header',
  stamps: 'exempt',
  success: [{ status: 204, description: 'Signed out.', setsCookies: true }],
  errors: [],
  async handle({ reply, appId, caller, services }) {
    await services.latchkey.revokeSessionById(caller.session.id, { appId, reason: 'logout' });
    if (caller.source === 'cookie') services.cookies.clear(reply, caller.cookies);
    return reply.code(204).send();
  },
});

const list = defineRoute({
  method: 'GET',
  path: '/v1/sessions',
  operationId: 'listSessions',
  tag: 'session',
  summary: "All live sessions of the caller's wallet",
  description: `Oldest first, the caller's own marked \`current\`: ids, devices and times, never tokens. ${SESSION_AUTH}`,
  access: 'session',
  app: 'header',
  success: [{ status: 200, description: "The wallet's live sessions.", schema: sessionsSchema }],
  errors: [],
  async handle({ appId, caller, services }) {
    const sessions = await services.latchkey.getWalletSessions(caller.session.account, { appId });
    return { sessions: sessions.map((s) => ({ ...s, current: s.id === caller.session.id })) };
  },
});

const revokeOne = defineRoute({
  method: 'DELETE',
  path: '/v1/sessions/{id}',
  operationId: 'revokeSession',
  tag: 'session',
  summary: "Revoke one of the caller's sessions",
  description:
    'Revokes a live session of the caller\'s own wallet ("sign out that device"). An id that is not one of them, someone else\'s ' +
    'included, is 404 SESSION_TARGET_NOT_FOUND: the answer does not tell whether it exists. A read-only session may revoke only itself ' +
    `(403 SCOPE_READ_ONLY for any other id). Revoking the current session in cookie mode clears the cookies. ${SESSION_AUTH}`,
  access: 'session',
  app: 'header',
  params: z.object({ id: sessionIdSchema }).strict(),
  success: [{ status: 204, description: 'Revoked.', setsCookies: true }],
  errors: ['SESSION_TARGET_NOT_FOUND', 'SCOPE_READ_ONLY'],
  async handle({ reply, params, appId, caller, services }) {
    const { latchkey } = services;
    if (params.id !== caller.session.id) requireReadWrite(caller);
    const own = await latchkey.getWalletSessions(caller.session.account, { appId });
    const isOwn = own.some((s) => s.id === params.id);
    if (!isOwn || !(await latchkey.revokeSessionById(params.id, { appId, reason: 'revoked_by_wallet' }))) {
      throw new LatchkeyError('SESSION_TARGET_NOT_FOUND');
    }
    if (params.id === caller.session.id && caller.source === 'cookie') services.cookies.clear(reply, caller.cookies);
    return reply.code(204).send();
  },
});

const revokeAll = defineRoute({
  method: 'DELETE',
  path: '/v1/sessions',
  operationId: 'revokeAllSessions',
  tag: 'session',
  summary: "Revoke all of the wallet's sessions, or all but this one",
  description: `With \`keep=current\` the caller's session stays ("sign out everywhere else"); without it every session goes, the caller's too (and its cookies). Needs a read-write session (403 SCOPE_READ_ONLY). ${SESSION_AUTH}`,
  access: 'session',
  app: 'header',
  query: z.object({ keep: z.literal('current').optional().describe("current: keep the caller's own session.") }).strict(),
  success: [{ status: 200, description: 'How many live sessions were revoked.', schema: revokedSchema, setsCookies: true }],
  errors: ['SCOPE_READ_ONLY'],
  async handle({ reply, query, appId, caller, services }) {
    requireReadWrite(caller);
    const keepCurrent = query.keep === 'current';
    const result = await services.latchkey.invalidateAllWalletSessions(caller.session.account, {
      appId,
      ...(keepCurrent ? { keepSessionId: caller.session.id } : {}),
    });
    if (!keepCurrent && caller.source === 'cookie') services.cookies.clear(reply, caller.cookies);
    return result;
  },
});

/** A stamp a resource server received with the token, and the request it came with (docs/stamps.md). */
const introspectStampSchema = z
  .object({
    header: z.string().max(1024).describe('The `Latchkey-Signature` value as received.'),
    method: z.string().min(1).max(64).describe('The request method as sent.'),
    path: z.string().min(1).max(16_384).describe('Path and query exactly as on the request line.'),
    bodyDigest: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/, 'unpadded base64url of a SHA-256')
      .describe('base64url (unpadded) SHA-256 of the body bytes as received; no body hashes as empty.'),
    isWrite: z
      .boolean()
      .optional()
      .describe(
        'Whether the request changes state (a read-only key may not sign it). Default: any method but GET, HEAD, OPTIONS.',
      ),
  })
  .strict();

/** The stamp's verdict: the key that signed, or the code the server would have refused it with. */
const stampVerdictSchema = z.union([
  z
    .object({
      valid: z.literal(true),
      keyId: z.string(),
      scope: z.enum(['read-only', 'read-write']),
      expiresAt: z.number().int().describe('When the key expires (ms).'),
    })
    .strict(),
  z
    .object({
      valid: z.literal(false),
      code: z.enum([
        'SIGNATURE_MALFORMED',
        'SESSION_KEY_NOT_FOUND',
        'SESSION_KEY_MISMATCH',
        'SESSION_KEY_REVOKED',
        'SESSION_KEY_EXPIRED',
        'SIGNATURE_STALE',
        'SCOPE_READ_ONLY',
        'SIGNATURE_REPLAYED',
        'SIGNATURE_INVALID',
      ]),
      expiresAt: z.number().int().optional().describe('With SESSION_KEY_EXPIRED: when the key expired (ms).'),
    })
    .strict(),
]);

const stampedIntrospectionSchema = z.union([
  z.object({ active: z.literal(false) }).strict(),
  z.object({ active: z.literal(true), session: sessionSchema, stamp: stampVerdictSchema.optional() }).strict(),
]);

const introspect = defineRoute({
  method: 'POST',
  path: '/v1/sessions/introspect',
  operationId: 'introspectToken',
  tag: 'operator',
  summary: 'Is this session token active? (RFC 7662 in spirit)',
  description:
    "For resource servers holding an app API key: `{ active: true, session }` for a live session token of the key's app, " +
    '`{ active: false }` for anything else. 503 when the store cannot answer, never `active: false`. With `stamp` (the ' +
    "request's `Latchkey-Signature` and what it signs), an active answer also carries the stamp's verdict, checked as on the " +
    "server's own routes: `stamp: { valid: true, keyId, scope, expiresAt }` or `stamp: { valid: false, code }` (`expiresAt` " +
    'too for SESSION_KEY_EXPIRED). Verifying consumes the nonce: a stamped answer is good for that one request, never to cache.',
  access: 'api-key',
  app: 'api-key',
  body: z
    .object({
      token: z.string().min(1).max(4096).describe('An lks_… session token.'),
      stamp: introspectStampSchema.optional(),
    })
    .strict(),
  success: [
    {
      status: 200,
      description: "Whether the token is active, its session when it is, and the stamp's verdict when one was sent.",
      schema: stampedIntrospectionSchema,
    },
  ],
  errors: [],
  async handle({ body, appId, services }) {
    const { latchkey } = services;
    // With a stamp, the session's activity is recorded only once the stamp passed: a request refused for its
    // stamp must not extend the idle expiry (as on the server's own routes).
    const result = await latchkey.validateSession(body.token, { appId, activity: body.stamp ? 'defer' : 'record' });
    if (!result.valid) {
      if (result.code === 'STORE_UNAVAILABLE') throw new HttpRejection('STORE_UNAVAILABLE');
      // A dead session's stamp is never looked at (its nonce stays unspent).
      return { active: false };
    }
    if (!body.stamp) return { active: true, session: result.session };
    const stamp = await latchkey.sessionKeys.verifyStamp({ appId, sessionId: result.session.id, ...body.stamp });
    if (stamp.valid) {
      const { keyId, scope, expiresAt } = stamp;
      const session = await latchkey.recordActivity(body.token, { appId, session: result.session }).catch(() => {
        throw new HttpRejection('STORE_UNAVAILABLE');
      });
      return { active: true, session, stamp: { valid: true, keyId, scope, expiresAt } };
    }
    if (stamp.code === 'STORE_UNAVAILABLE') throw new HttpRejection('STORE_UNAVAILABLE');
    return {
      active: true,
      session: result.session,
      stamp:
        stamp.code === 'SESSION_KEY_EXPIRED'
          ? { valid: false, code: stamp.code, expiresAt: stamp.expiresAt }
          : { valid: false, code: stamp.code },
    };
  },
});

export const sessionRoutes: readonly RouteSpec[] = [current, signOut, list, revokeOne, revokeAll, introspect];
