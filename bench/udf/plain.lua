-- bench/udf/plain.lua — the baseline: plain lua5.4 (no sandbox, no limits)
-- calling the same function in a Lua loop. Prints "<calls> <seconds>".
--   lua5.4 plain.lua udfs.lua x2|mask_email N
local M = dofile(arg[1])
local which, n = arg[2], tonumber(arg[3])
local t0 = os.clock()
if which == "x2" then
  local f = M.x2
  for i = 0, n - 1 do local r = f(i) end
else
  local f = M.mask_email
  for i = 0, n - 1 do local r = f("user" .. i .. "@example.com") end
end
print(n, os.clock() - t0)
