/**
 * Lua shared by the session, wallet and cleanup scripts. A snippet is pasted at the top of each
 * script that uses it, so it is part of that script's text (and SHA-1): change one and every
 * script that includes it changes too.
 */

export const IS_LIVE = `
local function is_live(ie, ae, now)
  return now < tonumber(ie) and now < tonumber(ae)
end
`;
