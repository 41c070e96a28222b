-- udfs/geo.lua — distances and IPv4 networks.
--   haversine_km(lat1, lon1, lat2, lon2)   great-circle distance in km (mean Earth radius 6371.0088 km)
--   ipv4_in_cidr(ip, cidr)                 true when the dotted-quad ip is inside a.b.c.d/n
--   ipv4_to_int(ip)                        the address as a bigint (NULL when not an IPv4 address)
local M = {}

local R = 6371.0088

M.haversine_km = {
  signature = "double,double,double,double->double",
  evaluate = function(lat1, lon1, lat2, lon2)
    if not (lat1 and lon1 and lat2 and lon2) then return nil end
    if math.abs(lat1) > 90 or math.abs(lat2) > 90 then
      error("haversine_km: latitude outside [-90, 90]", 0)
    end
    local p1, p2 = math.rad(lat1), math.rad(lat2)
    local dp, dl = math.rad(lat2 - lat1), math.rad(lon2 - lon1)
    local a = math.sin(dp / 2) ^ 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ^ 2
    return 2 * R * math.asin(math.min(1, math.sqrt(a)))
  end,
}

local function ip_to_int(ip)
  local a, b, c, d = ip:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

M.ipv4_to_int = {
  signature = "string->bigint",
  evaluate = function(ip) if ip == nil then return nil end return ip_to_int(ip) end,
}

M.ipv4_in_cidr = {
  signature = "string,string->boolean",
  evaluate = function(ip, cidr)
    if ip == nil or cidr == nil then return nil end
    local net, bits = cidr:match("^([%d%.]+)/(%d%d?)$")
    bits = tonumber(bits)
    local n = net and ip_to_int(net)
    if not n or bits > 32 then error("ipv4_in_cidr: bad CIDR '" .. cidr .. "'", 0) end
    local x = ip_to_int(ip)
    if not x then return false end
    local mask = bits == 0 and 0 or ((0xffffffff << (32 - bits)) & 0xffffffff)
    return (x & mask) == (n & mask)
  end,
}

return M
