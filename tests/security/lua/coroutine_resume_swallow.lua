-- expect: exit=3 stderr=limit exceeded: instructions
-- resume returns false on an error; the limit error must not stop there.
return { run = function()
  for i = 1, 100 do
    local co = coroutine.create(function() while true do end end)
    local ok = coroutine.resume(co)
  end
  while true do end
end }
