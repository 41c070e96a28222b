-- expect: exit=1 stderr=globals are read-only
return { run = function() leaked = "visible to the next row"; return leaked end }
