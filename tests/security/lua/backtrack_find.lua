-- expect: exit=3 stderr=limit exceeded: cpu args=--cpu-time=1s
-- A backtracking pattern runs inside one C call, where no hook fires: the
-- CPU timer ends it.
return { run = function()
  return string.find(string.rep("a", 20000), ".-.-.-.-.-.-.-.-b")
end }
