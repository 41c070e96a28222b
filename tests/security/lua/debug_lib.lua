-- expect: exit=1 stderr=attempt to index a nil value \(global 'debug'\)
return { run = function() return debug.getregistry() end }
