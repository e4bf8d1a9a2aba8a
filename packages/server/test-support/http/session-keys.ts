/**
 * Session-key fixtures for the HTTP tests: a device that asks for a key sealed to its own target key,
 * opens the credential bundle, and stamps requests with what it holds.
 */
import { createStamp, generateP256KeyPair, openCredentialBundle, toHex } from '@latchkey/protocol';
import type { LightMyRequestResponse } from 'fastify';
import type { Fixture } from './index.js';

export interface HeldKey {
  id: string;
  /** The 32-byte private scalar the bundle carried. */
  privateKey: Uint8Array;
  publicKey: string;
  scope: 'read-only' | 'read-write';
  expiresAt: number;
}

export interface StampedRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'HEAD';
  url: string;
  /** Sent exactly as given (JSON text), and signed as those bytes. */
  body?: string;
  headers?: Record<string, string>;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Sends a request, with `content-type: application/json` when it has a body. */
export function send(f: Fixture, request: StampedRequest): Promise<LightMyRequestResponse> {
  return f.app.inject({
    method: request.method,
    url: request.url,
    headers: { ...(request.body === undefined ? {} : { 'content-type': 'application/json' }), ...request.headers },
    ...(request.body === undefined ? {} : { payload: request.body }),
  });
}

/** A `Latchkey-Signature` value for the request, at the fixture's clock unless told otherwise. */
export function stampFor(
  f: Fixture,
  key: Pick<HeldKey, 'id' | 'privateKey'>,
  request: StampedRequest,
  options: { now?: number; nonce?: string } = {},
): Promise<string> {
  return createStamp(
    key.privateKey,
    key.id,
    { method: request.method, path: request.url, body: request.body ?? null },
    { now: options.now ?? f.clock.now(), ...(options.nonce === undefined ? {} : { nonce: options.nonce }) },
  );
}

/** Signs and sends a request. */
export async function sendStamped(
  f: Fixture,
  key: Pick<HeldKey, 'id' | 'privateKey'>,
  request: StampedRequest,
  options: { now?: number; nonce?: string } = {},
): Promise<LightMyRequestResponse> {
  const stamp = await stampFor(f, key, request, options);
  return send(f, { ...request, headers: { ...request.headers, 'latchkey-signature': stamp } });
}

/**
 * `POST /v1/session-keys` with a fresh target key; opens the bundle and answers the key it holds.
 * Throws with the answer when the server does not answer 201.
 */
export async function createHeldKey(
  f: Fixture,
  token: string,
  options: {
    scope?: 'read-only' | 'read-write';
    ttlSeconds?: number;
    name?: string;
    headers?: Record<string, string>;
    stampWith?: Pick<HeldKey, 'id' | 'privateKey'>;
  } = {},
): Promise<HeldKey> {
  const target = generateP256KeyPair();
  const body = JSON.stringify({
    scope: options.scope ?? 'read-write',
    targetPublicKey: toHex(target.publicKey),
    ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  const request: StampedRequest = {
    method: 'POST',
    url: '/v1/session-keys',
    body,
    headers: { ...bearer(token), ...options.headers },
  };
  const response = options.stampWith ? await sendStamped(f, options.stampWith, request) : await send(f, request);
  if (response.statusCode !== 201) throw new Error(`create session key: ${response.statusCode} ${response.body}`);
  const answer = response.json() as { sessionKey: Omit<HeldKey, 'privateKey'>; credentialBundle: string };
  return { ...answer.sessionKey, privateKey: await openCredentialBundle(answer.credentialBundle, target.privateKey) };
}
