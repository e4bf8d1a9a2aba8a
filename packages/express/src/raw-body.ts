import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasRequestBody, STAMP_HEADER_NAME } from '@latchkey/core/middleware';

const rawBodies = new WeakMap<IncomingMessage, Uint8Array>();

/**
 * Keeps the body bytes a body parser read, exactly as received, for stamp verification: a stamp signs
 * the SHA-256 of those bytes, which re-serialising `req.body` would not reproduce. Pass it as the
 * `verify` option of any Express body parser (`express.json`, `express.text`, `express.raw`,
 * `express.urlencoded`), registered before the Latchkey guard. Bodies are kept only for requests that
 * carry a `Latchkey-Signature`, and only as long as the request lives (a `WeakMap`, nothing on `req`).
 *
 * @example
 * app.use(express.json({ verify: keepRawBody }));
 * app.post('/transfer', requireWalletAuthentication(latchkey, { stamps: 'required' }), handler);
 */
export function keepRawBody(req: IncomingMessage, _res: ServerResponse, body: Buffer): void {
  if (req.headers[STAMP_HEADER_NAME] !== undefined) rawBodies.set(req, body);
}

/**
 * The body as the guard hands it to the authenticator: the kept bytes; null when the request has no
 * body; undefined when it has one that was not kept (a stamp on it is then answered 500, and logged).
 */
export function receivedBody(req: IncomingMessage): Uint8Array | null | undefined {
  return rawBodies.get(req) ?? (hasRequestBody(req.headers) ? undefined : null);
}
