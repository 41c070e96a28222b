-- expect: exit=3 stderr=limit exceeded: memory
return { run = function()
  local t = {}
  while true do t[#t + 1] = { #t } end
end }
