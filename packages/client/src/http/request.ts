import { createStamp, STAMP_HEADER } from '@latchkey/protocol';
import { LatchkeyClientError } from '../errors/index.js';

/**
 * A request read once into bytes, so it can be stamped (the stamp covers the exact body) and sent
 * again for the one retry after a refresh.
 */
export interface ReplayableRequest {
  url: URL;
  method: string;
  headers: Headers;
  /** null: no body at all (an empty body of a POST stays a zero-length array). */
  body: Uint8Array<ArrayBuffer> | null;
  /** What else the caller gave fetch (signal, credentials, cache, redirect…). */
  init: RequestInit;
}

/** The credential one attempt carries: the session token, and the session key that stamps it. */
export interface Credential {
  token: string;
  key: { id: string; privateKey: CryptoKey } | null;
}

/**
 * Buffers `input`/`init` the way fetch would read them: any BodyInit (string, bytes, Blob, FormData,
 * URLSearchParams, a stream) becomes its bytes, with the content type fetch would have set.
 */
export async function toReplayable(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  base: URL,
): Promise<ReplayableRequest> {
  const request =
    typeof Request !== 'undefined' && input instanceof Request
      ? new Request(input, init)
      : new Request(new URL(input instanceof URL ? input.href : String(input), base), init);
  const method = request.method.toUpperCase();
  const body =
    method === 'GET' || method === 'HEAD' || request.body === null ? null : new Uint8Array(await request.arrayBuffer());
  const { body: _body, headers: _headers, method: _method, ...rest } = init ?? {};
  const url = new URL(request.url);
  // A `?` with an empty query: browsers send it, Node's fetch drops it. Dropped here, so the request line
  // (and the path the stamp signs) is the same whichever fetch sends it.
  if (url.search === '') url.search = '';
  return { url, method, headers: new Headers(request.headers), body, init: rest };
}

/** A JSON request to the Latchkey API; `path` (`/v1/…`) is taken under the base URL's path. */
export function jsonRequest(base: URL, method: string, path: string, payload?: unknown): ReplayableRequest {
  const headers = new Headers({ accept: 'application/json' });
  let body: Uint8Array<ArrayBuffer> | null = null;
  if (payload !== undefined) {
    headers.set('content-type', 'application/json');
    body = new TextEncoder().encode(JSON.stringify(payload));
  }
  return { url: new URL(path.replace(/^\//, ''), base), method, headers, body, init: {} };
}

export interface SendOptions {
  fetch: typeof fetch;
  appId: string | undefined;
  now: number;
}

/**
 * The path and query exactly as the request line carries them: what the stamp signs. Taken from the
 * serialised URL, not `pathname + search`, which drops a `?` sent with an empty query.
 */
export function stampedPath(url: URL): string {
  const href = url.hash === '' && !url.href.endsWith('#') ? url.href : url.href.slice(0, url.href.indexOf('#'));
  return href.slice(url.origin.length);
}

/** Sends one attempt: `Latchkey-App`, `Authorization: Bearer` and, with a key, `Latchkey-Signature`. */
export async function send(request: ReplayableRequest, credential: Credential | null, options: SendOptions): Promise<Response> {
  const headers = new Headers(request.headers);
  if (options.appId !== undefined) headers.set('latchkey-app', options.appId);
  if (credential) {
    headers.set('authorization', `Bearer ${credential.token}`);
    if (credential.key) {
      const stamp = await createStamp(
        credential.key.privateKey,
        credential.key.id,
        { method: request.method, path: stampedPath(request.url), body: request.body },
        { now: Math.floor(options.now) },
      );
      headers.set(STAMP_HEADER, stamp);
    }
  }
  try {
    return await options.fetch(request.url, {
      ...request.init,
      method: request.method,
      headers,
      ...(request.body === null ? {} : { body: request.body }),
    });
  } catch (error) {
    if ((error as { name?: unknown } | null)?.name === 'AbortError') throw error;
    throw new LatchkeyClientError('NETWORK_ERROR', {
      message: `${request.method} ${request.url.origin}: no answer`,
      cause: error,
    });
  }
}

interface ErrorAnswer {
  error?: { code?: unknown; message?: unknown; field?: unknown; expiresAt?: unknown };
}

/** The typed error of a refusal: the server's code passed through, or RESPONSE_INVALID for a body that is not one. */
export async function errorOf(response: Response): Promise<LatchkeyClientError> {
  let answer: ErrorAnswer | undefined;
  try {
    answer = (await response.clone().json()) as ErrorAnswer;
  } catch {
    answer = undefined;
  }
  const e = answer?.error;
  if (typeof e?.code !== 'string') {
    return new LatchkeyClientError('RESPONSE_INVALID', { status: response.status, message: `HTTP ${response.status}` });
  }
  return new LatchkeyClientError(e.code as LatchkeyClientError['code'], {
    status: response.status,
    ...(typeof e.message === 'string' ? { message: e.message } : {}),
    ...(typeof e.field === 'string' ? { field: e.field } : {}),
    ...(typeof e.expiresAt === 'number' ? { expiresAt: e.expiresAt } : {}),
  });
}

/** The code of a 401, without consuming the caller's body; undefined when it is not a Latchkey refusal. */
export async function refusalCode(response: Response): Promise<string | undefined> {
  if (response.status !== 401) return undefined;
  const error = await errorOf(response);
  return error.code === 'RESPONSE_INVALID' ? undefined : error.code;
}

/** The JSON body of an answer with the expected status; the typed refusal otherwise. */
export async function expectJson<T>(response: Response, status: number): Promise<T> {
  if (response.status !== status) throw await errorOf(response);
  try {
    return (await response.json()) as T;
  } catch (error) {
    throw new LatchkeyClientError('RESPONSE_INVALID', { status, message: 'The answer is not JSON.', cause: error });
  }
}

/** An empty answer with the expected status; the typed refusal otherwise. */
export async function expectEmpty(response: Response, status: number): Promise<void> {
  if (response.status !== status) throw await errorOf(response);
  await response.body?.cancel();
}
