-- udfs/url.lua — URL parsing (RFC 3986 shapes, no normalization).
--   url_part(url, part)      part is one of scheme, user, host, port, path, query, fragment;
--                            NULL when the URL has no such part
--   url_query(url, name)     the first value of query parameter name, percent-decoded
local M = {}

local function parse(url)
  local u = {}
  local rest = url
  u.scheme, rest = rest:match("^(%a[%w+.-]*):(.*)$")
  if not u.scheme then u.scheme, rest = nil, url end
  local frag_at = rest:find("#", 1, true)
  if frag_at then u.fragment, rest = rest:sub(frag_at + 1), rest:sub(1, frag_at - 1) end
  local q_at = rest:find("?", 1, true)
  if q_at then u.query, rest = rest:sub(q_at + 1), rest:sub(1, q_at - 1) end
  local auth, path = rest:match("^//([^/]*)(.*)$")
  if auth then
    local userinfo, hostport = auth:match("^(.*)@(.*)$")
    u.user = userinfo
    hostport = hostport or auth
    local h6, p6 = hostport:match("^(%[[^%]]*%]):?(%d*)$")
    if h6 then u.host, u.port = h6, p6
    else u.host, u.port = hostport:match("^([^:]*):?(%d*)$") end
    if u.port == "" then u.port = nil end
    if u.host then u.host = u.host:lower() end
    rest = path
  end
  u.path = rest ~= "" and rest or nil
  u.scheme = u.scheme and u.scheme:lower()
  return u
end

local function unescape(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

M.url_part = {
  signature = "string,string->string",
  evaluate = function(url, part)
    if url == nil or part == nil then return nil end
    local valid = { scheme = 1, user = 1, host = 1, port = 1, path = 1, query = 1, fragment = 1 }
    if not valid[part] then error("url_part: unknown part '" .. part .. "'", 0) end
    return parse(url)[part]
  end,
}

M.url_query = {
  signature = "string,string->string",
  evaluate = function(url, name)
    if url == nil or name == nil then return nil end
    local q = parse(url).query
    if not q then return nil end
    for pair in q:gmatch("[^&;]+") do
      local k, v = pair:match("^([^=]*)=?(.*)$")
      if unescape(k) == name then return unescape(v) end
    end
    return nil
  end,
}

return M
