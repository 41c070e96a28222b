-- expect: exit=1 stderr=stack overflow
return { run = function()
  local function f(n) return 1 + f(n + 1) end
  return f(1)
end }
