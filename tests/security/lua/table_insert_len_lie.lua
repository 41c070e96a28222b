-- expect: exit=1 stderr=more than 16777216 elements
-- __len claims 2^62 elements: table.insert would shift them all in C.
return { run = function()
  local t = setmetatable({}, { __len = function() return 1 << 62 end })
  table.insert(t, 1, "x")
end }
