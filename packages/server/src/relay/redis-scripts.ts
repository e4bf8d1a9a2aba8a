/**
 * The relay's Lua scripts: each channel operation is one script, so it is atomic, and every key it touches
 * arrives in KEYS and shares the channel's hash tag (one Cluster slot).
 *
 * Channel hash fields, with `d`/`w` for the dApp's and the wallet's slot: exp expiresAt ms, paired '1' once a
 * wallet joined, dk/wk SHA-256 hex of the rejoin key, dc/wc the holder's connection id ('' when away),
 * dv/wv presence epoch, ds/ws the highest seq recorded for messages TO that role, db/wb bytes kept for it.
 * Kept messages are list entries `at:seq:bytes:json`. Numbers are written from strings computed in Node or
 * by HINCRBY; Lua parses them only to compare (its tostring keeps 14 significant digits).
 */

/** Constant-time equality of two key hashes: no early exit on the first differing byte. */
const SAME_KEY = `
local function same_key(a, b)
  local diff = 0
  if #a ~= #b then diff = 1 end
  for i = 1, math.min(#a, #b) do
    if string.byte(a, i) ~= string.byte(b, i) then diff = diff + 1 end
  end
  return diff == 0
end
`;

/**
 * KEYS: channel, own buffer, peer buffer. ARGV: 1 role d|w, 2 key hash, 3 connection id, 4 now,
 * 5 expiresAt if created, 6 its TTL ms, 7 expiresAt if this pairs it, 8 its TTL ms, 9 lastSeq (-1: none),
 * 10 buffer cutoff (kept at or before it are stale), 11 takeover seq gap.
 * Answers {'expired'} | {'full'} | {'joined', exp, paired 0|1, replaced id|'', epoch, peer connected 0|1,
 * peer epoch, seqBase, {json...}}.
 */
export const JOIN = `${SAME_KEY}
local h, own, other = KEYS[1], KEYS[2], KEYS[3]
local r = ARGV[1]
local p = 'd'
if r == 'd' then p = 'w' end
local now = tonumber(ARGV[4])
local exp = redis.call('HGET', h, 'exp')
if not exp then
  if r ~= 'd' or tonumber(ARGV[5]) <= now then return {'expired'} end
  redis.call('HSET', h, 'exp', ARGV[5], 'dk', ARGV[2], 'dc', '', 'wc', '', 'dv', '0', 'wv', '0', 'ds', '0', 'ws', '0', 'db', '0', 'wb', '0')
  redis.call('PEXPIRE', h, ARGV[6])
elseif tonumber(exp) <= now then
  redis.call('DEL', h, own, other)
  return {'expired'}
else
  local stored = redis.call('HGET', h, r .. 'k')
  if stored then
    if not same_key(stored, ARGV[2]) then return {'full'} end
  else
    redis.call('HSET', h, r .. 'k', ARGV[2])
  end
  if r == 'w' and redis.call('HGET', h, 'paired') ~= '1' then
    redis.call('HSET', h, 'paired', '1', 'exp', ARGV[7])
    redis.call('PEXPIRE', h, ARGV[8])
  end
end
local replaced = redis.call('HGET', h, r .. 'c')
local epoch = redis.call('HINCRBY', h, r .. 'v', 1)
redis.call('HSET', h, r .. 'c', ARGV[3])
local seqBase
if replaced and replaced ~= '' then
  seqBase = redis.call('HINCRBY', h, p .. 's', ARGV[11])
else
  replaced = ''
  seqBase = redis.call('HGET', h, p .. 's')
end
local missed = {}
local lastSeq = tonumber(ARGV[9])
local cutoff = tonumber(ARGV[10])
local kept = redis.call('LRANGE', own, 0, -1)
for _, e in ipairs(kept) do
  local at, seq, rest = string.match(e, '^(%d+):(%d+):%d+:()')
  if tonumber(at) > cutoff and tonumber(seq) > lastSeq then missed[#missed + 1] = string.sub(e, rest) end
end
if #kept > 0 then redis.call('DEL', own) end
redis.call('HSET', h, r .. 'b', '0')
local peerConn = redis.call('HGET', h, p .. 'c')
local peerConnected = 0
if peerConn and peerConn ~= '' then peerConnected = 1 end
local paired = 0
if redis.call('HGET', h, 'paired') == '1' then paired = 1 end
return {'joined', redis.call('HGET', h, 'exp'), paired, replaced, epoch, peerConnected, redis.call('HGET', h, p .. 'v'), seqBase, missed}
`;

/** KEYS: channel. ARGV: role d|w, connection id, last seq sent. Answers {0} (not the holder) or {1, epoch}. */
export const LEAVE = `
local h, r = KEYS[1], ARGV[1]
local p = 'd'
if r == 'd' then p = 'w' end
if redis.call('HGET', h, r .. 'c') ~= ARGV[2] then return {0} end
redis.call('HSET', h, r .. 'c', '')
local epoch = redis.call('HINCRBY', h, r .. 'v', 1)
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', h, p .. 's')) then redis.call('HSET', h, p .. 's', ARGV[3]) end
return {1, epoch}
`;

/**
 * KEYS: channel, the recipient's buffer. ARGV: 1 recipient d|w, 2 now, 3 buffer cutoff, 4 max count,
 * 5 max bytes, 6 seq, 7 bytes, 8 entry, 9 buffer TTL ms.
 * Answers {'gone'} | {'present', epoch} | {'unclaimed'} (no rejoin key hash: nobody ever joined the seat)
 * | {'full'} | {'buffered'}.
 */
export const BUFFER = `
local h, buf, r = KEYS[1], KEYS[2], ARGV[1]
local now = tonumber(ARGV[2])
local exp = redis.call('HGET', h, 'exp')
if not exp or tonumber(exp) <= now then return {'gone'} end
local conn = redis.call('HGET', h, r .. 'c')
if conn and conn ~= '' then return {'present', redis.call('HGET', h, r .. 'v')} end
if not redis.call('HGET', h, r .. 'k') then return {'unclaimed'} end
local bytes = tonumber(redis.call('HGET', h, r .. 'b'))
local cutoff = tonumber(ARGV[3])
while true do
  local head = redis.call('LINDEX', buf, 0)
  if not head then bytes = 0 break end
  local at, size = string.match(head, '^(%d+):%d+:(%d+):')
  if tonumber(at) > cutoff then break end
  redis.call('LPOP', buf)
  bytes = bytes - tonumber(size)
end
if redis.call('LLEN', buf) >= tonumber(ARGV[4]) or bytes + tonumber(ARGV[7]) > tonumber(ARGV[5]) then
  redis.call('HSET', h, r .. 'b', bytes)
  return {'full'}
end
redis.call('RPUSH', buf, ARGV[8])
redis.call('HSET', h, r .. 'b', bytes + tonumber(ARGV[7]))
if tonumber(ARGV[6]) > tonumber(redis.call('HGET', h, r .. 's')) then redis.call('HSET', h, r .. 's', ARGV[6]) end
redis.call('PEXPIRE', buf, math.min(tonumber(ARGV[9]), tonumber(exp) - now))
return {'buffered'}
`;

/** KEYS: channel, dApp buffer, wallet buffer. ARGV: now. Answers the expiry while live, else -1 (deleted). */
export const EXPIRE = `
local exp = redis.call('HGET', KEYS[1], 'exp')
if exp and tonumber(exp) > tonumber(ARGV[1]) then return exp end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return -1
`;
