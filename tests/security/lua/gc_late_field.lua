-- expect: exit=0 stdout="done"
-- Adding __gc to a metatable after setmetatable does not mark the object for
-- finalization (Lua checks at setmetatable time), so the loop never runs.
return { run = function()
  local mt = {}
  local t = setmetatable({}, mt)
  mt.__gc = function() while true do end end
  t = nil
  for i = 1, 200000 do local g = { i } end
  return "done"
end }
