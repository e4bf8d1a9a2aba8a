/**
 * `@latchkey/client/connect`: QR connect for dApps ({@link ConnectDapp}) and wallets ({@link ConnectWallet})
 * over a Latchkey relay. The wire protocol is docs/connect-protocol.md (`@latchkey/protocol/connect`).
 */
export {
  type ConnectChainType,
  ConnectError,
  type ConnectErrorCode,
  type ConnectMethod,
  type DecodedSignRequest,
  decodeSolanaSignMessageResult,
  isConnectError,
  solanaSignMessageParams,
} from '@latchkey/protocol/connect';
export type { ConnectClock } from './clock.js';
export {
  type ConnectChannel,
  ConnectDapp,
  type ConnectDappEvents,
  type ConnectDappOptions,
  type ConnectSession,
  type DappDisconnectReason,
} from './dapp.js';
export { type ConnectQr, renderConnectQr } from './qr.js';
export type { ConnectRole, RelayTransportOptions } from './relay-link.js';
export { type ConnectSigner, type EthereumConnectSigner, ethereumSigner, type SolanaConnectSigner } from './signers.js';
export type { MessageSummary, SignRequestSummary, TransactionSummary, TypedDataSummary } from './summary.js';
export {
  ConnectWallet,
  type ConnectWalletEvents,
  type ConnectWalletOptions,
  type WalletDisconnectReason,
  type WalletRequestHandler,
  type WalletSession,
  type WalletSignRequest,
} from './wallet.js';
