-- expect: exit=1 stderr=paths are not allowed
return { run = function() return resource.read("/etc/passwd") end }
