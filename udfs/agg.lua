-- udfs/agg.lua — aggregates. Every buffer is plain data (numbers and tables),
-- so it crosses from MAP to REDUCE nodes; merge(a, b) gives what one pass would.
--   median(x)                    exact median (the buffer holds the values: memory grows with
--                                the group, bounded by the UDF memory limit)
--   approx_percentile(x, p)      p in [0, 1]; relative error <= 1% (a log-bucket sketch, like
--                                DDSketch), buffer size grows with log(max/min), not with rows
--   geomean(x)                   geometric mean of the positive values (SQL.md's example)
--   stddev_pop(x), stddev_samp(x) standard deviation (Welford, merged with Chan's formula)
-- NULLs are skipped; an empty group gives NULL.
local M = {}

M.median = {
  signature = "double->double",
  new_buffer = function() return { v = {} } end,
  iterate = function(b, x) if x then b.v[#b.v + 1] = x end end,
  merge = function(b, o) local v = b.v for i = 1, #o.v do v[#v + 1] = o.v[i] end end,
  terminate = function(b)
    local v, n = b.v, #b.v
    if n == 0 then return nil end
    table.sort(v)
    if n % 2 == 1 then return v[(n + 1) // 2] end
    return (v[n // 2] + v[n // 2 + 1]) / 2
  end,
}

local ALPHA = 0.01
local GAMMA = (1 + ALPHA) / (1 - ALPHA)
local LOG_GAMMA = math.log(GAMMA)

local function bucket(x) return math.ceil(math.log(x) / LOG_GAMMA) end
local function value(k) return 2 * GAMMA ^ k / (GAMMA + 1) end

M.approx_percentile = {
  signature = "double,double->double",
  new_buffer = function() return { n = 0, zero = 0, pos = {}, neg = {}, p = nil } end,
  iterate = function(b, x, p)
    if x == nil then return end
    if p == nil or p < 0 or p > 1 then error("approx_percentile: p must be in [0, 1]", 0) end
    b.p = p
    b.n = b.n + 1
    if x > 0 then local k = bucket(x) b.pos[k] = (b.pos[k] or 0) + 1
    elseif x < 0 then local k = bucket(-x) b.neg[k] = (b.neg[k] or 0) + 1
    else b.zero = b.zero + 1 end
  end,
  merge = function(b, o)
    b.n, b.zero, b.p = b.n + o.n, b.zero + o.zero, b.p or o.p
    for k, c in pairs(o.pos) do b.pos[k] = (b.pos[k] or 0) + c end
    for k, c in pairs(o.neg) do b.neg[k] = (b.neg[k] or 0) + c end
  end,
  terminate = function(b)
    if b.n == 0 then return nil end
    local rank = b.p * (b.n - 1)
    local seen = 0
    local keys = {}
    for k in pairs(b.neg) do keys[#keys + 1] = k end
    table.sort(keys, function(x, y) return x > y end) -- most negative first
    for _, k in ipairs(keys) do
      seen = seen + b.neg[k]
      if seen > rank then return -value(k) end
    end
    seen = seen + b.zero
    if seen > rank then return 0.0 end
    keys = {}
    for k in pairs(b.pos) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      seen = seen + b.pos[k]
      if seen > rank then return value(k) end
    end
    return value(keys[#keys])
  end,
}

M.geomean = {
  signature = "double->double",
  new_buffer = function() return { n = 0, s = 0.0 } end,
  iterate = function(b, x) if x and x > 0 then b.n = b.n + 1; b.s = b.s + math.log(x) end end,
  merge = function(b, o) b.n = b.n + o.n; b.s = b.s + o.s end,
  terminate = function(b) if b.n == 0 then return nil end return math.exp(b.s / b.n) end,
}

local function welford()
  return {
    new_buffer = function() return { n = 0, mean = 0.0, m2 = 0.0 } end,
    iterate = function(b, x)
      if x == nil then return end
      b.n = b.n + 1
      local d = x - b.mean
      b.mean = b.mean + d / b.n
      b.m2 = b.m2 + d * (x - b.mean)
    end,
    merge = function(b, o)
      if o.n == 0 then return end
      local n = b.n + o.n
      local d = o.mean - b.mean
      b.m2 = b.m2 + o.m2 + d * d * b.n * o.n / n
      b.mean = b.mean + d * o.n / n
      b.n = n
    end,
  }
end

M.stddev_pop = welford()
M.stddev_pop.signature = "double->double"
M.stddev_pop.terminate = function(b)
  if b.n == 0 then return nil end
  return math.sqrt(b.m2 / b.n)
end

M.stddev_samp = welford()
M.stddev_samp.signature = "double->double"
M.stddev_samp.terminate = function(b)
  if b.n < 2 then return nil end
  return math.sqrt(b.m2 / (b.n - 1))
end

return M
