import type { Answer } from './answers.js';
import type { AuthenticatedContext } from './context.js';

/** What a validator says about one token: a context to put on the request, or the answer to send. */
export type Verdict =
  | { readonly ok: true; readonly context: AuthenticatedContext }
  | { readonly ok: false; readonly answer: Answer };

/** One way of checking a token (engine, remote server, JWT). Never throws for a bad token or a failing authority. */
export interface TokenValidator {
  validate(token: string): Promise<Verdict>;
}

export function refuse(answer: Answer): Verdict {
  return { ok: false, answer };
}
