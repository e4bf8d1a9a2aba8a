/**
 * Where Latchkey says what it did. Compatible with console and pino (`logger.info(obj, msg)` is not
 * required: Latchkey always passes a message first). Context objects never hold a secret: tokens
 * appear only as their public session id.
 */
export interface Logger {
  error(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  debug(message: string, context?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** The default: says nothing. */
export const silentLogger: Logger = Object.freeze({ error: noop, warn: noop, info: noop, debug: noop });
