-- expect: exit=3 stderr=limit exceeded: memory
return { run = function()
  local s = "0123456789abcdef"
  local keep = {}
  for i = 1, 64 do s = s .. s; keep[#keep + 1] = s end
  return #s
end }
