-- expect: exit=3 stderr=limit exceeded: string
-- 24 MiB fits the 64 MiB heap but not the 16 MiB cap on a value crossing the ABI.
return { run = function()
  local s = string.rep("x", 8 << 20)
  return s .. s .. s
end }
