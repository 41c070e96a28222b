-- expect: exit=3 stderr=limit exceeded: instructions
return { run = function() while true do end end }
