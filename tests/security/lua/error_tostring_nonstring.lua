-- expect: exit=1 stderr=\(error object is a table value\)
return { run = function()
  error(setmetatable({}, { __tostring = function() return {} end }))
end }
