--- A point in time with nanosecond precision (CBOR tag 12; tag 0 RFC 3339 text is read too).
--
-- Instances are `{ seconds = integer, nanoseconds = integer 0..999999999 }` since the Unix epoch,
-- UTC; `seconds` is negative before 1970. Calendar arithmetic is proleptic Gregorian on 64-bit
-- integers (no `os.time`/`os.date`, which use local time and may be 32-bit), so any year works
-- here; SurrealDB itself holds years -262143 to 262142.
--
-- `iso()` writes RFC 3339 in UTC as SurrealDB does (chrono's `AutoSi`): no fraction when the
-- nanoseconds are zero, else 3, 6 or 9 digits, whichever is the shortest that is exact
-- (`.500`, `.000001`, `.123456789`). Years outside 0000..9999 carry a sign (`+10000`, `-0001`).
--
-- `parse` reads what SurrealDB's datetime literal reads: an optional sign and a 4 to 6 digit
-- year, `-MM-DD`, then optionally a `T`, `t` or space and `HH:MM:SS`, an optional fraction of any
-- length (the first 9 digits count; the 10th rounds), and `Z`, `z` or an offset `+HH:MM`/`-HH:MM`.
-- A date alone is midnight UTC.
--
-- @classmod surrealdb.types.datetime
-- @usage
-- local Datetime = require("surrealdb.types.datetime")
-- local t = Datetime.parse("2024-02-29T12:30:00.5+02:00")
-- print(t)              --> d'2024-02-29T10:30:00.500Z'
-- print(t:to_epoch())   --> 1709202600.5
local errors = require("surrealdb.errors")
local compare_time = require("surrealdb.types.shape").compare_time

local Datetime = { __name = "surrealdb.Datetime" }
Datetime.__index = Datetime

local NS = 1000000000
local DAY = 86400

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

--- Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil, reimplemented).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- The proleptic Gregorian date of a day count since 1970-01-01.
local function civil_from_days(z)
  z = z + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_in_month(y, m)
  if m == 2 then
    return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28
  end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

local function make(seconds, nanoseconds)
  return setmetatable({ seconds = seconds, nanoseconds = nanoseconds }, Datetime)
end

-- seconds + extra, raising on int64 overflow.
local function add_seconds(seconds, extra, what)
  local sum = seconds + extra
  if (extra > 0 and sum < seconds) or (extra < 0 and sum > seconds) then
    invalid(what .. ": the datetime is out of range (more than 2^63 seconds from 1970)",
      { seconds = seconds, extra = extra })
  end
  return sum
end

--- Parse an RFC 3339 datetime (see the module description for what is accepted).
-- @tparam string text such as `"2024-05-01T10:00:00Z"` or `"1969-07-20T20:17:40.123456789-05:00"`
-- @treturn Datetime
-- @raise ValidationError naming the input and what is wrong with it
-- @usage local t = Datetime.parse("1969-07-20T20:17:40Z")
function Datetime.parse(text)
  if type(text) ~= "string" then
    invalid("Datetime.parse: expected a string, got " .. type(text), { input = text })
  end
  local pos = 1
  local function fail(what)
    invalid("Datetime.parse: invalid datetime " .. string.format("%q", text) .. ": " .. what
      .. " (at byte " .. pos .. ")", { input = text, position = pos })
  end
  local function number(min_len, max_len, lo, hi, name)
    local digits = text:match("^%d+", pos)
    if not digits or #digits < min_len or #digits > max_len then
      local count = min_len == max_len and min_len or (min_len .. " to " .. max_len)
      fail("expected " .. count .. " digits of the " .. name)
    end
    local value = tonumber(digits)
    if value < lo or value > hi then
      fail(name .. " " .. digits .. " is out of range " .. lo .. ".." .. hi)
    end
    pos = pos + #digits
    return value
  end
  local function expect(char, name)
    if text:sub(pos, pos) ~= char then fail("expected '" .. char .. "' " .. name) end
    pos = pos + 1
  end

  local negative = false
  local sign = text:sub(1, 1)
  if sign == "-" or sign == "+" then
    negative, pos = sign == "-", 2
  end
  local year = number(4, 6, 0, 999999, "year")
  if negative then year = -year end
  expect("-", "after the year")
  local month = number(2, 2, 1, 12, "month")
  expect("-", "after the month")
  local day = number(2, 2, 1, 31, "day")
  if day > days_in_month(year, month) then
    pos = pos - 2
    fail("day " .. day .. " does not exist in " .. string.format("%04d-%02d", year, month))
  end
  local days = days_from_civil(year, month, day)
  if pos > #text then return make(days * DAY, 0) end

  local sep = text:sub(pos, pos)
  if sep ~= "T" and sep ~= "t" and sep ~= " " then fail("expected 'T' between the date and the time") end
  pos = pos + 1
  local hour = number(2, 2, 0, 23, "hour")
  expect(":", "after the hour")
  local minute = number(2, 2, 0, 59, "minute")
  expect(":", "after the minute")
  local second = number(2, 2, 0, 59, "second")

  local nanoseconds = 0
  if text:sub(pos, pos) == "." then
    pos = pos + 1
    local digits = text:match("^%d+", pos)
    if not digits then fail("expected digits after the decimal point") end
    pos = pos + #digits
    nanoseconds = tonumber((digits:sub(1, 9) .. "00000000"):sub(1, 9))
    if #digits > 9 and digits:byte(10) >= 53 then nanoseconds = nanoseconds + 1 end -- 10th digit >= '5'
  end

  local offset = 0
  local zone = text:sub(pos, pos)
  if zone == "Z" or zone == "z" then
    pos = pos + 1
  elseif zone == "+" or zone == "-" then
    pos = pos + 1
    local oh = number(2, 2, 0, 23, "offset hours")
    expect(":", "in the offset")
    local om = number(2, 2, 0, 59, "offset minutes")
    offset = (oh * 3600 + om * 60) * (zone == "-" and -1 or 1)
  elseif zone == "" then
    fail("expected a time zone ('Z' or an offset such as +02:00)")
  else
    fail("expected 'Z' or an offset such as +02:00")
  end
  if pos <= #text then fail("unexpected text after the datetime") end

  local seconds = days * DAY + hour * 3600 + minute * 60 + second - offset
  if nanoseconds == NS then seconds, nanoseconds = seconds + 1, 0 end
  return make(seconds, nanoseconds)
end

--- Make a datetime from seconds (and nanoseconds) since the Unix epoch.
-- Integer seconds are exact. Float seconds are split into whole seconds and nanoseconds rounded
-- to the nearest (a float holds about 16 significant digits, so today's epoch seconds keep about
-- microsecond precision). `nanoseconds` may be any integer; it is carried into the seconds.
-- @tparam number seconds seconds since 1970-01-01T00:00:00Z, negative before
-- @tparam[opt=0] integer nanoseconds
-- @treturn Datetime
-- @raise ValidationError for non-numbers, NaN, infinities and values beyond int64 seconds
-- @usage local t = Datetime.from_epoch(-14182940)      -- 1969-07-20T20:17:40Z
-- local u = Datetime.from_epoch(1700000000, 5)         -- 5 ns past
-- local v = Datetime.from_epoch(1700000000.25)
function Datetime.from_epoch(seconds, nanoseconds)
  if type(seconds) ~= "number" then
    invalid("Datetime.from_epoch: seconds must be a number, got " .. type(seconds), { seconds = seconds })
  end
  if nanoseconds ~= nil and math.type(nanoseconds) ~= "integer" then
    invalid("Datetime.from_epoch: nanoseconds must be an integer, got " .. tostring(nanoseconds),
      { nanoseconds = nanoseconds })
  end
  local s, ns = seconds, 0
  if math.type(seconds) == "float" then
    if seconds ~= seconds or seconds == math.huge or seconds == -math.huge then
      invalid("Datetime.from_epoch: seconds must be finite, got " .. tostring(seconds), { seconds = seconds })
    end
    local whole = math.floor(seconds)
    ns = math.floor((seconds - whole) * NS + 0.5)
    s = math.tointeger(whole)
    if s == nil then
      invalid("Datetime.from_epoch: " .. tostring(seconds) .. " seconds is out of range (int64)", { seconds = seconds })
    end
    if ns >= NS then s, ns = add_seconds(s, 1, "Datetime.from_epoch"), ns - NS end
  end
  if nanoseconds then
    ns = ns + nanoseconds
    s = add_seconds(s, ns // NS, "Datetime.from_epoch")
    ns = ns % NS
  end
  return make(s, ns)
end

--- Make a datetime from RFC 3339 text or from epoch seconds.
-- Also reachable as `Datetime(...)`: a string goes to `Datetime.parse`, numbers to
-- `Datetime.from_epoch`.
-- @tparam string|number value
-- @tparam[opt] integer nanoseconds with numeric seconds only
-- @treturn Datetime
-- @raise ValidationError for other arguments or invalid input
-- @usage local a = Datetime("2024-01-01T00:00:00Z")
-- local b = Datetime(1704067200)
function Datetime.new(value, nanoseconds)
  if type(value) == "string" and nanoseconds == nil then return Datetime.parse(value) end
  if type(value) == "number" then return Datetime.from_epoch(value, nanoseconds) end
  invalid("Datetime: expected RFC 3339 text or epoch seconds (and nanoseconds), got " .. type(value),
    { value = value })
end

--- The current time, from the system's realtime clock (nanosecond resolution where it has it).
-- @treturn Datetime
-- @usage local started = Datetime.now()
function Datetime.now()
  local seconds, nanoseconds = require("surrealdb.core").clock_realtime()
  return make(seconds, nanoseconds)
end

--- Seconds since the Unix epoch as a float (sub-microsecond digits are lost for today's dates).
-- @treturn number
-- @usage local elapsed = Datetime.now():to_epoch() - started:to_epoch()
function Datetime:to_epoch()
  return self.seconds + self.nanoseconds / NS
end

--- RFC 3339 text in UTC, as SurrealDB writes it (see the module description).
-- @treturn string such as `"2024-02-29T10:30:00.500Z"`
-- @usage print(Datetime.from_epoch(0):iso())  --> 1970-01-01T00:00:00Z
function Datetime:iso()
  local days, rest = self.seconds // DAY, self.seconds % DAY
  local y, m, d = civil_from_days(days)
  local year = (y >= 0 and y <= 9999) and string.format("%04d", y) or string.format("%+05d", y)
  local ns = self.nanoseconds
  local fraction = ""
  if ns ~= 0 then
    if ns % 1000000 == 0 then
      fraction = string.format(".%03d", ns // 1000000)
    elseif ns % 1000 == 0 then
      fraction = string.format(".%06d", ns // 1000)
    else
      fraction = string.format(".%09d", ns)
    end
  end
  return string.format("%s-%02d-%02dT%02d:%02d:%02d%sZ", year, m, d, rest // 3600, rest % 3600 // 60, rest % 60,
    fraction)
end

--- SurrealQL's form: `d'2024-02-29T10:30:00.500Z'`.
-- @treturn string
-- @usage print(Datetime.now())
function Datetime:__tostring()
  return "d'" .. self:iso() .. "'"
end

--- Two datetimes are equal when they are the same instant.
-- @treturn boolean
-- @usage assert(Datetime("2024-01-01T01:00:00+01:00") == Datetime("2024-01-01T00:00:00Z"))
function Datetime.__eq(a, b)
  return getmetatable(a) == Datetime and getmetatable(b) == Datetime and a.seconds == b.seconds
    and a.nanoseconds == b.nanoseconds
end

local function check_pair(a, b, op)
  if getmetatable(a) ~= Datetime or getmetatable(b) ~= Datetime then
    invalid("Datetime: cannot compare a Datetime with " .. (getmetatable(a) == Datetime and type(b) or type(a))
      .. " using " .. op)
  end
end

--- Earlier instants are smaller.
-- @treturn boolean
-- @usage assert(Datetime(0) < Datetime(1))
function Datetime.__lt(a, b)
  check_pair(a, b, "<")
  return compare_time(a, b) < 0
end

--- Earlier or equal instants.
-- @treturn boolean
-- @usage assert(Datetime(0) <= Datetime(0))
function Datetime.__le(a, b)
  check_pair(a, b, "<=")
  return compare_time(a, b) <= 0
end

local function duration_class()
  return require("surrealdb.types.duration")
end

local function shift(t, d, sign, op)
  local Duration = duration_class()
  if getmetatable(t) ~= Datetime or getmetatable(d) ~= Duration then
    invalid("Datetime: " .. op .. " needs a Datetime and a Duration (Datetime " .. op .. " Duration)")
  end
  local ns = t.nanoseconds + sign * d.nanoseconds
  local s = add_seconds(t.seconds, sign * d.seconds, "Datetime " .. op .. " Duration")
  return make(add_seconds(s, ns // NS, "Datetime " .. op .. " Duration"), ns % NS)
end

--- A datetime moved later by a duration: `Datetime + Duration` (or `Duration + Datetime`).
-- @treturn Datetime
-- @raise ValidationError for other operands, or on int64 overflow
-- @usage local deadline = Datetime.now() + Duration.parse("1h")
function Datetime.__add(a, b)
  if getmetatable(a) ~= Datetime then a, b = b, a end
  return shift(a, b, 1, "+")
end

--- A datetime moved earlier by a duration: `Datetime - Duration`.
-- @treturn Datetime
-- @raise ValidationError for other operands, or on int64 overflow
-- @usage local yesterday = Datetime.now() - Duration.parse("1d")
function Datetime.__sub(a, b)
  return shift(a, b, -1, "-")
end

return setmetatable(Datetime, { __call = function(_, ...) return Datetime.new(...) end })
