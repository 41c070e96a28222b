-- expect: exit=1 stderr=attempt to call a nil value \(field 'exit'\)
return { run = function() os.exit(0) end }
