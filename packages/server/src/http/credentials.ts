import type { IssuedSession } from '@latchkey/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpRejection } from './problems.js';

/** The realm every `WWW-Authenticate` challenge names. */
export const REALM = 'latchkey';

/** RFC 6750 §3: the challenge of a 401 (no error when no credential came) or of a 400 `invalid_request`. */
export function challenge(error?: 'invalid_token' | 'invalid_request'): Record<string, string> {
  return { 'www-authenticate': error ? `Bearer realm="${REALM}", error="${error}"` : `Bearer realm="${REALM}"` };
}

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a b64token. */
const BEARER_HEADER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * The bearer credential of a request: undefined without an `Authorization` header; 400 `invalid_request`
 * (VALIDATION_AUTHORIZATION_MALFORMED) for a header that is not `Bearer <b64token>`.
 */
export function bearerCredential(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = BEARER_HEADER.exec(header);
  if (!match) throw new HttpRejection('VALIDATION_AUTHORIZATION_MALFORMED', { headers: challenge('invalid_request') });
  return match[1]!;
}

export interface CookieNames {
  session: string;
  refresh: string;
  secure: boolean;
}

/**
 * Cookie mode: the session and refresh tokens in `HttpOnly; SameSite=Lax; Path=/` cookies named per app.
 * They are `Secure` and carry the `__Host-` prefix (so no subdomain can set or shadow them) for every app
 * whose sign-in origin is https, and for every other app unless the server was told `cookies.secure:
 * false` (plain http://localhost, where browsers refuse Secure cookies). The decision is the server's own:
 * a Host header says nothing about the scheme the browser used (behind a proxy it is the upstream's), and
 * only the name the server sets is read, so a cookie planted under the other name is never taken.
 */
export class SessionCookies {
  readonly #secure: boolean | undefined;
  readonly #originOf: (appId: string) => string | null;
  readonly #names = new Map<string, CookieNames>();

  constructor(options: { secure: boolean | undefined; originOf(appId: string): string | null }) {
    this.#secure = options.secure;
    this.#originOf = options.originOf;
  }

  names(appId: string): CookieNames {
    // Read each time: an app's settings can change while the server runs (addApp).
    const secure = this.#secure !== false || this.#originOf(appId)?.startsWith('https:') === true;
    const cacheKey = `${secure ? 's' : 'p'}${appId}`;
    let names = this.#names.get(cacheKey);
    if (!names) {
      const prefix = secure ? '__Host-' : '';
      names = { session: `${prefix}latchkey-session-${appId}`, refresh: `${prefix}latchkey-refresh-${appId}`, secure };
      this.#names.set(cacheKey, names);
    }
    return names;
  }

  /** Sets both cookies after sign-in or refresh; they last as long as the session can. */
  issue(reply: FastifyReply, names: CookieNames, issued: IssuedSession, now: number): void {
    const maxAge = Math.max(1, Math.floor((issued.session.absoluteExpiresAt - now) / 1000));
    const options = { path: '/', httpOnly: true, sameSite: 'lax', secure: names.secure, maxAge } as const;
    reply.setCookie(names.session, issued.token, options);
    reply.setCookie(names.refresh, issued.refreshToken, options);
  }

  /** Clears both cookies (sign-out, revocation of the current session, a refresh that failed for good). */
  clear(reply: FastifyReply, names: CookieNames): void {
    const options = { path: '/', httpOnly: true, sameSite: 'lax', secure: names.secure } as const;
    reply.clearCookie(names.session, options);
    reply.clearCookie(names.refresh, options);
  }
}

/**
 * CSRF defence for state-changing requests that a browser authenticates by cookie (or that ask for
 * cookies): the browser must say the request comes from the app itself, by an `Origin` equal to the
 * app's sign-in origin, or by `Sec-Fetch-Site: same-origin` (Latchkey served under the app's own origin).
 * Anything else, a missing `Origin` included, is 403 CSRF_REJECTED. Bearer requests need no such check:
 * a browser never attaches an `Authorization` header by itself.
 */
export function checkSameOrigin(request: FastifyRequest, appOrigin: string | null): void {
  if (request.headers['sec-fetch-site'] === 'same-origin') return;
  const origin = request.headers.origin;
  if (appOrigin !== null && origin === appOrigin) return;
  throw new HttpRejection('CSRF_REJECTED');
}
