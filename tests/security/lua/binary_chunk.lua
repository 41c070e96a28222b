-- expect: exit=1 stderr=attempt to load a binary chunk
-- A literal precompiled chunk header: load() only ever accepts text.
return { run = function()
  local f, e = load("\27Lua\84\0\25\147\13\10\26\10\4\8\8\120\86\0\0\0\0\0\0\0\0\0\0\0\40\119\64\1")
  if not f then error(e, 0) end
  return f()
end }
