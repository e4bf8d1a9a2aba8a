/**
 * The codes `@latchkey/protocol` throws, each with the fixed message of the Latchkey error registry
 * (`docs/errors.md`). Crypto failures say nothing more than this message.
 */
const MESSAGES: Readonly<Record<string, string>> = {
  SIGNATURE_MALFORMED: 'The Latchkey-Signature header is malformed.',
  SESSION_KEY_TARGET_INVALID: 'The public key is not a valid P-256 public key.',
  CREDENTIAL_BUNDLE_INVALID: 'The credential bundle could not be opened.',
};

/**
 * Thrown when input from the wire cannot be accepted. `code` is a code from the Latchkey error
 * registry, so a server can answer with its status and message unchanged.
 *
 * @example
 * ```ts
 * try { parseStampHeader(value) } catch (e) { if (e instanceof ProtocolError) reply(400, e.code) }
 * ```
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  /** A code from the Latchkey error registry, e.g. `SIGNATURE_MALFORMED`. */
  readonly code: string;

  /** `message` defaults to the registry's fixed message for `code`. */
  constructor(code: string, message?: string) {
    super(message ?? MESSAGES[code] ?? code);
    this.code = code;
  }
}

/** True when `value` is a {@link ProtocolError}, with `code` when given. */
export function isProtocolError(value: unknown, code?: string): value is ProtocolError {
  return value instanceof ProtocolError && (code === undefined || value.code === code);
}
