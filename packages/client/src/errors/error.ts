import { CLIENT_ERROR_CODES, type LatchkeyClientErrorCode, SERVER_ERROR_CODES } from './codes.js';

const KNOWN = new Set<string>([...SERVER_ERROR_CODES, ...CLIENT_ERROR_CODES]);

/**
 * The one error the client throws. `code` is the server's code when the server refused (passed through
 * unchanged) or a client code when nothing usable came back, so one `switch` covers both.
 *
 * @example
 * try {
 *   await client.createSessionKey({ scope: 'read-write' });
 * } catch (error) {
 *   if (!(error instanceof LatchkeyClientError)) throw error;
 *   switch (error.code) {
 *     case 'NOT_SIGNED_IN': return showSignIn();
 *     case 'SCOPE_READ_ONLY': return showReadOnlyNotice();
 *     default: throw error;
 *   }
 * }
 */
export class LatchkeyClientError extends Error {
  override readonly name = 'LatchkeyClientError';
  readonly code: LatchkeyClientErrorCode;
  /** The HTTP status of the refusal; undefined for a client-side error. */
  readonly status: number | undefined;
  /** Which input field was wrong, when the server named one. */
  readonly field: string | undefined;
  /** SESSION_KEY_EXPIRED: when the key lapsed (ms since the epoch), as the server said. */
  readonly expiresAt: number | undefined;

  constructor(
    code: LatchkeyClientErrorCode,
    options: { message?: string; status?: number; field?: string; expiresAt?: number; cause?: unknown } = {},
  ) {
    super(options.message ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.field = options.field;
    this.expiresAt = options.expiresAt;
  }
}

/** True for a LatchkeyClientError (with that code, when one is given). */
export function isLatchkeyClientError(value: unknown, code?: LatchkeyClientErrorCode): value is LatchkeyClientError {
  return value instanceof LatchkeyClientError && (code === undefined || value.code === code);
}

/** True when the string is a code the client knows (a newer server may answer others; they still pass through). */
export function isKnownErrorCode(code: string): code is LatchkeyClientErrorCode {
  return KNOWN.has(code);
}

/**
 * An error from a lower layer as a LatchkeyClientError: a ProtocolError keeps its registry code
 * (CREDENTIAL_BUNDLE_INVALID, SESSION_KEY_TARGET_INVALID); anything else becomes `fallback`.
 */
export function asClientError(error: unknown, fallback: LatchkeyClientErrorCode): LatchkeyClientError {
  if (error instanceof LatchkeyClientError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string' && KNOWN.has(code)) {
    return new LatchkeyClientError(code as LatchkeyClientErrorCode, { message: error.message, cause: error });
  }
  return new LatchkeyClientError(fallback, {
    message: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}
