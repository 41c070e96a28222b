-- expect: exit=3 stderr=limit exceeded: instructions
-- The message handler runs before unwinding, while Lua still has hooks off
-- after an error raised by the hook: it is skipped once a limit tripped.
return { run = function()
  return tostring(select(2, xpcall(function() while true do end end,
                                   function(e) while true do end end)))
end }
