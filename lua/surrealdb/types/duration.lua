--- A non-negative span of time with nanosecond precision (CBOR tag 14; tag 13 text is read too).
--
-- Instances are `{ seconds = integer >= 0, nanoseconds = integer 0..999999999 }`. SurrealDB
-- holds up to 2^64-1 seconds; Lua integers stop at 2^63-1, and anything beyond is a
-- ValidationError here.
--
-- Text form, as SurrealDB reads and prints it: a sequence of `<digits><unit>` with the units
-- `ns`, `us` or `µs` (U+00B5), `ms`, `s`, `m`, `h`, `d`, `w` (7 days) and `y` (365 days), in any
-- order and repeated (they add up); digits may contain `_` after the first one (`1_000ms`); `0` alone
-- is zero. `tostring` writes the largest units first, each at most once, skipping zero parts, with
-- `µs` for microseconds and `0ns` for zero: `1y2w3d4h5m6s7ms8µs9ns`.
--
-- @classmod surrealdb.types.duration
-- @usage
-- local Duration = require("surrealdb.types.duration")
-- local d = Duration.parse("1h30m")
-- print(d, d:total_seconds())          --> 1h30m  5400.0
-- print(Duration.from_seconds(1.5))    --> 1s500ms
local errors = require("surrealdb.errors")
local compare_time = require("surrealdb.types.shape").compare_time

local Duration = { __name = "surrealdb.Duration" }
Duration.__index = Duration

local NS = 1000000000
local MAX = math.maxinteger
local MINUTE, HOUR, DAY, WEEK, YEAR = 60, 3600, 86400, 604800, 31536000
local MICRO = "\194\181" -- µ, U+00B5 MICRO SIGN, as SurrealDB writes it

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

local function overflow(what, details)
  invalid(what .. ": the duration is too large (more than 2^63-1 seconds)", details)
end

local function make(seconds, nanoseconds)
  return setmetatable({ seconds = seconds, nanoseconds = nanoseconds }, Duration)
end

-- Units worth whole seconds, and units below the second: { nanoseconds per unit, units per second }.
local SECONDS = { y = YEAR, w = WEEK, d = DAY, h = HOUR, m = MINUTE, s = 1 }
local FRACTIONS = { ms = { 1000000, 1000 }, us = { 1000, 1000000 }, [MICRO .. "s"] = { 1000, 1000000 },
  ns = { 1, NS } }

--- Parse SurrealDB's duration text (see the module description).
-- @tparam string text such as `"1h30m"`, `"1s500ms"`, `"2w"`, `"250µs"`
-- @treturn Duration
-- @raise ValidationError naming the input and the position of the problem, or on overflow
-- @usage local d = Duration.parse("1d12h")
function Duration.parse(text)
  if type(text) ~= "string" then
    invalid("Duration.parse: expected a string, got " .. type(text), { input = text })
  end
  local function fail(pos, what)
    invalid("Duration.parse: invalid duration " .. string.format("%q", text) .. ": " .. what .. " (at byte " .. pos
      .. ")", { input = text, position = pos })
  end
  if text == "" then fail(1, "empty text") end
  if text == "0" then return make(0, 0) end
  local seconds, nanoseconds, pos = 0, 0, 1
  while pos <= #text do
    local digits = text:match("^%d[%d_]*", pos)
    if not digits then fail(pos, "expected digits") end
    local value = math.tointeger(tonumber((digits:gsub("_", ""))))
    if value == nil then overflow("Duration.parse", { input = text }) end
    pos = pos + #digits
    local unit = text:match("^[mun]s", pos) or (text:sub(pos, pos + 2) == MICRO .. "s" and MICRO .. "s")
      or text:match("^[ywdhms]", pos)
    if not unit then
      fail(pos, "expected a unit (ns, us, µs, ms, s, m, h, d, w, y) after " .. digits)
    end
    pos = pos + #unit
    local per = SECONDS[unit]
    if per then
      if value > (MAX - seconds) // per then overflow("Duration.parse", { input = text }) end
      seconds = seconds + value * per
    else
      local fraction = FRACTIONS[unit]
      local whole = value // fraction[2]
      if whole > MAX - seconds then overflow("Duration.parse", { input = text }) end
      seconds = seconds + whole
      nanoseconds = nanoseconds + (value % fraction[2]) * fraction[1]
      if nanoseconds >= NS then
        if seconds == MAX then overflow("Duration.parse", { input = text }) end
        seconds, nanoseconds = seconds + 1, nanoseconds - NS
      end
    end
  end
  return make(seconds, nanoseconds)
end

--- Make a duration from a number of seconds.
-- Integers are exact; floats are split into whole seconds and nanoseconds rounded to the nearest.
-- @tparam number seconds >= 0
-- @treturn Duration
-- @raise ValidationError for negative, non-finite or too large values
-- @usage print(Duration.from_seconds(90))     --> 1m30s
-- print(Duration.from_seconds(0.25))          --> 250ms
function Duration.from_seconds(seconds)
  if type(seconds) ~= "number" then
    invalid("Duration.from_seconds: expected a number, got " .. type(seconds), { seconds = seconds })
  end
  if seconds ~= seconds or seconds < 0 then
    invalid("Duration.from_seconds: a duration cannot be negative or NaN, got " .. tostring(seconds),
      { seconds = seconds })
  end
  if math.type(seconds) == "integer" then return make(seconds, 0) end
  local whole = math.floor(seconds)
  local s = math.tointeger(whole)
  if s == nil then overflow("Duration.from_seconds", { seconds = seconds }) end
  local ns = math.floor((seconds - whole) * NS + 0.5)
  if ns >= NS then
    if s == MAX then overflow("Duration.from_seconds", { seconds = seconds }) end
    s, ns = s + 1, ns - NS
  end
  return make(s, ns)
end

--- Make a duration from seconds and nanoseconds, from text, or from float seconds.
-- Also reachable as `Duration(...)`. A string goes to `Duration.parse`; a float alone to
-- `Duration.from_seconds`; otherwise both are non-negative integers, and nanoseconds of a second
-- or more are carried into the seconds.
-- @tparam integer|number|string seconds
-- @tparam[opt=0] integer nanoseconds
-- @treturn Duration
-- @raise ValidationError for negative or non-integer parts, or on overflow
-- @usage local d = Duration(90, 500000000)   -- 1m30s500ms
-- local e = Duration("1h")
function Duration.new(seconds, nanoseconds)
  if type(seconds) == "string" and nanoseconds == nil then return Duration.parse(seconds) end
  if math.type(seconds) == "float" and nanoseconds == nil then return Duration.from_seconds(seconds) end
  nanoseconds = nanoseconds or 0
  if math.type(seconds) ~= "integer" or math.type(nanoseconds) ~= "integer" then
    invalid("Duration: expected integer seconds and nanoseconds, got " .. tostring(seconds) .. " ("
      .. type(seconds) .. ") and " .. tostring(nanoseconds) .. " (" .. type(nanoseconds) .. ")",
      { seconds = seconds, nanoseconds = nanoseconds })
  end
  if seconds < 0 or nanoseconds < 0 then
    invalid("Duration: a duration cannot be negative, got " .. seconds .. " s and " .. nanoseconds .. " ns",
      { seconds = seconds, nanoseconds = nanoseconds })
  end
  local carry = nanoseconds // NS
  if carry > MAX - seconds then overflow("Duration", { seconds = seconds, nanoseconds = nanoseconds }) end
  return make(seconds + carry, nanoseconds % NS)
end

--- The duration in seconds, as a float.
-- @treturn number
-- @usage assert(Duration.parse("1m30s"):total_seconds() == 90.0)
function Duration:total_seconds()
  return self.seconds + self.nanoseconds / NS
end

--- The duration in nanoseconds, as an integer.
-- @treturn integer
-- @raise ValidationError when it does not fit in an integer (durations over about 292 years)
-- @usage assert(Duration.parse("1ms"):nanoseconds_total() == 1000000)
function Duration:nanoseconds_total()
  if self.seconds > (MAX - self.nanoseconds) // NS then
    invalid("Duration: " .. tostring(self) .. " in nanoseconds does not fit in a 64-bit integer",
      { seconds = self.seconds, nanoseconds = self.nanoseconds })
  end
  return self.seconds * NS + self.nanoseconds
end

--- SurrealDB's text of the duration (see the module description).
-- @treturn string
-- @usage print(Duration(3661))  --> 1h1m1s
function Duration:__tostring()
  local s, ns = self.seconds, self.nanoseconds
  if s == 0 and ns == 0 then return "0ns" end
  local out = {}
  local function part(value, unit)
    if value > 0 then out[#out + 1] = string.format("%d%s", value, unit) end
  end
  part(s // YEAR, "y"); s = s % YEAR
  part(s // WEEK, "w"); s = s % WEEK
  part(s // DAY, "d"); s = s % DAY
  part(s // HOUR, "h"); s = s % HOUR
  part(s // MINUTE, "m")
  part(s % MINUTE, "s")
  part(ns // 1000000, "ms")
  part(ns // 1000 % 1000, MICRO .. "s")
  part(ns % 1000, "ns")
  return table.concat(out)
end

--- Two durations are equal when they are the same length of time.
-- @treturn boolean
-- @usage assert(Duration.parse("60s") == Duration.parse("1m"))
function Duration.__eq(a, b)
  return getmetatable(a) == Duration and getmetatable(b) == Duration and a.seconds == b.seconds
    and a.nanoseconds == b.nanoseconds
end

local function check_pair(a, b, op)
  if getmetatable(a) ~= Duration or getmetatable(b) ~= Duration then
    invalid("Duration: " .. op .. " needs two Durations, got " .. (getmetatable(a) == Duration and type(b) or type(a)))
  end
end

--- Shorter durations are smaller.
-- @treturn boolean
-- @usage assert(Duration.parse("59s") < Duration.parse("1m"))
function Duration.__lt(a, b)
  check_pair(a, b, "<")
  return compare_time(a, b) < 0
end

--- Shorter or equal durations.
-- @treturn boolean
-- @usage assert(Duration(1) <= Duration(1))
function Duration.__le(a, b)
  check_pair(a, b, "<=")
  return compare_time(a, b) <= 0
end

--- The sum of two durations; `Duration + Datetime` is the datetime moved later.
-- @treturn Duration|Datetime
-- @raise ValidationError on overflow or for other operands
-- @usage local total = Duration.parse("1h") + Duration.parse("30m")
function Duration.__add(a, b)
  local Datetime = require("surrealdb.types.datetime")
  if getmetatable(a) == Datetime or getmetatable(b) == Datetime then return Datetime.__add(a, b) end
  check_pair(a, b, "+")
  local ns = a.nanoseconds + b.nanoseconds
  local carry = ns // NS
  if b.seconds > MAX - a.seconds - carry then overflow("Duration +", {}) end
  return make(a.seconds + b.seconds + carry, ns % NS)
end

--- The difference of two durations, which must not be negative.
-- @treturn Duration
-- @raise ValidationError when `b` is longer than `a`, or for other operands
-- @usage local rest = Duration.parse("1h") - Duration.parse("15m")  -- 45m
function Duration.__sub(a, b)
  check_pair(a, b, "-")
  if a < b then
    invalid("Duration: " .. tostring(a) .. " - " .. tostring(b) .. " would be negative, and durations cannot be")
  end
  local ns = a.nanoseconds - b.nanoseconds
  return make(a.seconds - b.seconds + ns // NS, ns % NS)
end

return setmetatable(Duration, { __call = function(_, ...) return Duration.new(...) end })
