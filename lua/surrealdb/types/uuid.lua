--- A UUID as a SurrealDB value (CBOR tag 37 with 16 bytes; tag 9 text is read too).
--
-- Instances are `{ value = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" }` in canonical lowercase.
-- `tostring` is SurrealQL's `u'...'`. UUIDs order by their bytes (`<`), so version 7 UUIDs sort by
-- creation time.
--
-- Parsing is strict: exactly the 36-character hyphenated form, hexadecimal digits in either case.
-- Braces (`{...}`), the `urn:uuid:` prefix and the 32-digit form without hyphens are rejected.
--
-- Version 7 UUIDs (RFC 9562) carry the Unix time in milliseconds in their first 48 bits; within
-- one process they are strictly increasing: the 12 bits after the version hold a counter that
-- starts at a random value below 2048 each millisecond and counts up within it (RFC 9562,
-- section 6.2, method 1), borrowing the next millisecond if it runs out or the clock steps back.
--
-- @classmod surrealdb.types.uuid
-- @usage
-- local Uuid = require("surrealdb.types.uuid")
-- local id = Uuid.v7()
-- print(id, id:version())                 --> u'0190...'  7
-- assert(Uuid.parse(id.value) == id)
local errors = require("surrealdb.errors")

local Uuid = { __name = "surrealdb.Uuid" }
Uuid.__index = Uuid

local core
local function system()
  core = core or require("surrealdb.core")
  return core
end

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

local function from_raw(raw)
  local hex = raw:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  local value = hex:sub(1, 8) .. "-" .. hex:sub(9, 12) .. "-" .. hex:sub(13, 16) .. "-" .. hex:sub(17, 20) .. "-"
    .. hex:sub(21, 32)
  return setmetatable({ value = value }, Uuid)
end

local PATTERN = "^" .. string.rep("%x", 8) .. "%-" .. string.rep("%x", 4) .. "%-" .. string.rep("%x", 4) .. "%-"
  .. string.rep("%x", 4) .. "%-" .. string.rep("%x", 12) .. "$"

--- Parse the hyphenated text form of a UUID (either case).
-- Also reachable as `Uuid(text)` and `Uuid.new(text)`.
-- @tparam string text such as `"018fd1a2-7b7c-7cc0-8000-0123456789ab"`
-- @treturn Uuid
-- @raise ValidationError when `text` is not exactly that form
-- @usage local id = Uuid.parse("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11") -- value is lowercase
function Uuid.parse(text)
  if type(text) ~= "string" then
    invalid("Uuid.parse: expected a string, got " .. type(text), { input = text })
  end
  if not text:find(PATTERN) then
    invalid("Uuid.parse: invalid UUID " .. string.format("%q", text)
      .. ": expected 8-4-4-4-12 hexadecimal digits such as 0190a5c8-6a9e-7d4c-8000-0123456789ab", { input = text })
  end
  return setmetatable({ value = text:lower() }, Uuid)
end

Uuid.new = Uuid.parse

--- Make a UUID from its 16 bytes.
-- @tparam string raw exactly 16 bytes, most significant first
-- @treturn Uuid
-- @raise ValidationError when `raw` is not a 16-byte string
-- @usage local id = Uuid.from_bytes(string.rep("\0", 16)) -- the nil UUID
function Uuid.from_bytes(raw)
  if type(raw) ~= "string" or #raw ~= 16 then
    invalid("Uuid.from_bytes: expected a string of 16 bytes, got "
      .. (type(raw) == "string" and (#raw .. " bytes") or type(raw)), { input = raw })
  end
  return from_raw(raw)
end

--- A random (version 4) UUID, from the kernel's CSPRNG.
-- @treturn Uuid
-- @usage local id = Uuid.v4()
function Uuid.v4()
  local b = { system().random_bytes(16):byte(1, 16) }
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  return from_raw(string.char(table.unpack(b)))
end

--- A time-ordered (version 7) UUID: Unix milliseconds, a counter, random bits (made in the core).
-- Strictly increasing within the Lua state (see the module description).
-- @treturn Uuid
-- @usage local a, b = Uuid.v7(), Uuid.v7(); assert(a < b)
function Uuid.v7()
  return setmetatable({ value = system().uuid_v7() }, Uuid)
end

--- The 16 bytes of the UUID, most significant first.
-- @treturn string
-- @usage assert(#Uuid.v4():bytes() == 16)
function Uuid:bytes()
  return (self.value:gsub("-", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

--- The version number of the UUID (the 13th hexadecimal digit): 4, 7, ...
-- @treturn integer
-- @usage assert(Uuid.v4():version() == 4)
function Uuid:version()
  return tonumber(self.value:sub(15, 15), 16)
end

--- SurrealQL's form: `u'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'`.
-- @treturn string
-- @usage print(Uuid.v4())
function Uuid:__tostring()
  return "u'" .. self.value .. "'"
end

--- Two UUIDs are equal when their values are.
-- @treturn boolean
-- @usage assert(Uuid.parse(s) == Uuid.parse(s:upper()))
function Uuid.__eq(a, b)
  return getmetatable(a) == Uuid and getmetatable(b) == Uuid and a.value == b.value
end

local function check_pair(a, b, op)
  if getmetatable(a) ~= Uuid or getmetatable(b) ~= Uuid then
    invalid("Uuid: cannot compare a Uuid with " .. (getmetatable(a) == Uuid and type(b) or type(a))
      .. " using " .. op)
  end
end

--- Order by the bytes of the UUIDs (version 7 UUIDs sort by time).
-- @treturn boolean
-- @usage table.sort(ids) -- a list of Uuids
function Uuid.__lt(a, b)
  check_pair(a, b, "<")
  return a.value < b.value
end

--- Order by the bytes of the UUIDs.
-- @treturn boolean
-- @usage assert(Uuid.v7() <= Uuid.v7())
function Uuid.__le(a, b)
  check_pair(a, b, "<=")
  return a.value <= b.value
end

return setmetatable(Uuid, { __call = function(_, ...) return Uuid.new(...) end })
