import { LuaScript } from './runner.js';

/**
 * Writes one entry of a namespace (shared by putEntry, addEntry and incrementEntry). KEYS: value, index. ARGV:
 * key, value, expiresAt, ttl ms (expiresAt − now plus slack, computed in Node; <= 0 means the
 * entry is dead on arrival and is deleted instead), prune bound. The index's TTL is raised to the
 * value's so that it outlives every value it lists (both measured on Redis's own clock); index
 * members scored at or below the prune bound are dropped, which keeps the index as small as the
 * namespace's recent entries.
 */
const WRITE_ENTRY = `
local function write_entry()
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
  local ttl = tonumber(ARGV[4])
  if ttl <= 0 then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
    return
  end
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'x', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
end
`;

/**
 * putEntry. KEYS: value, index. ARGV: key, value, expiresAt, ttl ms, prune bound. Atomic: the
 * value, its TTL and its index member change together. Returns 1.
 */
export const PUT_ENTRY = new LuaScript(
  'putEntry',
  `${WRITE_ENTRY}
write_entry()
return 1
`,
);

/**
 * addEntry. KEYS: value, index. ARGV: key, value, expiresAt, ttl ms, prune bound, now. Atomic:
 * writes only when no live entry holds the key. Liveness is judged by the stored expiresAt
 * against now, never by the key's existence: Redis keeps an entry past its expiry (the TTL slack,
 * or a clock that differs from the engine's), and that entry counts as absent. Returns 1 when it
 * wrote, 0 when a live entry was there.
 */
export const ADD_ENTRY = new LuaScript(
  'addEntry',
  `${WRITE_ENTRY}
local x = redis.call('HGET', KEYS[1], 'x')
if x and tonumber(ARGV[6]) < tonumber(x) then return 0 end
write_entry()
return 1
`,
);

/**
 * incrementEntry. KEYS: value, index. ARGV: key, '1', expiresAt, ttl ms, prune bound, now (as
 * addEntry's). Atomic: when no entry is live at now (judged by the stored expiresAt, as addEntry
 * judges it), writes "1" with the new expiry, TTL and index member, as putEntry would, and returns
 * 1; otherwise adds one to the value with HINCRBY (so Lua never formats the count), keeping the
 * expiry, the TTL and the index score, and returns the new count. HINCRBY refuses a value that is
 * not a decimal integer (an entry that was never a counter) with an error.
 */
export const INCREMENT_ENTRY = new LuaScript(
  'incrementEntry',
  `${WRITE_ENTRY}
local x = redis.call('HGET', KEYS[1], 'x')
if x and tonumber(ARGV[6]) < tonumber(x) then return redis.call('HINCRBY', KEYS[1], 'v', 1) end
write_entry()
return 1
`,
);

/**
 * takeEntry, and deleteEntry (which only asks whether a value came back). KEYS: value, index.
 * ARGV: key, now. Atomic: reads the entry and deletes it with its index member, live or not.
 * Returns the value when the entry was live at now, else nil. Redis runs one script at a time,
 * so of any number of concurrent takes exactly one finds the entry.
 */
export const TAKE_ENTRY = new LuaScript(
  'takeEntry',
  `
local e = redis.call('HMGET', KEYS[1], 'v', 'x')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if e[1] and e[2] and tonumber(ARGV[2]) < tonumber(e[2]) then return e[1] end
return false
`,
);

/**
 * listEntries, a snapshot script like the wallet ones. KEYS: index, v1..vn (the value keys of
 * the members the caller read scored above now). ARGV: now, n, key1..keyn. Atomic: first proves
 * the index's members scored above now are still exactly those keys (else {'retry'}), then reads
 * each value; members whose value key is gone (dropped by TTL or behind the store's back) are
 * pruned. Returns {'retry'} | {'ok', {key, value, expiresAt, ...}} in no particular order: Node
 * sorts, because Lua compares strings as bytes and JavaScript as UTF-16 code units.
 */
export const LIST_ENTRIES = new LuaScript(
  'listEntries',
  `
local n = tonumber(ARGV[2])
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
if #live ~= n then return {'retry'} end
local expected = {}
for i = 1, n do expected[ARGV[2 + i]] = true end
for _, key in ipairs(live) do
  if not expected[key] then return {'retry'} end
end
local now = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local e = redis.call('HMGET', KEYS[1 + i], 'v', 'x')
  if not e[1] or not e[2] then
    redis.call('ZREM', KEYS[1], ARGV[2 + i])
  elseif now < tonumber(e[2]) then
    out[#out + 1] = ARGV[2 + i]
    out[#out + 1] = e[1]
    out[#out + 1] = e[2]
  end
end
return {'ok', out}
`,
);

/**
 * Reads one chunk of a namespace's entries: listEntries beyond one snapshot's size, and
 * scanEntries. KEYS: index, v1..vk. ARGV: key1..keyk. Atomic for the chunk only. Members whose
 * value key is gone are pruned (an entry's value key and index member are written and removed
 * together, so a member without its value key is a leftover). Returns {key, value, expiresAt, ...}
 * for every given key whose value key exists, live or not: the caller judges.
 */
export const READ_ENTRIES = new LuaScript(
  'readEntries',
  `
local out = {}
for i = 1, #ARGV do
  local e = redis.call('HMGET', KEYS[1 + i], 'v', 'x')
  if not e[1] or not e[2] then
    redis.call('ZREM', KEYS[1], ARGV[i])
  else
    out[#out + 1] = ARGV[i]
    out[#out + 1] = e[1]
    out[#out + 1] = e[2]
  end
end
return out
`,
);
