import { SNAPSHOT_FIELDS } from '../codec.js';
import { IS_LIVE } from './lua.js';
import { LuaScript } from './runner.js';

/** Rewrites the validation view `v` (see SNAPSHOT_FIELDS) after a script changed t, la, ie or rg. */
const WRITE_VIEW = `
local function write_view(key)
  local x = redis.call('HMGET', key, 't', 'la', 'ie', 'rg', 'm')
  redis.call('HSET', key, 'v', x[1] .. '|' .. x[2] .. '|' .. x[3] .. '|' .. x[4] .. '|' .. x[5])
end`;

/**
 * validateSession: the hot path, one EVALSHA. KEYS: session. ARGV: token hash, now,
 * activeBefore, idle expiry to write, retention ms. Atomic: when live, the token hash matches and
 * the last activity is old enough (the throttle), writes the activity and moves the key's TTL.
 * Returns the SNAPSHOT_FIELDS after that, in order (live or expired: the engine judges), or nil
 * when absent. Only what validation reads travels back: not the refresh rotation state.
 */
export const VALIDATE_SESSION = new LuaScript(
  'validateSession',
  `${IS_LIVE}
${WRITE_VIEW}
local e = redis.call('HMGET', KEYS[1], 'ie', 'ae', 'la', 't')
if not e[1] then return false end
local now = tonumber(ARGV[2])
if is_live(e[1], e[2], now) and e[4] == ARGV[1] and tonumber(e[3]) <= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'la', ARGV[2], 'ie', ARGV[4])
  write_view(KEYS[1])
  local ends = math.min(tonumber(ARGV[4]), tonumber(e[2]))
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(ends - now, 0) + tonumber(ARGV[5])))
end
return redis.call('HMGET', KEYS[1], ${SNAPSHOT_FIELDS.map((f) => `'${f}'`).join(', ')})
`,
);

/**
 * rotateRefresh: the rules of core's `decideRotation`, in Lua. KEYS: session, wallet. ARGV: id,
 * subject, presented hash, now, grace ms, retired limit, next token hash, next refresh hash,
 * next successor, next idle expiry, retention ms. Atomic: decide and write (rotated), or delete
 * the session with its index entry (reused). Returns {'invalid'} | {outcome, hash}.
 */
export const ROTATE_REFRESH = new LuaScript(
  'rotateRefresh',
  `${IS_LIVE}
${WRITE_VIEW}
local key = KEYS[1]
local h = redis.call('HMGET', key, 'ie', 'ae', 'rh', 'rp', 'rr', 'rt', 'sub')
if not h[1] then return {'invalid'} end
if h[7] ~= ARGV[2] then return redis.error_reply('latchkey: session subject does not match its wallet key') end
local now = tonumber(ARGV[4])
if not is_live(h[1], h[2], now) then return {'invalid'} end
local presented = ARGV[3]
local retired = cjson.decode(h[6])
if presented == h[3] then
  if h[4] then retired[#retired + 1] = h[4] end
  local kept = {}
  for i = math.max(1, #retired - tonumber(ARGV[6]) + 1), #retired do kept[#kept + 1] = retired[i] end
  -- cjson encodes an empty table as {}; the field must stay a JSON array
  local rt = '[]'
  if #kept > 0 then rt = cjson.encode(kept) end
  redis.call('HSET', key, 't', ARGV[7], 'rh', ARGV[8], 'rp', h[3], 'rr', ARGV[4], 'rs', ARGV[9], 'la', ARGV[4], 'ie', ARGV[10], 'rt', rt)
  redis.call('HINCRBY', key, 'rg', 1)
  write_view(key)
  local ends = math.min(tonumber(ARGV[10]), tonumber(h[2]))
  redis.call('PEXPIRE', key, string.format('%.0f', math.max(ends - now, 0) + tonumber(ARGV[11])))
  return {'rotated', redis.call('HGETALL', key)}
end
local reused = false
if h[4] and presented == h[4] and h[5] then
  if now < tonumber(h[5]) + tonumber(ARGV[5]) then return {'grace', redis.call('HGETALL', key)} end
  reused = true
else
  for i = 1, #retired do
    if retired[i] == presented then reused = true end
  end
end
if not reused then return {'invalid'} end
local record = redis.call('HGETALL', key)
redis.call('DEL', key)
redis.call('ZREM', KEYS[2], ARGV[1])
return {'reused', record}
`,
);

/**
 * setSessionData. KEYS: session. ARGV: now, 'set' | 'clear', data. Atomic check-live-then-write.
 * Returns 1 when written, 0 when there is no live session.
 */
export const SET_SESSION_DATA = new LuaScript(
  'setSessionData',
  `${IS_LIVE}
local e = redis.call('HMGET', KEYS[1], 'ie', 'ae')
if not e[1] or not is_live(e[1], e[2], tonumber(ARGV[1])) then return 0 end
if ARGV[2] == 'set' then
  redis.call('HSET', KEYS[1], 'd', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'd')
end
return 1
`,
);

/**
 * deleteSession. KEYS: session, wallet. ARGV: id, subject. Atomic: deletes the hash and its index
 * entry; returns the hash as it was, or nil.
 */
export const DELETE_SESSION = new LuaScript(
  'deleteSession',
  `
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
if redis.call('HGET', KEYS[1], 'sub') ~= ARGV[2] then
  return redis.error_reply('latchkey: session subject does not match its wallet key')
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return record
`,
);

/**
 * Removes one session chosen by cleanup. KEYS: session, wallet. ARGV: id, now. Atomic: deletes
 * the session with its index entry only if it is expired at now. Returns {'gone'} (Redis dropped
 * it; the index entry is pruned) | {'live', expiry as stored} | {'removed', hash}.
 */
export const CLEANUP_SESSION = new LuaScript(
  'cleanupSession',
  `${IS_LIVE}
local e = redis.call('HMGET', KEYS[1], 'ie', 'ae')
if not e[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'gone'}
end
if is_live(e[1], e[2], tonumber(ARGV[2])) then
  if tonumber(e[1]) < tonumber(e[2]) then return {'live', e[1]} end
  return {'live', e[2]}
end
local record = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return {'removed', record}
`,
);
