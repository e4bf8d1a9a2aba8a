export { parseAccount, toChecksumAddress, type WalletAccount } from './caip10.js';
