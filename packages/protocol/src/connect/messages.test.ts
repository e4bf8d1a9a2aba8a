import { base58 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { ConnectError } from './errors.js';
import {
  parseConnectedPayload,
  parseConnectedUuidEvent,
  parseRequestPayload,
  parseResponsePayload,
  parseSealedEvent,
} from './messages.js';
import { decodeSignRequestParams, solanaSignMessageParams } from './methods.js';
import { randomChannelId } from './uri.js';

const uuid = randomChannelId();
const key = `${'A'.repeat(42)}E`;
const nonce = 'B'.repeat(32);
const evmWallet = { chainType: 'eip155' as const, chainId: '1', address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' };
const solWallet = {
  chainType: 'solana' as const,
  chainId: '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
  address: 'FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z',
};

function failure(fn: () => unknown): { code: string; field: string | undefined } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConnectError) return { code: e.code, field: e.field };
    throw e;
  }
  throw new Error('expected a ConnectError');
}

describe('relay envelopes', () => {
  it('accepts new and old connected_uuid shapes', () => {
    expect(parseConnectedUuidEvent({ uuid, publicKey: key, nonce, data: 'abc', seq: 3 })).toEqual({
      uuid,
      publicKey: key,
      nonce,
      data: 'abc',
      seq: 3,
    });
    expect(parseConnectedUuidEvent({ uuid, publicKey: key })).toEqual({ uuid, publicKey: key });
  });

  it.each([
    [{ uuid: 'x', publicKey: key }, 'uuid'],
    [{ uuid, publicKey: 'short' }, 'publicKey'],
    [{ uuid, publicKey: key, nonce }, 'data'],
    [{ uuid, publicKey: key, data: 'abc' }, 'nonce'],
    [{ uuid, publicKey: key, nonce, data: 'a+b' }, 'data'],
    [{ uuid, publicKey: key, seq: -1 }, 'seq'],
  ])('refuses connected_uuid %j (field %s)', (event, field) => {
    expect(failure(() => parseConnectedUuidEvent(event))).toEqual({ code: 'RELAY_ENVELOPE_INVALID', field });
  });

  it('checks request/response envelopes', () => {
    expect(parseSealedEvent({ uuid, nonce, data: 'xyz', seq: 1 })).toEqual({ uuid, nonce, data: 'xyz', seq: 1 });
    expect(failure(() => parseSealedEvent({ uuid, nonce: 'short', data: 'xyz' }))).toEqual({
      code: 'RELAY_ENVELOPE_INVALID',
      field: 'nonce',
    });
    expect(failure(() => parseSealedEvent('nope'))).toEqual({ code: 'RELAY_ENVELOPE_INVALID', field: 'payload' });
  });
});

describe('encrypted payloads', () => {
  it('parses connected, request, response and disconnect payloads', () => {
    expect(parseConnectedPayload({ sessionToken: 't', address: 'a', chainType: 'solana', later: 1 })).toEqual({
      sessionToken: 't',
      address: 'a',
      chainType: 'solana',
    });
    const id = randomChannelId();
    expect(parseRequestPayload({ id, method: 'personal_sign', params: ['0x00', 'a'], timestamp: 5, sessionToken: 't' })).toEqual({
      id,
      method: 'personal_sign',
      params: ['0x00', 'a'],
      timestamp: 5,
      sessionToken: 't',
    });
    expect(parseRequestPayload({ type: 'disconnect' })).toEqual({ type: 'disconnect' });
    expect(parseResponsePayload({ id, result: null })).toEqual({ id, result: null });
    expect(parseResponsePayload({ id, error: { code: 'CONNECT_REQUEST_REJECTED', message: 'no' } })).toEqual({
      id,
      error: { code: 'CONNECT_REQUEST_REJECTED', message: 'no' },
    });
  });

  it('names the bad field and keeps the request id when it was readable', () => {
    const id = randomChannelId();
    const e = (() => {
      try {
        parseRequestPayload({ id, method: 'personal_sign', params: [], timestamp: 1.5 });
      } catch (err) {
        return err as ConnectError;
      }
      throw new Error('expected a throw');
    })();
    expect(e).toMatchObject({ code: 'VALIDATION_FAILED', field: 'timestamp', requestId: id });
    expect(failure(() => parseRequestPayload({ id: 'x', method: 'm', params: [], timestamp: 1 }))).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'id',
    });
    expect(failure(() => parseResponsePayload({ id, result: 1, error: { code: 'x', message: 'y' } }))).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'result',
    });
  });
});

describe('sign methods', () => {
  it('decodes personal_sign as raw hex bytes or text', () => {
    expect(decodeSignRequestParams('personal_sign', ['0x68656c6c6f', evmWallet.address.toLowerCase()], evmWallet)).toEqual({
      method: 'personal_sign',
      message: { raw: '0x68656c6c6f' },
    });
    expect(decodeSignRequestParams('personal_sign', ['hello', evmWallet.address], evmWallet)).toEqual({
      method: 'personal_sign',
      message: 'hello',
    });
  });

  it('refuses methods of another chain and unknown methods', () => {
    expect(failure(() => decodeSignRequestParams('solana_signMessage', {}, evmWallet)).code).toBe('CONNECT_METHOD_UNSUPPORTED');
    expect(failure(() => decodeSignRequestParams('personal_sign', [], solWallet)).code).toBe('CONNECT_METHOD_UNSUPPORTED');
    expect(failure(() => decodeSignRequestParams('eth_sign', [], evmWallet)).code).toBe('CONNECT_METHOD_UNSUPPORTED');
  });

  it('refuses an address that is not the wallet, and a foreign chain id', () => {
    const other = '0x0000000000000000000000000000000000000001';
    expect(failure(() => decodeSignRequestParams('personal_sign', ['0x00', other], evmWallet))).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'params[1]',
    });
    const typed = { types: { EIP712Domain: [] }, primaryType: 'EIP712Domain', domain: { chainId: 5 }, message: {} };
    expect(failure(() => decodeSignRequestParams('eth_signTypedData_v4', [evmWallet.address, typed], evmWallet))).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'params[1].domain.chainId',
    });
    expect(failure(() => decodeSignRequestParams('eth_signTransaction', [{ chainId: '0x5' }], evmWallet))).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'params[0].chainId',
    });
  });

  it('accepts typed data as a JSON string or an object', () => {
    const typed = {
      types: { Mail: [{ name: 'x', type: 'uint256' }] },
      primaryType: 'Mail',
      domain: { chainId: '0x1' },
      message: { x: 1 },
    };
    const a = decodeSignRequestParams('eth_signTypedData_v4', [evmWallet.address, JSON.stringify(typed)], evmWallet);
    const b = decodeSignRequestParams('eth_signTypedData_v4', [evmWallet.address, typed], evmWallet);
    expect(a).toEqual(b);
  });

  it('turns a JSON-RPC transaction into viem form', () => {
    const decoded = decodeSignRequestParams(
      'eth_signTransaction',
      [
        {
          from: evmWallet.address,
          to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
          value: '0xde0b6b3a7640000',
          gas: '0x5208',
          maxFeePerGas: '0x3b9aca00',
          maxPriorityFeePerGas: '0x1',
          nonce: '0x7',
          type: '0x2',
          input: '0x',
        },
      ],
      evmWallet,
    );
    expect(decoded).toEqual({
      method: 'eth_signTransaction',
      transaction: {
        chainId: 1,
        to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
        value: 10n ** 18n,
        gas: 21000n,
        maxFeePerGas: 1_000_000_000n,
        maxPriorityFeePerGas: 1n,
        nonce: 7,
        type: 'eip1559',
        data: '0x',
      },
    });
    expect(failure(() => decodeSignRequestParams('eth_sendTransaction', [{ value: '12' }], evmWallet))).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'params[0].value',
    });
  });

  it('uses the WalletConnect shape for solana_signMessage', () => {
    const params = solanaSignMessageParams('hello', solWallet.address);
    expect(params).toEqual({ message: base58.encode(new TextEncoder().encode('hello')), pubkey: solWallet.address });
    const decoded = decodeSignRequestParams('solana_signMessage', params, solWallet);
    expect(decoded).toEqual({ method: 'solana_signMessage', message: new TextEncoder().encode('hello') });
    expect(
      failure(() => decodeSignRequestParams('solana_signMessage', { ...params, pubkey: evmWallet.address }, solWallet)),
    ).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'params.pubkey',
    });
  });
});
