-- expect: exit=1 stderr=attempt to index a nil value \(global 'net'\)
return { run = function() return net.connect("127.0.0.1", 22) end }
