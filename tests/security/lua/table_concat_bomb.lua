-- expect: exit=3 stderr=limit exceeded: memory
return { run = function()
  local chunk = string.rep("x", 1 << 20)
  local t = {}
  for i = 1, 1000 do t[i] = chunk end
  return #table.concat(t)
end }
