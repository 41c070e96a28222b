-- expect: exit=1 stderr=attempt to call a nil value \(field 'getenv'\)
return { run = function() return os.getenv("HOME") end }
