-- expect: exit=3 stderr=limit exceeded: instructions
-- A pcall that catches the limit error is interrupted again at once.
return { run = function()
  local n = 0
  while true do
    pcall(function() while true do end end)
    n = n + 1
  end
end }
