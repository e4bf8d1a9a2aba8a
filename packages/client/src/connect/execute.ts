import { ConnectError, type DecodedSignRequest, solanaSignMessageResult } from '@latchkey/protocol/connect';
import type { ConnectSigner } from './signers.js';

/**
 * Signs a decoded request with the wallet's key and returns the wire result:
 * a 0x-hex signature (personal_sign, eth_signTypedData_v4), the signed transaction (eth_signTransaction),
 * the transaction hash (eth_sendTransaction), or `{ signature: base58 }` (solana_signMessage).
 *
 * @throws ConnectError `CONNECT_METHOD_UNSUPPORTED` when the signer lacks the capability.
 */
export async function executeSignRequest(signer: ConnectSigner, request: DecodedSignRequest): Promise<unknown> {
  if (signer.chainType === 'solana') {
    if (request.method !== 'solana_signMessage') throw unsupported();
    const signature = await signer.signMessage(request.message);
    return solanaSignMessageResult(signature);
  }
  switch (request.method) {
    case 'personal_sign':
      return signer.signMessage({ message: request.message });
    case 'eth_signTypedData_v4':
      if (!signer.signTypedData) throw unsupported();
      return signer.signTypedData(request.typedData);
    case 'eth_signTransaction':
      if (!signer.signTransaction) throw unsupported();
      return signer.signTransaction(request.transaction);
    case 'eth_sendTransaction':
      if (!signer.sendTransaction) throw unsupported();
      return signer.sendTransaction(request.transaction);
    default:
      throw unsupported();
  }
}

/** Whether `signer` can serve `method` at all (checked before the user is asked). */
export function canServe(signer: ConnectSigner, method: DecodedSignRequest['method']): boolean {
  if (signer.chainType === 'solana') return method === 'solana_signMessage';
  if (method === 'eth_signTypedData_v4') return typeof signer.signTypedData === 'function';
  if (method === 'eth_signTransaction') return typeof signer.signTransaction === 'function';
  if (method === 'eth_sendTransaction') return typeof signer.sendTransaction === 'function';
  return method === 'personal_sign';
}

/**
 * The typed error a failed handler or signer becomes: its own ConnectError, a user rejection
 * (EIP-1193 code 4001) as `CONNECT_REQUEST_REJECTED`, anything else as `INTERNAL_ERROR` (no detail leaks).
 */
export function toConnectError(error: unknown, requestId: string): ConnectError {
  if (error instanceof ConnectError) {
    return error.requestId === requestId ? error : new ConnectError(error.code, { message: error.message, requestId });
  }
  if ((error as { code?: unknown } | null)?.code === 4001) return new ConnectError('CONNECT_REQUEST_REJECTED', { requestId });
  return new ConnectError('INTERNAL_ERROR', { requestId, cause: error });
}

function unsupported(): ConnectError {
  return new ConnectError('CONNECT_METHOD_UNSUPPORTED', { field: 'method' });
}
