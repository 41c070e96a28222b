-- udfs/json.lua — JSON field extraction with a pure Lua parser.
--   json_extract(doc, path)         the value at path as a string: strings unquoted, numbers,
--                                   booleans, objects and arrays as JSON text; NULL when absent,
--                                   JSON null, or doc is NULL. Path: $, .name, ['name'], [index].
--   json_valid(doc)                 true when doc parses
--   json_array_elements(doc, path)  table function: one row per element of the array at path
-- The parser is bounded: documents over 1 MiB and nesting deeper than 64 are errors,
-- so a hostile document costs at most linear time and bounded memory.
local M = {}

local MAX_BYTES = 1 << 20
local MAX_DEPTH = 64
local NULL = setmetatable({}, { __tostring = function() return "null" end })

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
                  r = "\r", t = "\t" }

local parse_value

local function fail(pos, what) error(string.format("json: %s at byte %d", what, pos), 0) end

local function skip(s, pos) return s:find("[^ \t\r\n]", pos) or #s + 1 end

local function parse_string(s, pos)
  local out, i = {}, pos + 1
  while true do
    local a, b, chunk, c = s:find('^([^"\\%c]*)(["\\])', i)
    if not a then fail(i, "unterminated string") end
    out[#out + 1] = chunk
    if c == '"' then return table.concat(out), b + 1 end
    local e = s:sub(b + 1, b + 1)
    if e == "u" then
      local hex = s:match("^%x%x%x%x", b + 2)
      if not hex then fail(b, "bad \\u escape") end
      local cp = tonumber(hex, 16)
      i = b + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local lo = s:match("^\\u(%x%x%x%x)", i)
        lo = lo and tonumber(lo, 16)
        if lo and lo >= 0xDC00 and lo <= 0xDFFF then
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
          i = i + 6
        end
      end
      out[#out + 1] = utf8.char(cp)
    elseif escapes[e] then
      out[#out + 1] = escapes[e]
      i = b + 2
    else
      fail(b, "bad escape")
    end
  end
end

local function parse_container(s, pos, depth, open)
  if depth > MAX_DEPTH then fail(pos, "nested deeper than " .. MAX_DEPTH) end
  local close = open == "[" and "]" or "}"
  local node = { kind = open == "[" and "array" or "object", keys = {}, vals = {} }
  pos = skip(s, pos + 1)
  if s:sub(pos, pos) == close then return node, pos + 1 end
  while true do
    local key
    if node.kind == "object" then
      if s:sub(pos, pos) ~= '"' then fail(pos, "expected a key") end
      key, pos = parse_string(s, pos)
      pos = skip(s, pos)
      if s:sub(pos, pos) ~= ":" then fail(pos, "expected ':'") end
      pos = skip(s, pos + 1)
    end
    local v
    v, pos = parse_value(s, pos, depth + 1)
    node.vals[#node.vals + 1] = v
    node.keys[#node.keys + 1] = key
    pos = skip(s, pos)
    local c = s:sub(pos, pos)
    if c == close then return node, pos + 1 end
    if c ~= "," then fail(pos, "expected ',' or '" .. close .. "'") end
    pos = skip(s, pos + 1)
  end
end

parse_value = function(s, pos, depth)
  local c = s:sub(pos, pos)
  if c == "{" or c == "[" then return parse_container(s, pos, depth, c) end
  if c == '"' then return parse_string(s, pos) end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num and #num > 0 then
    local v = math.tointeger(tonumber(num)) or tonumber(num)
    if v == nil then fail(pos, "bad number") end
    return v, pos + #num
  end
  if s:sub(pos, pos + 3) == "true" then return true, pos + 4 end
  if s:sub(pos, pos + 4) == "false" then return false, pos + 5 end
  if s:sub(pos, pos + 3) == "null" then return NULL, pos + 4 end
  fail(pos, "unexpected character")
end

local function parse(s)
  if #s > MAX_BYTES then error("json: document larger than 1 MiB", 0) end
  local v, pos = parse_value(s, skip(s, 1), 1)
  if skip(s, pos) <= #s then fail(pos, "trailing characters") end
  return v
end

local function encode(v, out)
  local t = type(v)
  if v == NULL then out[#out + 1] = "null"
  elseif t == "string" then
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "number" then
    out[#out + 1] = math.type(v) == "integer" and tostring(v) or string.format("%.17g", v)
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  else
    local obj = v.kind == "object"
    out[#out + 1] = obj and "{" or "["
    for i, x in ipairs(v.vals) do
      if i > 1 then out[#out + 1] = "," end
      if obj then encode(v.keys[i], out); out[#out + 1] = ":" end
      encode(x, out)
    end
    out[#out + 1] = obj and "}" or "]"
  end
  return out
end

local function walk(v, path)
  if path:sub(1, 1) ~= "$" then error("json: a path starts with '$'", 0) end
  local pos = 2
  while pos <= #path and v ~= nil do
    local name, nxt = path:match("^%.([^%.%[]+)()", pos)
    local index
    if not name then name, nxt = path:match("^%['([^']*)'%]()", pos) end
    if not name then index, nxt = path:match("^%[(%d+)%]()", pos) end
    if not nxt then error("json: bad path near '" .. path:sub(pos) .. "'", 0) end
    if type(v) ~= "table" or v == NULL then return nil end
    local found
    if index and v.kind == "array" then found = v.vals[tonumber(index) + 1]
    elseif name and v.kind == "object" then
      for i, k in ipairs(v.keys) do if k == name then found = v.vals[i] end end
    end
    v, pos = found, nxt
  end
  return v
end

local function as_text(v)
  if v == nil or v == NULL then return nil end
  if type(v) == "string" then return v end
  return table.concat(encode(v, {}))
end

M.json_extract = {
  signature = "string,string->string",
  evaluate = function(doc, path)
    if doc == nil or path == nil then return nil end
    return as_text(walk(parse(doc), path))
  end,
}

M.json_valid = {
  signature = "string->boolean",
  evaluate = function(doc)
    if doc == nil then return nil end
    return (pcall(parse, doc))
  end,
}

M.json_array_elements = {
  signature = "string,string->string",
  process = function(ctx, doc, path)
    if doc == nil then return end
    local v = walk(parse(doc), path or "$")
    if type(v) ~= "table" or v.kind ~= "array" then return end
    for _, x in ipairs(v.vals) do ctx.forward(as_text(x)) end
  end,
}

return M
