/** Where a request's credential came from, or why there is none. */
export type Credential =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed-header' }
  | { readonly kind: 'token'; readonly token: string; readonly source: 'header' | 'cookie' };

const NONE: Credential = Object.freeze({ kind: 'none' });
const MALFORMED: Credential = Object.freeze({ kind: 'malformed-header' });

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a b64token, optional trailing spaces. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Tokens are at most a few hundred characters; anything longer is not ours and is not hashed or sent on. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * Reads the credential: the `Authorization` header when there is one (it must then be a well-formed
 * Bearer credential, else 400), otherwise the session cookie. A header wins over a cookie.
 */
export function readCredential(
  authorization: string | undefined,
  cookieHeader: string | undefined,
  cookieName: string | null,
): Credential {
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization);
    if (!match || match[1]!.length > MAX_TOKEN_LENGTH) return MALFORMED;
    return { kind: 'token', token: match[1]!, source: 'header' };
  }
  if (cookieName === null || cookieHeader === undefined) return NONE;
  const value = cookieValue(cookieHeader, cookieName);
  if (value === null || value === '') return NONE;
  return { kind: 'token', token: value.slice(0, MAX_TOKEN_LENGTH + 1), source: 'cookie' };
}

/** Methods a browser may send cross-site that must not change state (RFC 9110 §9.2.1). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The CSRF rule for a credential the browser attached by itself (a cookie): a request that may change
 * state (any method but GET, HEAD, OPTIONS; an unknown method counts as one) passes only with an
 * `Origin` in `allowedOrigins` or `Sec-Fetch-Site: same-origin`. A missing `Origin` does not pass:
 * browsers send it on every such request. `SameSite=Lax` is no defence here, as a sibling subdomain
 * is the same site.
 */
export function isCookieRequestAllowed(
  method: string | undefined,
  origin: string | undefined,
  fetchSite: string | string[] | undefined,
  allowedOrigins: ReadonlySet<string>,
): boolean {
  if (method !== undefined && SAFE_METHODS.has(method.toUpperCase())) return true;
  if (fetchSite === 'same-origin') return true;
  return origin !== undefined && allowedOrigins.has(origin);
}

/** The first cookie of that name (RFC 6265 §5.4 order), undecoded; tokens never need percent-encoding. */
export function cookieValue(header: string, name: string): string | null {
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq > start && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    start = end + 1;
  }
  return null;
}
