-- expect: exit=1 stderr=attempt to index a nil value \(global 'package'\)
return { run = function() return package.loadlib("/lib/x86_64-linux-gnu/libc.so.6", "system") end }
