--- A CBOR tag the codec does not know, kept so that it encodes back identically.
--
-- Instances are `{ tag = integer, value = v }`. Tag numbers of 2^63 and more are held as the
-- negative integer with the same 64 bits (as the decoder gives them). SurrealQL has no literal for
-- such values: `tostring` is `Tagged(<tag>, <value as SurrealQL>)`, for reading only.
--
-- @classmod surrealdb.types.tagged
-- @usage
-- local Tagged = require("surrealdb.types.tagged")
-- local t = Tagged(1000, "payload")
-- print(t)  --> Tagged(1000, 'payload')
local errors = require("surrealdb.errors")
local shape = require("surrealdb.types.shape")

local Tagged = { __name = "surrealdb.Tagged" }
Tagged.__index = Tagged

--- Make a tagged value. Also reachable as `Tagged(tag, value)`.
-- @tparam integer tag the CBOR tag number
-- @param value the tagged content (not nil)
-- @treturn Tagged
-- @raise ValidationError when `tag` is not an integer or `value` is nil
-- @usage local t = Tagged.new(32, "https://surrealdb.com") -- a URI (tag 32)
function Tagged.new(tag, value)
  if math.type(tag) ~= "integer" then
    errors.raise("ValidationError", "Tagged: tag must be an integer, got " .. tostring(tag) .. " (" .. type(tag) .. ")",
      { details = { tag = tag } })
  end
  if value == nil then
    errors.raise("ValidationError", "Tagged: value must not be nil (use surrealdb.null)", { details = { tag = tag } })
  end
  return setmetatable({ tag = tag, value = value }, Tagged)
end

-- The tag as an unsigned 64-bit decimal number.
local function unsigned(n)
  if n >= 0 then return string.format("%d", n) end
  local q = (n >> 1) // 5
  local r = n - q * 10
  return string.format("%d%d", q, r)
end

--- `Tagged(<tag>, <value>)`: not SurrealQL, for reading only.
-- @treturn string
-- @usage print(Tagged(1000, { 1 }))  --> Tagged(1000, [1])
function Tagged:__tostring()
  return "Tagged(" .. unsigned(self.tag) .. ", " .. require("surrealdb.types").surql(self.value) .. ")"
end

--- Two tagged values are equal when tag and (deeply) value are.
-- @treturn boolean
-- @usage assert(Tagged(1, "a") == Tagged(1, "a"))
function Tagged.__eq(a, b)
  return getmetatable(a) == Tagged and getmetatable(b) == Tagged and a.tag == b.tag and shape.equal(a.value, b.value)
end

return setmetatable(Tagged, { __call = function(_, ...) return Tagged.new(...) end })
