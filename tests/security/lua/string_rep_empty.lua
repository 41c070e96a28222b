-- expect: exit=0 stdout=0
-- Lua's string.rep loops n times even when every copy is empty: a C loop of
-- 2^62 steps no hook would interrupt. The wrapper answers "" at once.
return { run = function() return #string.rep("", 1 << 62) end }
