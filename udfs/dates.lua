-- udfs/dates.lua — date helpers. DATETIME values reach Lua as seconds since
-- the epoch (UTC); all helpers work in UTC.
--   date_format(t, fmt)       os.date-style format in UTC: date_format(t, "%Y-%m") -> "2026-11"
--   date_trunc(t, unit)       start of the 'year', 'month', 'day', 'hour' or 'minute' containing t
--   days_between(a, b)        whole days from a to b (negative when b is earlier)
--   day_of_week(t)            1 = Monday ... 7 = Sunday (ISO 8601)
--   add_months(t, n)          same day n months later, clamped to the month's last day
local M = {}

local function civil(t)
  local d = os.date("!*t", math.floor(t))
  return d
end

local function from_civil(y, m, d, hh, mm, ss)
  -- days from civil (Howard Hinnant), no dependency on the local time zone
  y = (m <= 2) and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + (hh or 0) * 3600 + (mm or 0) * 60 + (ss or 0)
end

M.date_format = {
  signature = "datetime,string->string",
  evaluate = function(t, fmt)
    if t == nil or fmt == nil then return nil end
    return os.date("!" .. fmt, math.floor(t))
  end,
}

M.date_trunc = {
  signature = "datetime,string->datetime",
  evaluate = function(t, unit)
    if t == nil or unit == nil then return nil end
    local d = civil(t)
    if unit == "year" then return from_civil(d.year, 1, 1)
    elseif unit == "month" then return from_civil(d.year, d.month, 1)
    elseif unit == "day" then return from_civil(d.year, d.month, d.day)
    elseif unit == "hour" then return from_civil(d.year, d.month, d.day, d.hour)
    elseif unit == "minute" then return from_civil(d.year, d.month, d.day, d.hour, d.min)
    end
    error("date_trunc: unknown unit '" .. unit .. "'", 0)
  end,
}

M.days_between = {
  signature = "datetime,datetime->bigint",
  evaluate = function(a, b)
    if a == nil or b == nil then return nil end
    local da, db = civil(a), civil(b)
    return (from_civil(db.year, db.month, db.day) - from_civil(da.year, da.month, da.day)) // 86400
  end,
}

M.day_of_week = {
  signature = "datetime->bigint",
  evaluate = function(t)
    if t == nil then return nil end
    local w = civil(t).wday -- 1 = Sunday
    return (w + 5) % 7 + 1
  end,
}

local function month_days(y, m)
  local mdays = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if m == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then return 29 end
  return mdays[m]
end

M.add_months = {
  signature = "datetime,bigint->datetime",
  evaluate = function(t, n)
    if t == nil or n == nil then return nil end
    local d = civil(t)
    local total = d.year * 12 + (d.month - 1) + n
    local y, m = total // 12, total % 12 + 1
    local day = math.min(d.day, month_days(y, m))
    return from_civil(y, m, day, d.hour, d.min, d.sec) + (t - math.floor(t))
  end,
}

return M
