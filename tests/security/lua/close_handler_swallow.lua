-- expect: exit=3 stderr=limit exceeded: instructions
-- A to-be-closed variable's handler runs while the limit error unwinds; it is
-- interrupted too.
return { run = function()
  local guard <close> = setmetatable({}, { __close = function() while true do end end })
  while true do end
end }
