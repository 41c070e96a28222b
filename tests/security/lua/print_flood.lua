-- expect: exit=3 stderr=limit exceeded: output
return { run = function()
  local line = string.rep("x", 1000)
  while true do print(line) end
end }
