import { IS_LIVE } from './lua.js';
import { LuaScript } from './runner.js';

/**
 * Wallet snapshot scripts get KEYS[1] = the wallet index, KEYS[2..n+1] = the session keys of the
 * ids the caller read from it, ARGV[1] = n and ARGV[2..n+1] = those ids. The caller could not know
 * the ids without reading first, and a script may only touch keys it is given; so the script
 * first proves the index still holds exactly those ids and answers {'retry'} when it does not.
 */
const SNAPSHOT = `
local n = tonumber(ARGV[1])
local function snapshot_holds()
  if redis.call('ZCARD', KEYS[1]) ~= n then return false end
  for i = 1, n do
    if not redis.call('ZSCORE', KEYS[1], ARGV[1 + i]) then return false end
  end
  return true
end
`;

/**
 * createSession. KEYS: wallet, s1..sn (snapshot), new session. ARGV: n, id1..idn, new id,
 * createdAt (index score), limit, policy, now, ttl ms, then the new hash's field/value pairs.
 * Atomic: refuse a duplicate id, count live, refuse or evict oldest (the snapshot is in
 * createdAt, id order), insert, index, set TTL. Ids whose hash Redis already dropped by TTL are
 * pruned from the index. Returns {'duplicate'} | {'retry'} | {'limit'} | {'ok', {evicted hash...}}.
 */
export const CREATE_SESSION = new LuaScript(
  'createSession',
  `${IS_LIVE}${SNAPSHOT}
local key = KEYS[n + 2]
if redis.call('EXISTS', key) == 1 then return {'duplicate'} end
if not snapshot_holds() then return {'retry'} end
local b = n + 1
local limit = tonumber(ARGV[b + 3])
local now = tonumber(ARGV[b + 5])
local live = {}
for i = 1, n do
  local e = redis.call('HMGET', KEYS[1 + i], 'ie', 'ae')
  if not e[1] then
    redis.call('ZREM', KEYS[1], ARGV[1 + i])
  elseif is_live(e[1], e[2], now) then
    live[#live + 1] = i
  end
end
local evicted = {}
if #live >= limit then
  if ARGV[b + 4] == 'reject' then return {'limit'} end
  for j = 1, math.min(#live, #live - limit + 1) do
    local i = live[j]
    evicted[#evicted + 1] = redis.call('HGETALL', KEYS[1 + i])
    redis.call('DEL', KEYS[1 + i])
    redis.call('ZREM', KEYS[1], ARGV[1 + i])
  end
end
redis.call('HSET', key, unpack(ARGV, b + 7))
redis.call('PEXPIRE', key, ARGV[b + 6])
redis.call('ZADD', KEYS[1], ARGV[b + 2], ARGV[b + 1])
return {'ok', evicted}
`,
);

/**
 * A wallet index's digest: SHA-1 over its ids in index order, each as `<byte length>:<id>`. It stands
 * in for the snapshot check when a wallet holds too many ids to pass them all (see `indexDigest`
 * in ../wallets.ts, which computes the same in Node). Ids are never re-added once removed, so an
 * unchanged digest means no id came or went since the caller read the index.
 */
const INDEX_DIGEST = `
local function index_digest(key)
  local ids = redis.call('ZRANGE', key, 0, -1)
  for i = 1, #ids do ids[i] = #ids[i] .. ':' .. ids[i] end
  return redis.sha1hex(table.concat(ids))
end
`;

/**
 * createSession for a wallet whose index holds more ids than one call may carry. The caller has
 * read the whole index in chunks (SCAN_WALLET), counted its live sessions and picked the oldest
 * live ones to evict. KEYS: wallet, new session, e1..ek (those to evict, oldest first). ARGV:
 * digest of the index as read, live count, new id, createdAt, limit, policy, ttl ms, now, k, evict
 * id1..idk, then the new hash's field/value pairs.
 * Atomic: refuse a duplicate id; answer {'retry'} unless the index is as read. Then the count still
 * holds: at the same `now` no session turns live again, and a session that went away took its id
 * out of the index. Refuse, or evict the given ones; insert, index, set TTL. When more than k must
 * go before a slot is free (only after the limit was lowered), it evicts the k and answers
 * {'evicted', {hash...}} without inserting, and the caller starts over.
 * Returns {'duplicate'} | {'retry'} | {'limit'} | {'evicted', {hash...}} | {'ok', {evicted hash...}}.
 */
export const CREATE_SESSION_BY_DIGEST = new LuaScript(
  'createSessionByDigest',
  `${IS_LIVE}${INDEX_DIGEST}
local key = KEYS[2]
if redis.call('EXISTS', key) == 1 then return {'duplicate'} end
if index_digest(KEYS[1]) ~= ARGV[1] then return {'retry'} end
local live = tonumber(ARGV[2])
local limit = tonumber(ARGV[5])
local now = tonumber(ARGV[8])
local k = tonumber(ARGV[9])
local evicted = {}
if live >= limit then
  if ARGV[6] == 'reject' then return {'limit'} end
  for i = 1, k do
    local e = redis.call('HMGET', KEYS[2 + i], 'ie', 'ae')
    if not e[1] or not is_live(e[1], e[2], now) then return {'retry'} end
  end
  for i = 1, k do
    evicted[#evicted + 1] = redis.call('HGETALL', KEYS[2 + i])
    redis.call('DEL', KEYS[2 + i])
    redis.call('ZREM', KEYS[1], ARGV[9 + i])
  end
  if live - k >= limit then return {'evicted', evicted} end
end
redis.call('HSET', key, unpack(ARGV, 10 + k))
redis.call('PEXPIRE', key, ARGV[7])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return {'ok', evicted}
`,
);

/**
 * Reads one chunk of a wallet too large for one snapshot script (list, and the count before
 * CREATE_SESSION_BY_DIGEST). KEYS: wallet, s1..sk. ARGV: now, 'ids' | 'hashes', id1..idk. Atomic
 * for the chunk only. Prunes ids whose hash Redis dropped by TTL (such an id never comes back).
 * Returns {{live id or live hash...}, {pruned id...}} in the order given.
 */
export const SCAN_WALLET = new LuaScript(
  'scanWallet',
  `${IS_LIVE}
local now = tonumber(ARGV[1])
local out = {}
local pruned = {}
for i = 1, #KEYS - 1 do
  local id = ARGV[2 + i]
  local e = redis.call('HMGET', KEYS[1 + i], 'ie', 'ae')
  if not e[1] then
    redis.call('ZREM', KEYS[1], id)
    pruned[#pruned + 1] = id
  elseif is_live(e[1], e[2], now) then
    if ARGV[2] == 'hashes' then out[#out + 1] = redis.call('HGETALL', KEYS[1 + i]) else out[#out + 1] = id end
  end
end
return {out, pruned}
`,
);

/**
 * listWalletSessions. KEYS: wallet, s1..sn (snapshot). ARGV: n, id1..idn, now.
 * Atomic read of the wallet's live sessions in index order (createdAt, then id); prunes ids whose
 * hash Redis dropped by TTL. Returns {'retry'} | {'ok', {hash...}}.
 */
export const LIST_WALLET = new LuaScript(
  'listWalletSessions',
  `${IS_LIVE}${SNAPSHOT}
if not snapshot_holds() then return {'retry'} end
local now = tonumber(ARGV[n + 2])
local out = {}
for i = 1, n do
  local e = redis.call('HMGET', KEYS[1 + i], 'ie', 'ae')
  if not e[1] then
    redis.call('ZREM', KEYS[1], ARGV[1 + i])
  elseif is_live(e[1], e[2], now) then
    out[#out + 1] = redis.call('HGETALL', KEYS[1 + i])
  end
end
return {'ok', out}
`,
);

/** deleteWalletSessions' work once the ids are known (`n` is ARGV[1]); see DELETE_WALLET. */
const DELETE_WALLET_BODY = `
local except = ARGV[n + 2]
local now = tonumber(ARGV[n + 3])
local live = {}
local removed = {}
for i = 1, n do
  local id = ARGV[1 + i]
  if id ~= except then
    local e = redis.call('HMGET', KEYS[1 + i], 'ie', 'ae')
    if e[1] then
      if is_live(e[1], e[2], now) then live[#live + 1] = redis.call('HGETALL', KEYS[1 + i]) end
      redis.call('DEL', KEYS[1 + i])
    end
    redis.call('ZREM', KEYS[1], id)
    removed[#removed + 1] = id
  end
end
return {'ok', live, removed}
`;

/**
 * deleteWalletSessions. KEYS: wallet, s1..sn (snapshot). ARGV: n, id1..idn, except id ('' for
 * none), now. Atomic: deletes every session but the excepted one, live or not, with its index
 * entry. Returns {'retry'} | {'ok', {live hash...}, {removed id...}}.
 */
export const DELETE_WALLET = new LuaScript(
  'deleteWalletSessions',
  `${IS_LIVE}${SNAPSHOT}
if not snapshot_holds() then return {'retry'} end
${DELETE_WALLET_BODY}`,
);

/**
 * deleteWalletSessions for a wallet whose index holds more ids than one call may carry: the same
 * work on one chunk of the ids the caller read, with no snapshot check. Atomic for the chunk only.
 * KEYS, ARGV and reply as DELETE_WALLET's, never {'retry'}.
 */
export const DELETE_WALLET_CHUNK = new LuaScript(
  'deleteWalletChunk',
  `${IS_LIVE}
local n = tonumber(ARGV[1])
${DELETE_WALLET_BODY}`,
);
