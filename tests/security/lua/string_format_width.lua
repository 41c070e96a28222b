-- expect: exit=1 stderr=invalid conversion
return { run = function() return string.format("%0999999999d", 1) end }
