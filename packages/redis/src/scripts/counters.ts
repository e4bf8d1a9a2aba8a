import { LuaScript } from './runner.js';

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
