--- Binary data (a CBOR byte string; SurrealDB's `bytes`).
--
-- Lua strings are bytes, but the codec sends plain strings as CBOR text, which must be UTF-8:
-- wrap binary data in `Bytes` to send it as bytes. Byte strings from the server decode to Bytes.
-- Instances are `{ data = string }`; `#b` is the length in bytes. `tostring` is SurrealQL's
-- `b"..."` with upper-case hexadecimal digits.
--
-- @classmod surrealdb.types.bytes
-- @usage
-- local Bytes = require("surrealdb.types.bytes")
-- local b = Bytes("\1\2\255")
-- print(b, #b, b:hex())  --> b"0102FF"  3  0102ff
local errors = require("surrealdb.errors")

local Bytes = { __name = "surrealdb.Bytes" }
Bytes.__index = Bytes

--- Wrap raw bytes. Also reachable as `Bytes(data)`.
-- @tparam string data any bytes
-- @treturn Bytes
-- @raise ValidationError when `data` is not a string
-- @usage local b = Bytes.new(io.open("photo.jpg", "rb"):read("a"))
function Bytes.new(data)
  if type(data) ~= "string" then
    errors.raise("ValidationError", "Bytes: data must be a string of bytes, got " .. type(data),
      { details = { data = data } })
  end
  return setmetatable({ data = data }, Bytes)
end

--- Make bytes from hexadecimal text (either case, an even number of digits).
-- @tparam string hex such as `"0102ff"`
-- @treturn Bytes
-- @raise ValidationError for other characters or an odd number of digits
-- @usage local b = Bytes.from_hex("cafe")
function Bytes.from_hex(hex)
  if type(hex) ~= "string" or #hex % 2 ~= 0 or hex:find("[^%x]") then
    errors.raise("ValidationError", "Bytes.from_hex: expected an even number of hexadecimal digits, got "
      .. (type(hex) == "string" and string.format("%q", hex) or type(hex)), { details = { input = hex } })
  end
  return Bytes.new((hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)))
end

--- The bytes as lower-case hexadecimal text.
-- @treturn string
-- @usage assert(Bytes("\255"):hex() == "ff")
function Bytes:hex()
  return (self.data:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

--- SurrealQL's form: `b"CAFE"`.
-- @treturn string
-- @usage print(Bytes("\202\254"))  --> b"CAFE"
function Bytes:__tostring()
  return 'b"' .. self:hex():upper() .. '"'
end

--- The length in bytes.
-- @treturn integer
-- @usage assert(#Bytes("abc") == 3)
function Bytes:__len()
  return #self.data
end

--- Two Bytes are equal when their data are.
-- @treturn boolean
-- @usage assert(Bytes("a") == Bytes("a"))
function Bytes.__eq(a, b)
  return getmetatable(a) == Bytes and getmetatable(b) == Bytes and a.data == b.data
end

return setmetatable(Bytes, { __call = function(_, ...) return Bytes.new(...) end })
