import { ERROR_CODES, type ErrorCategory, type ErrorCode } from './codes.js';

/**
 * The one error class Latchkey throws. `code` is stable and machine-readable; `message` is the
 * registry's fixed message unless a non-secret detail (a field name, a limit) helps the caller.
 * Secrets never enter a message.
 */
export class LatchkeyError extends Error {
  override readonly name = 'LatchkeyError';
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly status: number;
  /** Which input field was wrong, for validation errors. */
  readonly field: string | undefined;

  constructor(code: ErrorCode, options: { message?: string; field?: string; cause?: unknown } = {}) {
    super(options.message ?? ERROR_CODES[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.category = ERROR_CODES[code].category;
    this.status = ERROR_CODES[code].status;
    this.field = options.field;
  }

  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

export function isLatchkeyError(value: unknown, code?: ErrorCode): value is LatchkeyError {
  return value instanceof LatchkeyError && (code === undefined || value.code === code);
}
