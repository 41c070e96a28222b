-- expect: exit=1 stderr=coroutines nested too deeply
-- Lua 5.4.4 overflows the C stack when coroutine.close calls nest without
-- bound (fixed in 5.4.5); the wrapper caps the nesting.
return { run = function()
  local coro = false
  for i = 1, 5000 do
    local previous = coro
    coro = coroutine.create(function()
      local cc <close> = setmetatable({}, { __close = function()
        if previous then
          local ok, e = coroutine.close(previous)
          if not ok then error(e, 0) end
        end
      end })
      coroutine.yield()
    end)
    assert(coroutine.resume(coro))
  end
  local ok, err = coroutine.close(coro)
  if not ok then error(err, 0) end
  return "closed"
end }
