-- expect: exit=3 stderr=limit exceeded: cpu args=--cpu-time=1s
return { run = function()
  return (string.gsub(string.rep("a", 20000), ".-.-.-.-.-.-.-.-b", "x"))
end }
