export {
  CLIENT_ERROR_CODES,
  type ClientErrorCode,
  type LatchkeyClientErrorCode,
  SERVER_ERROR_CODES,
  type ServerErrorCode,
} from './codes.js';
export { asClientError, isKnownErrorCode, isLatchkeyClientError, LatchkeyClientError } from './error.js';
