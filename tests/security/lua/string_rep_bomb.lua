-- expect: exit=3 stderr=limit exceeded: string
return { run = function() return #string.rep("x", 1 << 40) end }
