/**
 * A mistake in what the operator gave (a flag, an environment variable, the config file). The CLI
 * prints it as one line naming `field` and exits 2; nothing has been opened or changed yet.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The flag, variable or config path at fault, e.g. `--port`, `LATCHKEY_STORE`, `config defaults.signIn.origin`. */
  readonly field: string;

  constructor(field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.field = field;
  }
}
