export { type DataKeyRing, SessionDataCipher } from './keyring.js';
