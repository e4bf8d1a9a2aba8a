import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { SNAPSHOT_FIELDS } from './codec.js';

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

/** A script run with EVALSHA, falling back to EVAL when the node has not cached it (NOSCRIPT). */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis | Cluster, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const IS_LIVE = `
local function is_live(ie, ae, now)
  return now < tonumber(ie) and now < tonumber(ae)
end
`;

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
 * in wallets.ts, which computes the same in Node). Ids are never re-added once removed, so an
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

/**
 * appendAudit's compare-and-set (the links were hashed in Node: Lua has no SHA-256). KEYS: head,
 * entries, then the per-subject index keys. ARGV: expected seq, expected hash, new seq, new hash,
 * and the entries as one JSON array of `[seq, entry JSON, k]`, k the 1-based position of the
 * entry's subject key after KEYS[2] (0 = no subject). One JSON argument rather than three per
 * entry, so a batch's argument count does not grow with its size; seqs stay strings, so Lua never
 * formats them. Atomic: writes everything only if the head is still the expected one.
 * Returns {'ok'} | {'conflict', seq, hash} with the head found.
 */
export const APPEND_AUDIT = new LuaScript(
  'appendAudit',
  `
local head = redis.call('HMGET', KEYS[1], 'seq', 'hash')
local seq = head[1] or '0'
if seq ~= ARGV[1] or (head[1] and head[2] ~= ARGV[2]) then return {'conflict', seq, head[2] or ''} end
for _, e in ipairs(cjson.decode(ARGV[5])) do
  redis.call('HSET', KEYS[2], e[1], e[2])
  if e[3] > 0 then redis.call('ZADD', KEYS[2 + e[3]], e[1], e[1]) end
end
redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4])
return {'ok'}
`,
);

/** incrementCounters. KEYS: counters. ARGV: counter/delta pairs. One key; a script so the deltas land together. */
export const INCREMENT_COUNTERS = new LuaScript(
  'incrementCounters',
  `
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
`,
);

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
