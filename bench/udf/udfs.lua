-- bench/udf/udfs.lua — the functions the benchmark calls: the trivial one and
-- SQL.md's mask_email.
local M = {}
function M.x2(x) return x * 2 + 1 end
function M.mask_email(s)
  if s == nil then return nil end
  local user, host = s:match("^([^@]*)@(.+)$")
  if not user then return s end
  return user:sub(1, 1) .. string.rep("*", #user - 1) .. "@" .. host
end
return M
