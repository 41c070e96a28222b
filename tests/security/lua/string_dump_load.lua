-- expect: exit=1 stderr=attempt to call a nil value \(field 'dump'\)
return { run = function() return load(string.dump(function() return 1 end))() end }
