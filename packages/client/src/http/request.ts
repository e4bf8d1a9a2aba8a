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

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** As fetch: a chain of more redirects than this is an error. */
const MAX_REDIRECTS = 20;

/**
 * Sends one attempt: `Latchkey-App`, `Authorization: Bearer` and, with a key, `Latchkey-Signature`.
 *
 * A request that carries the session never lets fetch follow a redirect by itself: fetch drops
 * `Authorization` on a cross-origin redirect but forwards every other header, the stamp included. So
 * unless the caller chose (`init.redirect`), a redirect is an error (NETWORK_ERROR); `manual` answers the
 * redirect itself; `follow` is followed here, hop by hop, with the session (and a fresh stamp for each
 * hop's path) only while the hops stay on the request's own origin: once a hop leaves it, no credential
 * goes with that hop or any after it. (Where fetch hides the target of a redirect, as browsers do,
 * `follow` answers the redirect like `manual`.) A request without credentials goes as the caller asked.
 */
export async function send(request: ReplayableRequest, credential: Credential | null, options: SendOptions): Promise<Response> {
  const chosen = request.init.redirect;
  if (credential === null) return attempt(request, null, options, chosen);
  if (chosen !== 'follow') return attempt(request, credential, options, chosen ?? 'error');
  let hop = request;
  let carried: Credential | null = credential;
  for (let redirects = 0; ; redirects++) {
    const response = await attempt(hop, carried, options, 'manual');
    const location = response.headers.get('location');
    if (!REDIRECT_STATUSES.has(response.status) || location === null) return response;
    await response.body?.cancel().catch(() => undefined);
    if (redirects === MAX_REDIRECTS) {
      throw new LatchkeyClientError('NETWORK_ERROR', { message: `${request.method} ${request.url.origin}: too many redirects` });
    }
    const url = new URL(location, hop.url);
    hop = redirected(hop, url, response.status);
    if (url.origin !== request.url.origin && carried !== null) {
      carried = null;
      // Nor a credential the caller wrote into the headers itself.
      hop.headers = new Headers(hop.headers);
      hop.headers.delete('authorization');
      hop.headers.delete(STAMP_HEADER);
    }
  }
}

/** The next hop of a redirect, as fetch makes it: 303 (and 301/302 after a POST) turn into a GET without a body. */
function redirected(request: ReplayableRequest, url: URL, status: number): ReplayableRequest {
  const isToGet =
    (status === 303 && request.method !== 'GET' && request.method !== 'HEAD') ||
    ((status === 301 || status === 302) && request.method === 'POST');
  if (!isToGet) return { ...request, url };
  const headers = new Headers(request.headers);
  for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'])
    headers.delete(name);
  return { ...request, url, method: 'GET', headers, body: null };
}

/** One fetch, with the credential's headers (none without one) and the given redirect mode (the caller's when undefined). */
async function attempt(
  request: ReplayableRequest,
  credential: Credential | null,
  options: SendOptions,
  redirect: RequestRedirect | undefined,
): Promise<Response> {
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
      ...(redirect === undefined ? {} : { redirect }),
      // A copy: fetch may take (detach) the bytes it is given, and a replay or a redirect hop sends them again.
      ...(request.body === null ? {} : { body: request.body.slice() }),
    });
  } catch (error) {
    if ((error as { name?: unknown } | null)?.name === 'AbortError') throw error;
    const isRedirect = redirect === 'error' && /redirect/i.test(String((error as { cause?: unknown } | null)?.cause));
    throw new LatchkeyClientError('NETWORK_ERROR', {
      message: isRedirect
        ? `${request.method} ${request.url.origin}: answered with a redirect, which a request carrying the session follows only when init.redirect says so`
        : `${request.method} ${request.url.origin}: no answer`,
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
