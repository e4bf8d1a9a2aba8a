import { z } from 'zod';
import { LatchkeyError } from '../errors/index.js';
import { APP_ID_PATTERN } from './config.js';

const appId = z.string().regex(APP_ID_PATTERN, 'app id must be 1-64 of [a-z0-9_-], starting with a letter or digit');
const role = z.string().min(1).max(64);

/** Device metadata as it may arrive from the network. */
export const deviceInput = z
  .object({
    deviceId: z.string().min(1).max(128).optional(),
    userAgent: z.string().max(512).optional(),
    ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  })
  .strict();

/** 16 KiB of JSON is plenty for session data; anything bigger belongs in the app's own database. */
export const MAX_SESSION_DATA_BYTES = 16 * 1024;

export const createSessionInput = z
  .object({
    appId: appId.optional(),
    /** CAIP-10 account; parsed and normalised separately. */
    account: z.string().min(1).max(128),
    userId: z.string().min(1).max(128).optional(),
    authMethod: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'authMethod must be a short lowercase word'),
    scope: z.enum(['read-only', 'read-write']).default('read-write'),
    roles: z.array(role).max(32).optional(),
    device: deviceInput.default({}),
    data: z.unknown().optional(),
    /** Caps the absolute expiry (ms since epoch), e.g. at a SIWE message's Expiration Time. */
    notAfter: z.number().int().positive().optional(),
  })
  .strict();

export type CreateSessionInput = z.input<typeof createSessionInput>;

export const appOption = z.object({ appId: appId.optional() }).strict();

/** Parses untrusted input; answers VALIDATION_FAILED naming the first bad field. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.length ? issue.path.map(String).join('.') : what;
  throw new LatchkeyError('VALIDATION_FAILED', { message: `${field}: ${issue.message}`, field });
}

export function sessionDataJson(value: unknown): void {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  if (json === undefined)
    throw new LatchkeyError('VALIDATION_FAILED', { message: 'data: must be JSON-serialisable', field: 'data' });
  if (Buffer.byteLength(json) > MAX_SESSION_DATA_BYTES) {
    throw new LatchkeyError('VALIDATION_FAILED', {
      message: `data: at most ${MAX_SESSION_DATA_BYTES} bytes of JSON`,
      field: 'data',
    });
  }
}
