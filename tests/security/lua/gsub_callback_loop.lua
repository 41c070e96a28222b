-- expect: exit=3 stderr=limit exceeded: instructions
return { run = function()
  return (string.gsub("abc", ".", function(c) while true do end end))
end }
