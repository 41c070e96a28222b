-- expect: exit=1 stderr=attempt to call a nil value \(global 'require'\)
return { run = function() return require("io") end }
