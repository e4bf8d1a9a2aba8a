export { newSessionId, SESSION_ID_PATTERN, sessionIdTag, walletTag } from './ids.js';
export {
  formatToken,
  hashesEqual,
  hashSecret,
  newSecret,
  type ParsedToken,
  parseToken,
  TOKEN_PREFIX,
  type TokenKind,
} from './secret.js';
