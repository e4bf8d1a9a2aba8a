import {
  ConnectError,
  type DecodedSignRequest,
  decodeSignRequestParams,
  type SignRequestWallet,
} from '@latchkey/protocol/connect';

/**
 * {@link decodeSignRequestParams}, refusing a transaction that spells one field twice with different
 * values (`data` and `input`, `gas` and `gasLimit`). The decoder signs one spelling; a wallet showing the
 * other would show its user something it does not sign.
 *
 * @throws ConnectError as `decodeSignRequestParams`, and `VALIDATION_FAILED` naming `params[0].input` or
 *   `params[0].gasLimit` for an ambiguous transaction.
 */
export function decodeWalletRequest(method: string, params: unknown, wallet: SignRequestWallet): DecodedSignRequest {
  const decoded = decodeSignRequestParams(method, params, wallet);
  if (decoded.method === 'eth_signTransaction' || decoded.method === 'eth_sendTransaction') {
    // The decoder checked: params is an array whose first item is an object, and `gas`/`gasLimit` are quantities.
    const tx = (params as unknown[])[0] as Record<string, unknown>;
    if (isPresent(tx.data) && isPresent(tx.input) && !sameHex(tx.data, tx.input)) throw ambiguous('input', 'data');
    if (tx.gas !== undefined && tx.gasLimit !== undefined && BigInt(tx.gas as string) !== BigInt(tx.gasLimit as string)) {
      throw ambiguous('gasLimit', 'gas');
    }
  }
  return decoded;
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function sameHex(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

function ambiguous(field: string, other: string): ConnectError {
  return new ConnectError('VALIDATION_FAILED', {
    message: `params[0].${field}: differs from params[0].${other}; send one of them`,
    field: `params[0].${field}`,
  });
}
