-- expect: exit=0 stdout="nil nil"
-- load's env argument is ignored: the chunk gets the sandbox globals.
return { run = function()
  local f = load("return io, os.execute", "x", "t", { io = "fake" })
  local a, b = f()
  return tostring(a) .. " " .. tostring(b)
end }
