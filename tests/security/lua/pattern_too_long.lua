-- expect: exit=3 stderr=limit exceeded: pattern
return { run = function() return string.find("aaaa", string.rep("a?", 1000)) end }
