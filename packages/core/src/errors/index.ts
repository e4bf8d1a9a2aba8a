export { ERROR_CODES, type ErrorCategory, type ErrorCode, type ErrorCodeInfo } from './codes.js';
export { isLatchkeyError, LatchkeyError } from './error.js';
