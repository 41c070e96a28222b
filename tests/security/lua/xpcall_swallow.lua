-- expect: exit=3 stderr=limit exceeded: instructions
return { run = function()
  while true do
    xpcall(function() while true do end end, function(e) while true do end end)
  end
end }
