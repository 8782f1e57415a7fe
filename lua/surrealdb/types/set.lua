--- A set of values (CBOR tag 56; SurrealDB 3.x).
--
-- Instances hold their items in the array part, `1..n`, so `#s` and `ipairs(s)` work; there are
-- no other fields. Constructors keep the first of deeply equal items and the order the items came
-- in. (SurrealDB keeps sets sorted in its own value order; a set read back from the server comes
-- in that order.) Equality ignores order.
--
-- `tostring` is SurrealQL 3's set literal: `{,}` when empty, `{1,}` with one item,
-- `{1, 'a', [2]}` otherwise.
--
-- @classmod surrealdb.types.set
-- @usage
-- local Set = require("surrealdb.types.set")
-- local tags = Set{ "a", "b", "a" }
-- print(#tags, tags)            --> 2  {'a', 'b'}
-- print(Set.of(1), Set{})       --> {1,}  {,}
local errors = require("surrealdb.errors")
local shape = require("surrealdb.types.shape")

local Set = { __name = "surrealdb.Set" }
Set.__index = Set

--- Whether the set holds an item deeply equal to `v`.
-- @param v any value
-- @treturn boolean
-- @usage if tags:has("admin") then ... end
function Set:has(v)
  for i = 1, #self do
    if shape.equal(self[i], v) then return true end
  end
  return false
end

--- Add an item unless the set already holds an equal one; returns the set.
-- @param v any value but nil
-- @treturn Set
-- @raise ValidationError when `v` is nil
-- @usage tags:add("new"):add("other")
function Set:add(v)
  if v == nil then
    errors.raise("ValidationError", "Set:add: cannot add nil (use surrealdb.null or surrealdb.NONE)")
  end
  if not self:has(v) then rawset(self, #self + 1, v) end
  return self
end

--- Make a set from the items of an array (the array is copied). Also reachable as `Set(items)`.
-- @tparam[opt] table items an array (keys 1..n only); an empty set when nil
-- @treturn Set
-- @raise ValidationError when `items` is not an array
-- @usage local s = Set.new({ 1, 2, 3 })
function Set.new(items)
  local set = setmetatable({}, Set)
  if items == nil then return set end
  if type(items) ~= "table" or (next(items) ~= nil and not shape.is_array(items) and getmetatable(items) ~= Set) then
    errors.raise("ValidationError", "Set: items must be an array (keys 1..n), got "
      .. (type(items) == "table" and "a table with other keys" or type(items)), { details = { items = items } })
  end
  for i = 1, #items do set:add(items[i]) end
  return set
end

--- Make a set of the arguments.
-- @param ... the items (none may be nil)
-- @treturn Set
-- @raise ValidationError when an argument is nil
-- @usage local s = Set.of("a", "b")
function Set.of(...)
  local set = setmetatable({}, Set)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v == nil then
      errors.raise("ValidationError", "Set.of: argument " .. i .. " is nil (use surrealdb.null or surrealdb.NONE)")
    end
    set:add(v)
  end
  return set
end

--- SurrealQL 3's form: `{,}`, `{1,}`, `{1, 2}`.
-- @treturn string
-- @usage print(Set{ 1, 2 })  --> {1, 2}
function Set:__tostring()
  local n = #self
  if n == 0 then return "{,}" end
  local surql = require("surrealdb.types").surql
  local out = {}
  for i = 1, n do out[i] = surql(self[i]) end
  if n == 1 then return "{" .. out[1] .. ",}" end
  return "{" .. table.concat(out, ", ") .. "}"
end

--- Two sets are equal when they hold deeply equal items, in any order.
-- @treturn boolean
-- @usage assert(Set{ 1, 2 } == Set{ 2, 1 })
function Set.__eq(a, b)
  if getmetatable(a) ~= Set or getmetatable(b) ~= Set or #a ~= #b then return false end
  for i = 1, #a do
    if not b:has(a[i]) then return false end
  end
  for i = 1, #b do
    if not a:has(b[i]) then return false end
  end
  return true
end

return setmetatable(Set, { __call = function(_, ...) return Set.new(...) end })
