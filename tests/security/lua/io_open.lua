-- expect: exit=1 stderr=attempt to index a nil value \(global 'io'\)
return { run = function(path) local f = io.open(path, "w"); f:write("x"); f:close() end }
