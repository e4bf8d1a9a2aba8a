import { LuaScript } from './runner.js';

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
