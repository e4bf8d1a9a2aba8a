import { isLatchkeyError, LatchkeyError, type SessionKey, sessionKeyRequest } from '@latchkey/core';
import { z } from 'zod';
import { defineRoute, type RouteSpec } from '../route.js';
import { sessionIdSchema } from '../schemas.js';
import { sessionKeyRevoked, signatureRequired } from '../stamps.js';

const ms = z.number().int().describe('milliseconds since the epoch');

const STAMPS =
  'Authenticated like every session route (bearer token or session cookie, CSRF rule for cookies); a `Latchkey-Signature` stamp, when sent, is verified.';

const sessionKeySchema = z
  .object({
    id: z.string().describe('lksk_…: names the key in a stamp'),
    publicKey: z.string().describe('hex of the 65-byte uncompressed P-256 public key'),
    scope: z.enum(['read-only', 'read-write']),
    name: z.string().nullable(),
    createdAt: ms,
    expiresAt: ms.describe("never later than the session's absolute expiry"),
  })
  .strict();

const listedKeySchema = sessionKeySchema.extend({ sessionId: sessionIdSchema, current: z.boolean() }).strict();

const keyIdSchema = z.string().regex(/^lksk_[1-9A-HJ-NP-Za-km-z]{32,48}$/, 'a session key id (lksk_…)');

function view(key: SessionKey): z.output<typeof sessionKeySchema> {
  return {
    id: key.id,
    publicKey: key.publicKey,
    scope: key.scope,
    name: key.name,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt,
  };
}

const challenge = defineRoute({
  method: 'POST',
  path: '/v1/session-keys/challenge',
  operationId: 'createSessionKeyChallenge',
  tag: 'session-keys',
  summary: 'A challenge for registering a device key',
  description:
    "Single use, valid 5 minutes, bound to the caller's session (one outstanding per session: a new one replaces it): the device signs it into its registration proof " +
    '(`registration` of `POST /v1/session-keys`). Since a new challenge cancels the outstanding one, under `requireStamps` ' +
    'it needs what making the key needs: a stamp by a key of this session (one that expired less than ' +
    '`rotationGraceSeconds` ago and is not revoked is accepted; asking spends nothing), unless the session holds no key ' +
    `(401 SIGNATURE_REQUIRED). ${STAMPS}`,
  access: 'session',
  app: 'header',
  stamps: 'rotation',
  success: [
    {
      status: 201,
      description: 'The challenge.',
      schema: z.object({ challenge: z.string().describe('base64url, 32 random bytes'), expiresAt: ms }).strict(),
    },
  ],
  errors: ['SIGNATURE_REQUIRED'],
  async handle({ reply, appId, caller, services }) {
    const issued = await services.latchkey.sessionKeys
      .createChallenge({ appId, sessionId: caller.session.id, stamp: caller.stamp })
      .catch((error: unknown) => {
        if (isLatchkeyError(error, 'SIGNATURE_REQUIRED')) throw signatureRequired();
        throw error;
      });
    return reply.code(201).send(issued);
  },
});

const create = defineRoute({
  method: 'POST',
  path: '/v1/session-keys',
  operationId: 'createSessionKey',
  tag: 'session-keys',
  summary: 'Make a session key for this session',
  description:
    'Exactly one of `targetPublicKey` (the server makes a P-256 key and answers its private scalar HPKE-sealed to that key, ' +
    "the credential bundle: origin 001's client session; the server keeps only the public half) and `registration` (the " +
    "device's own key, proven by its signature over a challenge from `POST /v1/session-keys/challenge`). `ttlSeconds` " +
    "defaults to the app's `sessionKeys.ttlSeconds` (900) and may not exceed `maxTtlSeconds`; a key never outlives the " +
    'session. A read-write key needs a read-write session (and, when stamped, a read-write key): 403 SCOPE_READ_ONLY. ' +
    'Under `requireStamps` the request needs a stamp by a key of this session, unless the session never had a key: of ' +
    'concurrent first keys exactly one is made, the others get 401 SIGNATURE_REQUIRED. A key that expired less than ' +
    '`rotationGraceSeconds` (300) ago and is not revoked may stamp the making of its one successor, which revokes it: of ' +
    'concurrent rotations by it exactly one succeeds, and any other use is 401 SESSION_KEY_REVOKED. A live stamping key ' +
    `stays live (a client replacing it revokes it with \`DELETE /v1/session-keys/{id}\`). ${STAMPS}`,
  access: 'session',
  app: 'header',
  stamps: 'rotation',
  body: sessionKeyRequest,
  success: [
    {
      status: 201,
      description: 'The new key; with `targetPublicKey`, the credential bundle too.',
      schema: z
        .object({
          sessionKey: sessionKeySchema,
          credentialBundle: z
            .string()
            .optional()
            .describe(
              "base58check; Turnkey's credential-bundle format: HPKE (DHKEM P-256, HKDF-SHA256, AES-256-GCM) to the target key",
            ),
        })
        .strict(),
    },
  ],
  errors: [
    'SESSION_KEY_TARGET_INVALID',
    'SCOPE_READ_ONLY',
    'SESSION_KEY_CHALLENGE_INVALID',
    'SIGNATURE_INVALID',
    'SIGNATURE_REQUIRED',
    'SESSION_KEY_REVOKED',
    'SESSION_KEY_LIMIT_REACHED',
  ],
  async handle({ reply, body, caller, services }) {
    const created = await services.latchkey.sessionKeys
      .create({ ...body, session: caller.session, stamp: caller.stamp })
      .catch((error: unknown) => {
        // Not the first key, and no stamp: the same answer as any route that needs one.
        if (isLatchkeyError(error, 'SIGNATURE_REQUIRED')) throw signatureRequired();
        // The expired stamping key made its successor already: as a stamp by a revoked key is answered.
        if (isLatchkeyError(error, 'SESSION_KEY_REVOKED')) throw sessionKeyRevoked();
        throw error;
      });
    const answer = { sessionKey: view(created.sessionKey) };
    return reply
      .code(201)
      .send(created.credentialBundle === undefined ? answer : { ...answer, credentialBundle: created.credentialBundle });
  },
});

const list = defineRoute({
  method: 'GET',
  path: '/v1/session-keys',
  operationId: 'listSessionKeys',
  tag: 'session-keys',
  summary: "The live session keys of the caller's wallet",
  description:
    "Every live (unexpired, unrevoked) key of the wallet's live sessions in this app, oldest first; `current` marks the " +
    `caller's session's keys. Public keys only. ${STAMPS}`,
  access: 'session',
  app: 'header',
  success: [
    {
      status: 200,
      description: "The wallet's live session keys.",
      schema: z.object({ sessionKeys: z.array(listedKeySchema) }).strict(),
    },
  ],
  errors: [],
  async handle({ appId, caller, services }) {
    const keys = await services.latchkey.sessionKeys.list({ appId, account: caller.session.account });
    return {
      sessionKeys: keys.map((k) => ({ ...view(k), sessionId: k.sessionId, current: k.sessionId === caller.session.id })),
    };
  },
});

const revoke = defineRoute({
  method: 'DELETE',
  path: '/v1/session-keys/{id}',
  operationId: 'revokeSessionKey',
  tag: 'session-keys',
  summary: "Revoke one of the wallet's session keys",
  description:
    "Revokes an unrevoked key of the caller's wallet at once, live or expired (an expired key's record is kept a while, " +
    'and revoking it stops it making its successor): the next stamp by it, on any node, is 401 SESSION_KEY_REVOKED. A ' +
    "read-only session may revoke only its own session's keys, and a read-only key only itself (403 SCOPE_READ_ONLY " +
    'otherwise), so a client can always retire the key it replaces, signed by that key. An id that is not such a key, ' +
    `someone else's included, is 404 SESSION_KEY_TARGET_NOT_FOUND. ${STAMPS}`,
  access: 'session',
  app: 'header',
  stamps: 'revocation',
  params: z.object({ id: keyIdSchema }).strict(),
  success: [{ status: 204, description: 'Revoked.' }],
  errors: ['SCOPE_READ_ONLY', 'SESSION_KEY_TARGET_NOT_FOUND'],
  async handle({ reply, params, appId, caller, services }) {
    if (caller.stamp?.scope === 'read-only' && caller.stamp.keyId !== params.id) {
      throw new LatchkeyError('SCOPE_READ_ONLY', { message: 'A read-only key may revoke only itself.' });
    }
    const isRevoked = await services.latchkey.sessionKeys.revoke({
      appId,
      account: caller.session.account,
      keyId: params.id,
      reason: 'revoked_by_wallet',
      ...(caller.session.scope === 'read-only' ? { sessionId: caller.session.id } : {}),
    });
    if (!isRevoked) throw new LatchkeyError('SESSION_KEY_TARGET_NOT_FOUND');
    return reply.code(204).send();
  },
});

export const sessionKeyRoutes: readonly RouteSpec[] = [challenge, create, list, revoke];
