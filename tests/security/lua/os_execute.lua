-- expect: exit=1 stderr=attempt to call a nil value \(field 'execute'\)
-- os.execute is not in the sandbox's os table (only time, clock, date, difftime).
return { run = function(path) return os.execute("touch " .. path) end }
