-- expect: exit=1 stderr=\(error object is a table value\)
-- The host never calls __tostring on an error object: this one would loop.
return { run = function()
  error(setmetatable({}, { __tostring = function() while true do end end }))
end }
