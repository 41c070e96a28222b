-- udfs/text.lua — tokenization without hashing, and splitting.
--   tokens(s)              word tokens joined by one space, ASCII letters lower-cased:
--                          "Hello, World!" -> "hello world" (no hashing: the tokens themselves)
--   token_count(s)         number of word tokens
--   words(s)               table function: one row per whitespace-separated word (SQL.md's example)
--   split(s, sep)          table function: one row (part, position) per piece of s split on the plain
--                          separator sep (empty pieces kept, like MaxCompute's explode(split(...)))
local M = {}

local function each_token(s, fn)
  -- a token is a run of letters, digits or non-ASCII bytes (UTF-8 letters)
  for tok in s:gmatch("[%w\128-\255]+") do fn(tok:lower()) end
end

M.tokens = {
  signature = "string->string",
  evaluate = function(s)
    if s == nil then return nil end
    local out = {}
    each_token(s, function(t) out[#out + 1] = t end)
    return table.concat(out, " ")
  end,
}

M.token_count = {
  signature = "string->bigint",
  evaluate = function(s)
    if s == nil then return nil end
    local n = 0
    each_token(s, function() n = n + 1 end)
    return n
  end,
}

M.words = {
  signature = "string->string",
  process = function(ctx, s) for w in (s or ""):gmatch("%S+") do ctx.forward(w) end end,
}

M.split = {
  signature = "string,string->string,bigint",
  process = function(ctx, s, sep)
    if s == nil then return end
    if sep == nil or sep == "" then error("split: the separator must not be empty", 0) end
    local pos, i = 1, 0
    while true do
      local a, b = s:find(sep, pos, true)
      i = i + 1
      if not a then ctx.forward(s:sub(pos), i) return end
      ctx.forward(s:sub(pos, a - 1), i)
      pos = b + 1
    end
  end,
}

return M
