import { LatchkeyError } from '../errors/index.js';
import { grants } from '../session/permissions.js';
import {
  type Answer,
  CREDENTIAL_MISSING,
  CROSS_SITE_REFUSED,
  HEADER_MALFORMED,
  permissionDenied,
  stampRefused,
} from './answers.js';
import {
  ANONYMOUS,
  type AnonymousContext,
  type AuthenticatedContext,
  type LatchkeyContext,
  type ValidationMode,
} from './context.js';
import { isCookieRequestAllowed, readCredential } from './credentials.js';
import { EngineValidator } from './engine-mode.js';
import { JwtValidator } from './jwt-mode.js';
import {
  type GuardOptions,
  type ResolvedOptions,
  resolveGuardOptions,
  resolveOptions,
  type WalletAuthenticationOptions,
} from './options.js';
import { RemoteValidator } from './remote-mode.js';
import { planStamp, type StampPlan } from './stamps.js';
import type { TokenValidator, Verdict } from './verdict.js';

/** The headers a credential can come in, and those the CSRF rule reads, as the framework hands them over. */
export interface CredentialHeaders {
  authorization?: string | undefined;
  cookie?: string | undefined;
  origin?: string | undefined;
  'sec-fetch-site'?: string | string[] | undefined;
  /** The stamp (`Latchkey-Signature`); an array (the header sent twice) is malformed. */
  'latchkey-signature'?: string | string[] | undefined;
}

/** How to treat one request. `stamps` and `isWrite` override the authenticator's for this request (see `GuardOptions`). */
export interface AuthenticationOptions extends GuardOptions {
  /** Without a credential: true answers 401, false passes as anonymous. */
  isRequired: boolean;
  /**
   * The request method, for the CSRF rule on cookie credentials and for stamps. Omitted, the request is
   * taken to change state: a cookie then needs an allowed `Origin` (or `Sec-Fetch-Site: same-origin`).
   */
  method?: string | undefined;
  /**
   * Path and query exactly as on the request line (Express `req.originalUrl`, Fastify
   * `request.originalUrl`), which a stamp signs. Needed only to check a stamp.
   */
  target?: string | undefined;
  /**
   * The body bytes exactly as received (a stamp signs their digest): `null` for a request without a
   * body. Left undefined, a stamped request cannot be checked and is answered 500 `CONFIG_INVALID`
   * (logged), never passed and never hashed from a re-serialised body.
   */
  body?: Uint8Array | null | undefined;
}

/** What to do with a request. `remembered` is set when the answer was (or may be) cached and the response must be watched. */
export type AuthenticationOutcome =
  | { readonly kind: 'authenticated'; readonly context: AuthenticatedContext; readonly remembered: RememberedToken | null }
  | { readonly kind: 'anonymous'; readonly context: AnonymousContext }
  | { readonly kind: 'refused'; readonly answer: Answer };

/** A token whose positive answer sits in the remote cache, with what is needed to forget it later. */
export interface RememberedToken {
  readonly key: string;
  readonly account: string;
}

/** The finished response the middleware watches in remote mode. */
export interface FinishedResponse {
  method: string;
  /** Path, with or without the query. */
  url: string;
  status: number;
}

/** A stamp in JWT mode: refused, there is no key store to check it against. */
const JWT_STAMP_REFUSED: StampPlan = Object.freeze({ kind: 'refuse', answer: stampRefused('SIGNATURE_INVALID') });

/** `<action>:<resource>` or `*`, the same grammar as the engine's role settings. */
const PERMISSION_PATTERN = /^(\*|[a-z][a-z0-9_-]*:(\*|[a-z0-9_.-]+))$/;

/** `DELETE /…/session`, `/…/sessions`, `/…/sessions/{id}`: a revocation passing through. */
const SESSION_PATH = /\/sessions?(?:\/[^/?]*)?\/?(?:\?|$)/;

/**
 * The framework-neutral half of the Latchkey middleware: reads the credential, validates it in the
 * configured mode (engine, remote server, or JWT via JWKS), and says what to answer (RFC 6750).
 * Express and Fastify adapters only copy headers in and answers out. Create one per set of options
 * and share it between `require` and `optional` handlers so they share the remote cache.
 *
 * @example
 * const authenticator = new WalletAuthenticator({ remote: { url: 'https://auth.example.com', apiKey } });
 * const outcome = await authenticator.authenticate(req.headers, { isRequired: true, method: req.method });
 */
export class WalletAuthenticator {
  readonly mode: ValidationMode;
  readonly #options: ResolvedOptions;
  readonly #validator: TokenValidator;
  readonly #remote: RemoteValidator | null;
  readonly #engine: EngineValidator | null;
  readonly #allowedOrigins: ReadonlySet<string>;
  #hasWarnedJwtStamp = false;

  /** Validates the options (exactly one mode; throws `CONFIG_INVALID` naming the option). */
  constructor(options: WalletAuthenticationOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.mode = resolved.mode;
    this.#remote = null;
    this.#engine = null;
    this.#allowedOrigins = new Set(resolved.allowedOrigins);
    switch (resolved.mode) {
      case 'engine':
        this.#engine = new EngineValidator(resolved.engine, resolved.appId, resolved.logger);
        this.#validator = this.#engine;
        break;
      case 'remote':
        this.#remote = new RemoteValidator(resolved);
        this.#validator = this.#remote;
        break;
      case 'jwt':
        this.#validator = new JwtValidator(resolved);
        break;
    }
  }

  /**
   * Validates a guard's own options (`{ stamps?, isWrite? }`) when the guard is made, and answers them
   * frozen: unknown keys, bad values, and `stamps: 'required'` in JWT mode throw `CONFIG_INVALID`.
   * Adapters call it once per guard, then pass the result with every request.
   */
  guardOptions(options?: GuardOptions): Readonly<GuardOptions> {
    return resolveGuardOptions(options, this.mode);
  }

  /** Remote mode remembers answers, so responses must be watched for revocations and refusals. */
  get watchesResponses(): boolean {
    return this.#remote !== null;
  }

  /**
   * Reads and checks the request's credential. With `isRequired`, no credential is a 401; without,
   * it is an anonymous pass. A credential that is malformed or refused, or an authority that cannot
   * answer, is refused either way. A cookie credential on a state-changing request from an origin
   * not allowed is 403 `CSRF_REJECTED` before the token is looked at, on optional routes too.
   *
   * Then the stamp (`Latchkey-Signature`, docs/stamps.md), for a session that validated: one that
   * comes is verified (engine: `sessionKeys.verifyStamp`; remote: sent along with the introspection)
   * and a bad one refused as the Latchkey server refuses it; with `stamps: 'required'` a request
   * without one is 401 `SIGNATURE_REQUIRED`. An anonymous request (optional guard, no credential)
   * passes as anonymous whatever it carries: a stamp without a session proves nothing. JWT mode
   * refuses any stamp (401 `SIGNATURE_INVALID`): it cannot verify one.
   */
  async authenticate(headers: CredentialHeaders, options: AuthenticationOptions): Promise<AuthenticationOutcome> {
    const credential = readCredential(headers.authorization, headers.cookie, this.#options.cookieName);
    if (credential.kind === 'none') {
      return options.isRequired ? { kind: 'refused', answer: CREDENTIAL_MISSING } : { kind: 'anonymous', context: ANONYMOUS };
    }
    if (credential.kind === 'malformed-header') return { kind: 'refused', answer: HEADER_MALFORMED };
    if (
      credential.source === 'cookie' &&
      !isCookieRequestAllowed(options.method, headers.origin, headers['sec-fetch-site'], this.#allowedOrigins)
    ) {
      return { kind: 'refused', answer: CROSS_SITE_REFUSED };
    }
    const { token } = credential;
    const plan = this.#planStamp(headers['latchkey-signature'], options);
    const check = plan.kind === 'check' ? plan.check : undefined;
    let verdict: Verdict;
    let remembered: RememberedToken | null = null;
    if (this.#remote) {
      const key = RemoteValidator.keyOf(token);
      verdict = await this.#remote.validate(token, key, check);
      if (verdict.ok) remembered = { key, account: verdict.context.session.account };
    } else if (this.#engine) {
      // A request whose stamp is checked (or refused) defers the session's activity write to a stamp that
      // passed, so a request refused for its stamp never keeps the session alive (as the server does).
      verdict = await this.#engine.validate(token, check, plan.kind === 'none' ? 'record' : 'defer');
    } else {
      verdict = await this.#validator.validate(token);
    }
    if (!verdict.ok) return { kind: 'refused', answer: verdict.answer };
    // The session validated: only now does a stamp that cannot pass answer (the server's order, check 0 first).
    if (plan.kind === 'refuse') {
      if (plan.problem) this.#options.logger.error(plan.problem.message, plan.problem.context);
      return { kind: 'refused', answer: plan.answer };
    }
    return { kind: 'authenticated', context: verdict.context, remembered };
  }

  #planStamp(header: string | string[] | undefined, options: AuthenticationOptions): StampPlan {
    if (this.mode === 'jwt' && typeof header === 'string') {
      if (!this.#hasWarnedJwtStamp) {
        this.#hasWarnedJwtStamp = true;
        this.#options.logger.warn('latchkey: JWT mode cannot verify stamps; requests carrying Latchkey-Signature are refused');
      }
      return JWT_STAMP_REFUSED;
    }
    return planStamp(
      {
        stampHeader: header,
        method: options.method,
        target: options.target,
        body: options.body,
        stamps: options.stamps ?? this.#options.stamps,
        isWrite: options.isWrite,
        basePath: this.#options.basePath,
      },
      { preParse: this.#remote !== null },
    );
  }

  /**
   * The token the request carries (the `Authorization: Bearer` one, else the configured cookie's), or
   * null. It checks nothing: call it after a guard accepted the request, to forward the caller's
   * credential server to server as `Authorization: Bearer <token>`, e.g. to sign out at the Latchkey server.
   */
  tokenOf(headers: CredentialHeaders): string | null {
    const credential = readCredential(headers.authorization, headers.cookie, this.#options.cookieName);
    return credential.kind === 'token' ? credential.token : null;
  }

  /**
   * Forgets the remembered answer for this token (remote mode; a no-op otherwise), so the next
   * request asks the server again. Call it when your code revokes a session by other means.
   */
  forget(token: string): void {
    this.#remote?.forget(RemoteValidator.keyOf(token));
  }

  /** Forgets every remembered answer about a wallet's sessions (remote mode; a no-op otherwise). */
  forgetWallet(account: string): void {
    this.#remote?.forgetAccount(account);
  }

  /**
   * Called when a response to an authenticated request has finished. A 401 for the token forgets
   * it; a `DELETE` on a session path (`/session`, `/sessions`, `/sessions/{id}`) forgets every
   * answer about the wallet, since it may have revoked any of its sessions.
   */
  responseFinished(remembered: RememberedToken, response: FinishedResponse): void {
    if (!this.#remote) return;
    if (response.status === 401) this.#remote.forget(remembered.key);
    if (response.method === 'DELETE' && SESSION_PATH.test(response.url)) this.#remote.forgetAccount(remembered.account);
  }
}

/**
 * Checks a permission name when a `requirePermission` handler is created: the engine's grammar
 * (`<action>:<resource>` or `*`), which also keeps the `scope` of a 403 challenge well-formed.
 */
export function assertPermission(permission: unknown): asserts permission is string {
  if (typeof permission !== 'string' || !PERMISSION_PATTERN.test(permission)) {
    throw new LatchkeyError('CONFIG_INVALID', {
      message: `permission: expected "*" or "<action>:<resource>", got ${JSON.stringify(permission)}`,
      field: 'permission',
    });
  }
}

/**
 * What a permission check answers: null to pass, 401 for an anonymous request, 403
 * `insufficient_scope` for a session without the permission. A request that no Latchkey middleware
 * saw is a wiring mistake and throws.
 */
export function permissionAnswer(context: LatchkeyContext | null | undefined, permission: string): Answer | null {
  if (context === undefined || context === null) {
    throw new LatchkeyError('CONFIG_INVALID', {
      message: `requirePermission("${permission}") needs requireWalletAuthentication or optionalWalletAuthentication before it`,
    });
  }
  if (context.session === null) return CREDENTIAL_MISSING;
  return grants(context.session.permissions, permission) ? null : permissionDenied(permission);
}
