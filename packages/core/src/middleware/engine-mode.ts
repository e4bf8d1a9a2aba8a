import type { Logger } from '../logger.js';
import type { Latchkey } from '../session/engine.js';
import { AUTHORITY_UNAVAILABLE, invalidToken } from './answers.js';
import { type SessionTokenContext, walletOf } from './context.js';
import { refuse, type TokenValidator, type Verdict } from './verdict.js';

/** Validates session tokens with the engine in this process: one store round trip, nothing cached, so a revocation counts at once. */
export class EngineValidator implements TokenValidator {
  readonly #engine: Latchkey;
  readonly #options: { appId: string };
  readonly #logger: Logger;

  constructor(engine: Latchkey, appId: string, logger: Logger) {
    this.#engine = engine;
    this.#options = Object.freeze({ appId });
    this.#logger = logger;
  }

  async validate(token: string): Promise<Verdict> {
    let result: Awaited<ReturnType<Latchkey['validateSession']>>;
    try {
      result = await this.#engine.validateSession(token, this.#options);
    } catch (error) {
      // validateSession answers every bad token with a value; a throw is the engine failing, so fail closed.
      this.#logger.error('session validation threw', { appId: this.#options.appId, error: String(error) });
      return refuse(AUTHORITY_UNAVAILABLE);
    }
    if (!result.valid) return refuse(result.code === 'STORE_UNAVAILABLE' ? AUTHORITY_UNAVAILABLE : invalidToken(result.code));
    const { session } = result;
    const context: SessionTokenContext = {
      via: 'engine',
      session,
      wallet: walletOf(session.account, session.address, session.chainType),
      claims: null,
    };
    return { ok: true, context };
  }
}
