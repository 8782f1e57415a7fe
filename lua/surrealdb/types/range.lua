--- A range of values (CBOR tag 49, bounds tag 50 included / tag 51 excluded / null unbounded).
--
-- Instances are `{ lower = bound or nil, upper = bound or nil }` where a bound is a plain table
-- `{ value = v, inclusive = boolean }` and nil means unbounded. `tostring` is SurrealQL's form:
-- `1..5` (upper excluded), `1..=5` (upper included), `1>..5` (lower excluded), `..5`, `1..` and
-- `..`. A range is also a record id (`person:1..5`, see `surrealdb.types.record_id`).
--
-- `Range(lower, upper)` takes bounds made by `Range.included(v)` / `Range.excluded(v)`, nil for
-- unbounded, or plain values, which default to SurrealQL's `a..b`: lower included, upper
-- excluded. A plain table whose keys are exactly `value` and a boolean `inclusive` is taken as a
-- bound; to use such an object as a value, wrap it in `Range.included`.
--
-- @classmod surrealdb.types.range
-- @usage
-- local Range = require("surrealdb.types.range")
-- print(Range(1, 5))                                     --> 1..5
-- print(Range(Range.excluded(1), Range.included(5)))     --> 1>..=5
-- print(Range(nil, 10))                                  --> ..10
local errors = require("surrealdb.errors")
local shape = require("surrealdb.types.shape")

local Range = { __name = "surrealdb.Range" }
Range.__index = Range

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

local function bound(value, inclusive, fname)
  if value == nil then
    invalid("Range." .. fname .. ": a bound needs a value (use nil in Range(lower, upper) for unbounded)")
  end
  return { value = value, inclusive = inclusive }
end

--- An included bound: `v` belongs to the range.
-- @param v the bound's value (not nil)
-- @treturn table `{ value = v, inclusive = true }`
-- @raise ValidationError when `v` is nil
-- @usage local r = Range(Range.included(1), Range.included(5)) -- 1..=5
function Range.included(v)
  return bound(v, true, "included")
end

--- An excluded bound: `v` does not belong to the range.
-- @param v the bound's value (not nil)
-- @treturn table `{ value = v, inclusive = false }`
-- @raise ValidationError when `v` is nil
-- @usage local r = Range(Range.excluded(0), 10) -- 0>..10
function Range.excluded(v)
  return bound(v, false, "excluded")
end

--- Whether `t` is a bound table `{ value = v, inclusive = boolean }` (plain, with exactly those keys).
-- @param t any value
-- @treturn boolean
-- @usage assert(Range.is_bound(Range.included(1)))
function Range.is_bound(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil or type(t.inclusive) ~= "boolean" or t.value == nil then
    return false
  end
  for k in pairs(t) do
    if k ~= "value" and k ~= "inclusive" then return false end
  end
  return true
end

local function to_bound(x, inclusive)
  if x == nil then return nil end
  if Range.is_bound(x) then return { value = x.value, inclusive = x.inclusive } end
  return { value = x, inclusive = inclusive }
end

--- Make a range. Also reachable as `Range(lower, upper)`.
-- @param[opt] lower a bound, a value (included) or nil (unbounded)
-- @param[opt] upper a bound, a value (excluded) or nil (unbounded)
-- @treturn Range
-- @usage local r = Range.new(Datetime("2024-01-01"), Datetime("2025-01-01"))
function Range.new(lower, upper)
  return setmetatable({ lower = to_bound(lower, true), upper = to_bound(upper, false) }, Range)
end

local function value_text(v, write)
  local text = write(v)
  if getmetatable(v) == Range then text = "(" .. text .. ")" end
  return text
end

--- The range as SurrealQL text, writing each bound's value with `write` (a function value -> text).
-- Used for ranges of values (`surql`) and for record id ranges (record key text).
-- @tparam function write
-- @treturn string
-- @usage local text = range:format(require("surrealdb.types").surql)
function Range:format(write)
  local out = {}
  local lower, upper = self.lower, self.upper
  if lower ~= nil then
    out[#out + 1] = value_text(lower.value, write)
    if not lower.inclusive then out[#out + 1] = ">" end
  end
  out[#out + 1] = ".."
  if upper ~= nil then
    if upper.inclusive then out[#out + 1] = "=" end
    out[#out + 1] = value_text(upper.value, write)
  end
  return table.concat(out)
end

--- SurrealQL's form: `1..5`, `'a'..='z'`, `1>..`, `..`.
-- @treturn string
-- @usage print(Range(1, 5))  --> 1..5
function Range:__tostring()
  return self:format(require("surrealdb.types").surql)
end

local function same_bound(a, b)
  if a == nil or b == nil then return a == nil and b == nil end
  return a.inclusive == b.inclusive and shape.equal(a.value, b.value)
end

--- Two ranges are equal when both bounds are (same inclusiveness, deeply equal values).
-- @treturn boolean
-- @usage assert(Range(1, 5) == Range(Range.included(1), Range.excluded(5)))
function Range.__eq(a, b)
  return getmetatable(a) == Range and getmetatable(b) == Range and same_bound(a.lower, b.lower)
    and same_bound(a.upper, b.upper)
end

return setmetatable(Range, { __call = function(_, ...) return Range.new(...) end })
