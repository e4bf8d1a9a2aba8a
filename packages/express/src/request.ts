import type { LatchkeyContext } from '@latchkey/core/middleware';

declare global {
  // Express's own extension point: every Request in the app gains `latchkey`.
  namespace Express {
    interface Request {
      /**
       * Set by `requireWalletAuthentication` (a session, always) and `optionalWalletAuthentication`
       * (a session, or the anonymous context whose `session` is null). Undefined on routes that
       * neither guards. `stamp` holds the session key that signed the request (`keyId`, `scope`),
       * or null when it carried no stamp.
       *
       * @example
       * app.get('/me', requireWalletAuthentication(options), (req, res) => {
       *   if (req.latchkey.session) res.json({ wallet: req.latchkey.wallet.address });
       * });
       */
      latchkey: LatchkeyContext;
    }
  }
}
