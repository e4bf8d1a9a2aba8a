import { type ErrorCode, LatchkeyError } from '@latchkey/core';

/**
 * A refusal with the HTTP headers its answer needs (`WWW-Authenticate`, `Retry-After`, `Allow`), and
 * any documented fields beside `code` and `message` (SESSION_KEY_EXPIRED's `expiresAt`).
 */
export class HttpRejection extends LatchkeyError {
  readonly headers: Readonly<Record<string, string>>;
  readonly extra: Readonly<Record<string, number>>;

  constructor(
    code: ErrorCode,
    options: { message?: string; field?: string; headers?: Record<string, string>; extra?: Record<string, number> } = {},
  ) {
    super(code, {
      ...(options.message === undefined ? {} : { message: options.message }),
      ...(options.field === undefined ? {} : { field: options.field }),
    });
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  override toJSON(): ReturnType<LatchkeyError['toJSON']> {
    return { ...super.toJSON(), ...this.extra };
  }
}

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; expiresAt?: number };
}

export function errorBody(error: LatchkeyError): ErrorBody {
  return { error: error.toJSON() };
}

/** Fastify's own client errors, as registered codes. Their messages are not echoed: V8's JSON errors quote the body. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'VALIDATION_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'VALIDATION_MEDIA_TYPE_UNSUPPORTED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_JSON_MALFORMED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_JSON_MALFORMED',
};

/**
 * What a failed request answers: a LatchkeyError as registered; a Fastify client error (bad JSON, too big,
 * wrong media type, bad URL) as its VALIDATION_ code; anything else is a bug and answers 500 INTERNAL_ERROR.
 */
export function toLatchkeyError(error: unknown): LatchkeyError {
  if (error instanceof LatchkeyError) return error;
  const { code, statusCode } = (error ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'string' && FASTIFY_CODES[code]) return new LatchkeyError(FASTIFY_CODES[code]);
  if (typeof statusCode === 'number' && statusCode === 413) return new LatchkeyError('VALIDATION_BODY_TOO_LARGE');
  if (typeof statusCode === 'number' && statusCode === 415) return new LatchkeyError('VALIDATION_MEDIA_TYPE_UNSUPPORTED');
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return new LatchkeyError('VALIDATION_FAILED');
  return new LatchkeyError('INTERNAL_ERROR', { cause: error });
}
