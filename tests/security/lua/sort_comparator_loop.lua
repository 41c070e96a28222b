-- expect: exit=3 stderr=limit exceeded: instructions
return { run = function()
  local t = { 3, 2, 1 }
  table.sort(t, function(a, b) while true do end end)
end }
