import { bodyDigest, parseStampHeader } from '@latchkey/protocol';
import { type Answer, SIGNATURE_REQUIRED, STAMP_UNCHECKABLE, stampRefused } from './answers.js';
import type { StampRequirement } from './options.js';

/** The request header a stamp travels in (`STAMP_HEADER` of @latchkey/protocol), lower-cased as Node has it. */
export const STAMP_HEADER_NAME = 'latchkey-signature';

/** A stamp to verify, with the request as it was received: what the engine's `verifyStamp` and the introspection route take. */
export interface StampCheck {
  /** The `Latchkey-Signature` value. */
  readonly header: string;
  /** The method as sent. */
  readonly method: string;
  /** Path and query exactly as on the request line. */
  readonly path: string;
  /** `bodyDigest` of the body bytes as received. */
  readonly bodyDigest: string;
  /** Whether a read-only key is refused (SCOPE_READ_ONLY). */
  readonly isWrite: boolean;
}

/**
 * What to do about a request's stamp, decided before its session is validated. Apart from `check`,
 * each is an answer given only once the session has validated: the session is always checked first,
 * as the Latchkey server does (docs/stamps.md, check 0).
 */
export type StampPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'check'; readonly check: StampCheck }
  | {
      readonly kind: 'refuse';
      readonly answer: Answer;
      /** A wiring mistake to log when the answer is given (never the header's or body's content). */
      readonly problem?: { readonly message: string; readonly context: Record<string, unknown> };
    };

/** What the adapter knows of the request, beyond its headers. */
export interface StampedRequestParts {
  stampHeader: string | string[] | undefined;
  method: string | undefined;
  target: string | undefined;
  /** The body bytes as received; null for no body; undefined when the body exists but was not kept. */
  body: Uint8Array | null | undefined;
  stamps: StampRequirement;
  isWrite: boolean | undefined;
  /** The prefix a proxy stripped (`''` for none): the stamp is checked over `basePath` + `target`, the path the client signed. */
  basePath: string;
}

const NONE: StampPlan = Object.freeze({ kind: 'none' });
const REQUIRED: StampPlan = Object.freeze({ kind: 'refuse', answer: SIGNATURE_REQUIRED });
const MALFORMED: StampPlan = Object.freeze({ kind: 'refuse', answer: stampRefused('SIGNATURE_MALFORMED') });
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether the request has a body by its headers (RFC 9112 §6.3): a `Transfer-Encoding`, or a
 * `Content-Length` other than 0. Adapters use it to tell "no body" (hashed as empty) from "a body that
 * was not kept" (which a stamp cannot be checked against).
 */
export function hasRequestBody(headers: {
  'content-length'?: string | undefined;
  'transfer-encoding'?: string | undefined;
}): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length.trim() !== '0';
}

/**
 * Decides, from the request alone, what its stamp needs. `preParse` (remote mode) refuses a header that
 * does not parse here, so the server is asked only about well-formed stamps. A stamp that cannot be
 * checked because of the wiring (no request target, a body that was not kept) is a 500 with a log line,
 * never a pass and never a hash of anything but the bytes received.
 */
export function planStamp(parts: StampedRequestParts, options: { preParse: boolean }): StampPlan {
  const header = parts.stampHeader;
  if (header === undefined) return parts.stamps === 'required' ? REQUIRED : NONE;
  if (typeof header !== 'string') return MALFORMED;
  if (options.preParse) {
    try {
      parseStampHeader(header);
    } catch {
      return MALFORMED;
    }
  }
  if (parts.method === undefined || parts.target === undefined || parts.body === undefined) {
    const reason =
      parts.method === undefined || parts.target === undefined
        ? 'the guard was not given the request method and target'
        : 'its raw body was not kept (Express: express.json({ verify: keepRawBody }) before the guard; Fastify: the guard as a preHandler)';
    return {
      kind: 'refuse',
      answer: STAMP_UNCHECKABLE,
      problem: {
        message: `latchkey: a stamped request cannot be checked: ${reason}`,
        context: { method: parts.method, path: parts.target?.split('?', 1)[0] },
      },
    };
  }
  const method = parts.method;
  return {
    kind: 'check',
    check: {
      header,
      method,
      path: parts.basePath + parts.target,
      bodyDigest: bodyDigest(parts.body),
      isWrite: parts.isWrite ?? !SAFE_METHODS.has(method.toUpperCase()),
    },
  };
}
