-- expect: exit=3 stderr=limit exceeded: memory
-- Catching the out-of-memory error with pcall does not let the script go on.
return { run = function()
  local ok = pcall(function() local t = {} while true do t[#t + 1] = {} end end)
  return "continued after the memory limit: " .. tostring(ok)
end }
