-- expect: exit=3 stderr=limit exceeded: string
-- The length computation (n * #s + (n-1) * #sep) is checked for overflow.
return { run = function() return #string.rep("xx", math.maxinteger // 2, "yyyy") end }
