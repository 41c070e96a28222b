-- expect: exit=1 stderr=__gc metamethods are not allowed
-- Finalizers run with hooks off in Lua 5.4: an endless __gc would escape every limit.
return { run = function()
  setmetatable({}, { __gc = function() while true do end end })
end }
