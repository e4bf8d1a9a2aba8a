import { generateP256KeyPair, openCredentialBundle, signRegistration, toHex } from '@latchkey/protocol';
import { asClientError, LatchkeyClientError } from '../errors/index.js';
import { type Credential, expectJson, jsonRequest, type ReplayableRequest } from '../http/request.js';
import type { HeldKey } from '../session/state.js';
import type { SessionKeyInfo, SessionKeyMode, SessionScope } from '../session/types.js';
import { generateSessionKeyPair, importSessionPrivateKey } from './webcrypto.js';

/** What a new session key is asked for with. */
export interface KeyRequest {
  scope: SessionScope;
  mode: SessionKeyMode;
  ttlSeconds?: number | undefined;
  name?: string | undefined;
}

/** How key creation reaches the server: one attempt, no refresh, no retry (the caller decides those). */
export interface KeyTransport {
  base: URL;
  /** True when the storage writes keys out: create them extractable. */
  extractable: boolean;
  send(request: ReplayableRequest, credential: Credential): Promise<Response>;
}

interface CreatedAnswer {
  sessionKey?: Omit<SessionKeyInfo, 'mode'>;
  credentialBundle?: string;
}

function optional(request: KeyRequest): Record<string, unknown> {
  return {
    ...(request.ttlSeconds === undefined ? {} : { ttlSeconds: request.ttlSeconds }),
    ...(request.name === undefined ? {} : { name: request.name }),
  };
}

function keyInfo(answer: CreatedAnswer, mode: SessionKeyMode): SessionKeyInfo {
  const k = answer.sessionKey;
  if (!k || typeof k.id !== 'string' || typeof k.publicKey !== 'string' || typeof k.expiresAt !== 'number') {
    throw new LatchkeyClientError('RESPONSE_INVALID', { message: 'POST /v1/session-keys: no session key in the answer' });
  }
  return {
    id: k.id,
    publicKey: k.publicKey.toLowerCase(),
    scope: k.scope,
    name: k.name ?? null,
    createdAt: k.createdAt,
    expiresAt: k.expiresAt,
    mode,
  };
}

/**
 * Registered mode: the key pair is made here (private half non-extractable unless the storage writes
 * keys out); the server gets the public half and a proof of possession over its single-use challenge.
 * `credential.key` (the key being replaced, expired or not) stamps the challenge and the creation: the
 * server requires both under `requireStamps` for every key but a session's first (a new challenge
 * replaces the outstanding one, so a bearer token alone may not ask for one).
 */
async function createRegistered(transport: KeyTransport, credential: Credential, request: KeyRequest): Promise<HeldKey> {
  const pair = await generateSessionKeyPair({ extractable: transport.extractable });
  const challenged = await transport.send(jsonRequest(transport.base, 'POST', '/v1/session-keys/challenge', {}), credential);
  const { challenge } = await expectJson<{ challenge: string }>(challenged, 201);
  const signature = await signRegistration(pair.privateKey, { challenge, publicKey: pair.publicKeyHex, scope: request.scope });
  const body = {
    registration: { publicKey: pair.publicKeyHex, challenge, signature },
    scope: request.scope,
    ...optional(request),
  };
  const created = await transport.send(jsonRequest(transport.base, 'POST', '/v1/session-keys', body), credential);
  const info = keyInfo(await expectJson<CreatedAnswer>(created, 201), 'registered');
  if (info.publicKey !== pair.publicKeyHex) {
    throw new LatchkeyClientError('RESPONSE_INVALID', { message: 'The server registered another public key than the one sent.' });
  }
  return { info, privateKey: pair.privateKey, ttlSeconds: request.ttlSeconds };
}

/**
 * Bundle mode (Turnkey's client session): a one-time target key pair is made here, the server makes
 * the session key and seals its private scalar to the target (HPKE), and only this device opens it.
 * The scalar goes straight into WebCrypto and the raw bytes (scalar and target key) are wiped.
 */
async function createFromBundle(transport: KeyTransport, credential: Credential, request: KeyRequest): Promise<HeldKey> {
  const target = generateP256KeyPair();
  try {
    const body = { targetPublicKey: toHex(target.publicKey), scope: request.scope, ...optional(request) };
    const created = await transport.send(jsonRequest(transport.base, 'POST', '/v1/session-keys', body), credential);
    const answer = await expectJson<CreatedAnswer>(created, 201);
    const info = keyInfo(answer, request.mode);
    if (typeof answer.credentialBundle !== 'string') {
      throw new LatchkeyClientError('CREDENTIAL_BUNDLE_INVALID', { message: 'The answer carries no credential bundle.' });
    }
    let scalar: Uint8Array;
    try {
      scalar = await openCredentialBundle(answer.credentialBundle, target.privateKey);
    } catch (error) {
      throw asClientError(error, 'CREDENTIAL_BUNDLE_INVALID');
    }
    const extractable = transport.extractable || request.mode === 'server';
    const privateKey = await importSessionPrivateKey(scalar, info.publicKey, { extractable });
    return { info, privateKey, ttlSeconds: request.ttlSeconds };
  } finally {
    target.privateKey.fill(0);
  }
}

/** Creates a session key in the requested mode. */
export function createKey(transport: KeyTransport, credential: Credential, request: KeyRequest): Promise<HeldKey> {
  return request.mode === 'registered'
    ? createRegistered(transport, credential, request)
    : createFromBundle(transport, credential, request);
}
