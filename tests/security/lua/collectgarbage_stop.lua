-- expect: exit=1 stderr=only "count" is allowed
return { run = function() collectgarbage("stop"); return collectgarbage("count") end }
