/**
 * The Lua scripts behind every multi-key operation. Each runs atomically on the node that owns
 * its keys: Redis runs one script at a time, so nothing else observes or interleaves with its
 * writes. Every key a script touches arrives in KEYS (never built in Lua), so Cluster routes and
 * checks them, and a script's keys always share one hash tag.
 *
 * Session hash fields: t tokenHash, la lastActiveAt, ie idleExpiresAt, ae absoluteExpiresAt,
 * ca createdAt, rh refresh hash, rp previous hash, rr rotatedAt, rg generation, rs successor,
 * rt retired (JSON array of strings), d data, sub subject, m the rest as JSON. An absent field is
 * null. Numbers are written only from strings computed in Node (or by HINCRBY), never formatted
 * by Lua, whose `tostring` keeps 14 significant digits; Lua parses them only to compare.
 */

export { APPEND_AUDIT } from './audit.js';
export { INCREMENT_COUNTERS } from './counters.js';
export { ADD_ENTRY, INCREMENT_ENTRY, LIST_ENTRIES, PUT_ENTRY, READ_ENTRIES, TAKE_ENTRY } from './entries.js';
export { LuaScript } from './runner.js';
export { CLEANUP_SESSION, DELETE_SESSION, ROTATE_REFRESH, SET_SESSION_DATA, VALIDATE_SESSION } from './sessions.js';
export {
  CREATE_SESSION,
  CREATE_SESSION_BY_DIGEST,
  DELETE_WALLET,
  DELETE_WALLET_CHUNK,
  LIST_WALLET,
  SCAN_WALLET,
} from './wallets.js';
