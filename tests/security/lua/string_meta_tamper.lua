-- expect: exit=0 stdout="ABCx:5 attempts refused"
-- Every way of changing what "abc":upper() or string.upper does is refused,
-- and after the attempts the string functions are the original ones.
return { run = function()
  local refused = 0
  local attempts = {
    function() getmetatable("").__index.upper = function() return "pwned" end end,
    function() string.upper = function() return "pwned" end end,
    function() rawset(string, "upper", function() return "pwned" end) end,
    function() setmetatable(string, {}) end,
    function() setmetatable(getmetatable(""), {}) end,
  }
  for _, a in ipairs(attempts) do
    if not pcall(a) then refused = refused + 1 end
  end
  return ("abc"):upper() .. string.lower("X") .. ":" .. refused .. " attempts refused"
end }
