--- Array and object markers, and the structural helpers every value type shares.
--
-- A Lua table is both SurrealDB's array and its object. The codec tells them apart by their keys
-- (see `surrealdb.cbor`); where the keys cannot tell (the empty table is an object), a marker
-- metatable does: `array(t)` marks `t` as an array and `object(t)` as an object. The decoder puts
-- `array_mt` on every array it decodes, so an array emptied later stays an array; decoded objects
-- are left plain.
--
-- This module also holds `equal`, the deep equality all value types use for their contents.
--
-- @module surrealdb.types.shape
-- @usage
-- local shape = require("surrealdb.types.shape")
-- local tags = shape.array()           -- an empty array, encoded as `[]`, not `{}`
-- local meta = shape.object({})        -- an empty object
-- assert(shape.is_array({ 1, 2 }))
local errors = require("surrealdb.errors")

local shape = {}

--- The marker metatable of arrays.
shape.array_mt = { __name = "surrealdb.array" }

--- The marker metatable of objects.
shape.object_mt = { __name = "surrealdb.object" }

local array_mt, object_mt = shape.array_mt, shape.object_mt

local function mark(t, mt, fname)
  if t == nil then return setmetatable({}, mt) end
  if type(t) ~= "table" then
    errors.raise("ValidationError", fname .. " expects a table or nil, got " .. type(t), { details = { value = t } })
  end
  local current = getmetatable(t)
  if current ~= nil and current ~= mt then
    errors.raise("ValidationError", fname .. " expects a plain table, got one with a metatable ("
      .. tostring(current.__name or current) .. ")", { details = { value = t } })
  end
  return setmetatable(t, mt)
end

--- Mark a table as an array (in place) and return it.
-- @tparam[opt] table t a plain table whose keys are 1..n; a new empty table when nil
-- @treturn table `t` (or the new table) with `array_mt`
-- @raise ValidationError when `t` is not a table, or already has another metatable
-- @usage local empty = shape.array() -- encodes as [] rather than {}
function shape.array(t)
  return mark(t, array_mt, "array")
end

--- Mark a table as an object (in place) and return it.
-- @tparam[opt] table t a plain table with string keys; a new empty table when nil
-- @treturn table `t` (or the new table) with `object_mt`
-- @raise ValidationError when `t` is not a table, or already has another metatable
-- @usage local meta = shape.object({ ["1"] = "one" })
function shape.object(t)
  return mark(t, object_mt, "object")
end

--- Whether `t` is an array as the codec sees it.
-- True for a table with `array_mt`, and for a plain table (no metatable) whose keys are exactly
-- 1..n with n >= 1. False for everything else, including the empty plain table (an object).
-- @param t any value
-- @treturn boolean
-- @usage assert(shape.is_array({ "a", "b" }) and not shape.is_array({}))
function shape.is_array(t)
  if type(t) ~= "table" then return false end
  local mt = getmetatable(t)
  if mt == array_mt then return true end
  if mt ~= nil then return false end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local MAX_DEPTH = 512

local function kind_of(t)
  local mt = getmetatable(t)
  if mt == nil then return "plain" end
  if mt == array_mt then return "array" end
  if mt == object_mt then return "object" end
  return nil -- a value type or a foreign class
end

local function deep_equal(a, b, depth)
  if rawequal(a, b) then return true end
  local ta = type(a)
  if ta ~= type(b) then return false end
  if ta ~= "table" then return a == b end
  local ka, kb = kind_of(a), kind_of(b)
  if ka == nil or kb == nil then
    -- Value types compare with their own __eq (which comes back here for their contents).
    return getmetatable(a) == getmetatable(b) and a == b
  end
  if (ka == "array" and kb == "object") or (ka == "object" and kb == "array") then return false end
  if depth >= MAX_DEPTH then
    errors.raise("ValidationError", "equal: values nested deeper than " .. MAX_DEPTH .. " levels (a cycle?)")
  end
  for k, v in pairs(a) do
    local w = rawget(b, k)
    if w == nil or not deep_equal(v, w, depth + 1) then return false end
  end
  for k in pairs(b) do
    if rawget(a, k) == nil then return false end
  end
  return true
end

--- Deep equality of two SurrealDB values as Lua holds them.
-- Plain tables and marked arrays/objects are equal when they have the same keys with equal values
-- (an array and an object are never equal; a plain table is equal to either when the contents
-- match). Values of the types (RecordID, Uuid, ...) compare with their `__eq`. Numbers compare as
-- Lua does (`1 == 1.0`).
-- @param a any value
-- @param b any value
-- @treturn boolean
-- @raise ValidationError for structures nested deeper than 512 levels (a cycle)
-- @usage assert(shape.equal({ 1, { a = "x" } }, shape.array({ 1, { a = "x" } })))
function shape.equal(a, b)
  return deep_equal(a, b, 0)
end

--- Order two values held as whole `seconds` and `nanoseconds` (datetimes, durations).
-- @return -1, 0 or 1 as `a` is before, the same as or after `b`
-- @usage assert(shape.compare_time({ seconds = 1, nanoseconds = 5 }, { seconds = 1, nanoseconds = 9 }) == -1)
function shape.compare_time(a, b)
  if a.seconds ~= b.seconds then return a.seconds < b.seconds and -1 or 1 end
  if a.nanoseconds ~= b.nanoseconds then return a.nanoseconds < b.nanoseconds and -1 or 1 end
  return 0
end

return shape
