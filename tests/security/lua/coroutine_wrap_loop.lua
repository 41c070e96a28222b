-- expect: exit=3 stderr=limit exceeded: instructions
-- The instruction hook reaches code running inside coroutines.
return { run = function()
  local f = coroutine.wrap(function() while true do end end)
  f()
end }
