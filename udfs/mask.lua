-- udfs/mask.lua — masking of personal data.
--   mask_email(s)            "john@example.com" -> "j***@example.com" (SQL.md's example)
--   mask_phone(s)            keeps the last 4 digits, masks the other digits, keeps + and separators
--   mask_keep_last(s, n)     masks all but the last n characters (UTF-8 aware)
-- NULL in, NULL out; a string that is not an email is returned unchanged.
local M = {}

-- mask_email(string) -> string: first character of the user part, then '*'s.
function M.mask_email(s)
  if s == nil then return nil end
  local user, host = s:match("^([^@]*)@(.+)$")
  if not user then return s end
  return user:sub(1, 1) .. string.rep("*", #user - 1) .. "@" .. host
end

-- mask_phone(string) -> string: "+1 (415) 555-0134" -> "+* (***) ***-0134".
M.mask_phone = {
  signature = "string->string",
  evaluate = function(s)
    if s == nil then return nil end
    local digits = select(2, s:gsub("%d", ""))
    local seen = 0
    return (s:gsub("%d", function(d)
      seen = seen + 1
      if seen > digits - 4 then return d end
      return "*"
    end))
  end,
}

-- mask_keep_last(string, bigint) -> string: "4111111111111111", 4 -> "************1111".
M.mask_keep_last = {
  signature = "string,bigint->string",
  evaluate = function(s, n)
    if s == nil then return nil end
    n = n or 0
    if n < 0 then error("mask_keep_last: n must be >= 0", 0) end
    local len = utf8.len(s)
    if not len then error("mask_keep_last: not valid UTF-8", 0) end
    if len <= n then return s end
    local keep_from = utf8.offset(s, len - n + 1)
    return string.rep("*", len - n) .. s:sub(keep_from)
  end,
}

return M
