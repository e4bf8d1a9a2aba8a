import type { StampVerification } from '../keys/stamp.js';
import type { Logger } from '../logger.js';
import type { Latchkey } from '../session/engine.js';
import { AUTHORITY_UNAVAILABLE, invalidToken, stampRefused } from './answers.js';
import { type SessionTokenContext, walletOf } from './context.js';
import type { StampCheck } from './stamps.js';
import { refuse, type TokenValidator, type Verdict } from './verdict.js';

/**
 * Validates session tokens with the engine in this process: one store round trip, nothing cached, so a
 * revocation counts at once. A stamp is verified after the session, with the engine's session keys
 * (one more read and the nonce's `addEntry`).
 *
 * With `activity: 'defer'` (a request whose stamp is checked, or refused whatever it carries) the
 * validation writes no activity, and the session's activity (`lastActiveAt`, the sliding idle expiry) is
 * recorded only once the stamp passed (`recordActivity`, a store call only when one is due), as the
 * Latchkey server does: a request refused for its stamp never keeps the session alive.
 */
export class EngineValidator implements TokenValidator {
  readonly #engine: Latchkey;
  readonly #options: { appId: string };
  readonly #deferred: { appId: string; activity: 'defer' };
  readonly #logger: Logger;

  constructor(engine: Latchkey, appId: string, logger: Logger) {
    this.#engine = engine;
    this.#options = Object.freeze({ appId });
    this.#deferred = Object.freeze({ appId, activity: 'defer' as const });
    this.#logger = logger;
  }

  async validate(token: string, stamp?: StampCheck, activity: 'record' | 'defer' = 'record'): Promise<Verdict> {
    let result: Awaited<ReturnType<Latchkey['validateSession']>>;
    try {
      result = await this.#engine.validateSession(token, activity === 'defer' ? this.#deferred : this.#options);
    } catch (error) {
      // validateSession answers every bad token with a value; a throw is the engine failing, so fail closed.
      this.#logger.error('session validation threw', { appId: this.#options.appId, error: String(error) });
      return refuse(AUTHORITY_UNAVAILABLE);
    }
    if (!result.valid) return refuse(result.code === 'STORE_UNAVAILABLE' ? AUTHORITY_UNAVAILABLE : invalidToken(result.code));
    let { session } = result;
    let verified: StampVerification | null = null;
    if (stamp) {
      try {
        verified = await this.#engine.sessionKeys.verifyStamp({ appId: this.#options.appId, sessionId: session.id, ...stamp });
      } catch (error) {
        // verifyStamp answers every bad stamp with a value, the store failing included: a throw is a bug; fail closed.
        this.#logger.error('stamp verification threw', { appId: this.#options.appId, error: String(error) });
        return refuse(AUTHORITY_UNAVAILABLE);
      }
      if (!verified.valid) {
        if (verified.code === 'STORE_UNAVAILABLE') return refuse(AUTHORITY_UNAVAILABLE);
        return refuse(
          verified.code === 'SESSION_KEY_EXPIRED' ? stampRefused(verified.code, verified.expiresAt) : stampRefused(verified.code),
        );
      }
      if (activity === 'defer') {
        try {
          session = await this.#engine.recordActivity(token, { appId: this.#options.appId, session });
        } catch (error) {
          // The store failing (STORE_UNAVAILABLE), as the server answers it: 503, never a pass.
          this.#logger.error('recording session activity failed', { appId: this.#options.appId, error: String(error) });
          return refuse(AUTHORITY_UNAVAILABLE);
        }
      }
    }
    const context: SessionTokenContext = {
      via: 'engine',
      session,
      wallet: walletOf(session.account, session.address, session.chainType),
      claims: null,
      stamp: verified ? { keyId: verified.keyId, scope: verified.scope, expiresAt: verified.expiresAt } : null,
    };
    return { ok: true, context };
  }
}
