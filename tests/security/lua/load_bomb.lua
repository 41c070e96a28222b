-- expect: exit=3 stderr=limit exceeded: string
return { run = function() return load(string.rep("local a = 1 ", 2000000)) end }
