--- CBOR encoding and decoding of SurrealDB values.
--
-- The codec itself is C (`surrealdb.core`): it writes CBOR straight from the Lua value and builds the
-- Lua value straight from the bytes, without an intermediate tree. This module hands it the value
-- types once and turns its failures into error objects (`surrealdb.errors`).
--
-- How values map (SurrealDB tags as the official JS codec writes them):
--
--  * `surrealdb.null` is CBOR null; `surrealdb.NONE` is tag 6 (null). Lua `nil` is never encoded: it
--    means absent, so an object field set to nil does not exist.
--  * Booleans; integers (full 64-bit, shortest form); floats (float64; float16/32 are read too).
--  * Strings are CBOR text and must be valid UTF-8: wrap binary data in `surrealdb.Bytes`, which is a
--    CBOR byte string.
--  * A table with keys 1..n and no other key is an array; a table with string keys only is an object;
--    the empty table is an empty object. `surrealdb.array(t)` marks an array (so an empty one stays an
--    array) and `surrealdb.object(t)` an object. Every decoded array carries the array marker.
--    Mixed keys, holes, keys that are neither strings nor integers, cycles, functions, coroutines and
--    userdata are EncodeErrors naming the path, such as `$.friends[2].name` (Lua indices).
--  * RecordID (tag 8), Table (7), Uuid (37; tag 9 read), Datetime (12; tag 0 read), Duration (14;
--    tag 13 read), Decimal (10), Range (49, bounds 50/51), Geometry (88..94), Future (15), File (55),
--    Set (56); any other tag decodes as Tagged and encodes back identically.
--  * `cbor.Encoded` (made by `cbor.encode_rows`) is CBOR already encoded: its bytes are written as
--    they are wherever it stands. Decoding never makes one.
--
-- Decoding accepts what RFC 8949 allows and SurrealDB could send: indefinite-length arrays, maps and
-- strings, float16/32, non-shortest heads. It rejects, as DecodeErrors naming the byte offset:
-- truncated input, lengths longer than the input left, nesting deeper than 512, reserved heads
-- (additional information 28..30), break codes out of place, indefinite strings whose chunks are not
-- definite strings of the same type, invalid UTF-8, integers beyond 64-bit signed, simple values
-- other than false/true/null/undefined, tags of SurrealDB with content of the wrong shape, and
-- trailing bytes. Map keys must be text strings or integers (an integer key becomes an integer key
-- of the Lua table); with a duplicate key the last value wins. CBOR undefined decodes as NONE.
--
-- @module surrealdb.cbor
-- @usage
-- local cbor = require("surrealdb.cbor")
-- local bytes = cbor.encode({ name = "Tobie", tags = { "a", "b" } })
-- local value = cbor.decode(bytes)
local core = require("surrealdb.core")
local errors = require("surrealdb.errors")
local null = require("surrealdb.types.null")
local shape = require("surrealdb.types.shape")
local RecordID = require("surrealdb.types.record_id")
local Table = require("surrealdb.types.table")
local Uuid = require("surrealdb.types.uuid")
local Datetime = require("surrealdb.types.datetime")
local Duration = require("surrealdb.types.duration")
local Decimal = require("surrealdb.types.decimal")
local Range = require("surrealdb.types.range")
local Geometry = require("surrealdb.types.geometry")
local Future = require("surrealdb.types.future")
local File = require("surrealdb.types.file")
local Set = require("surrealdb.types.set")
local Bytes = require("surrealdb.types.bytes")
local Tagged = require("surrealdb.types.tagged")

local cbor_encode, cbor_encode_rows, cbor_decode = core.cbor_encode, core.cbor_encode_rows, core.cbor_decode

local cbor = {}

--- CBOR already encoded, written verbatim where it stands in a value.
-- An instance is `{ bytes = string }`, the bytes of exactly one CBOR item. Only the codec makes them
-- (`cbor.encode_rows`), so the bytes are known to be valid; there is no public constructor, and
-- the fields are not to be changed. `#encoded` is the number of bytes; `tostring` gives
-- `cbor.Encoded(N bytes)`.
-- @table Encoded
-- @usage
-- local batch = cbor.encode_rows(rows, 1, #rows, 1024 * 1024)
-- local request = cbor.encode({ rows = batch }) -- the array of rows, not encoded again
-- print(batch, #batch) --> cbor.Encoded(5123 bytes)  5123
local Encoded = { __name = "surrealdb.cbor.Encoded" }
cbor.Encoded = Encoded

--- `cbor.Encoded(N bytes)`.
-- @treturn string
-- @usage print(batch) --> cbor.Encoded(5123 bytes)
function Encoded.__tostring(encoded)
  return "cbor.Encoded(" .. #encoded.bytes .. " bytes)"
end

--- The number of bytes.
-- @treturn integer
-- @usage assert(#batch == #batch.bytes)
function Encoded.__len(encoded)
  return #encoded.bytes
end

core.cbor_configure({
  null = null.null,
  NONE = null.NONE,
  array_mt = shape.array_mt,
  object_mt = shape.object_mt,
  RecordID = RecordID,
  Table = Table,
  Uuid = Uuid,
  Datetime = Datetime,
  Duration = Duration,
  Decimal = Decimal,
  Range = Range,
  Geometry = Geometry,
  Future = Future,
  File = File,
  Set = Set,
  Bytes = Bytes,
  Tagged = Tagged,
  Encoded = Encoded,
  parse_record_id = function(s) return RecordID.parse(s) end,
  parse_datetime = function(s) return Datetime.parse(s) end,
  parse_duration = function(s) return Duration.parse(s) end,
  parse_uuid = function(s) return Uuid.parse(s) end,
})

--- Encode a Lua value as CBOR.
-- @param value the value: a plain Lua value, a table, or a value of `surrealdb.types`
-- @treturn string the CBOR bytes
-- @raise EncodeError (`err.path` says where, such as `$.friends[2].name`)
-- @usage
-- local types = require("surrealdb.types")
-- local bytes = cbor.encode({ id = types.RecordID("person", 1), tags = types.array() })
function cbor.encode(value)
  local bytes, message, path = cbor_encode(value)
  if bytes == nil then
    errors.raise("EncodeError", message, { path = path }, 2)
  end
  return bytes
end

local function check_integer(name, value, min)
  local i = math.type(value) and math.tointeger(value)
  if i == nil or i < min then
    errors.raise("ValidationError", "cbor.encode_rows: " .. name .. " must be an integer of at least " .. min
      .. ", got " .. (type(value) == "number" and tostring(value) or type(value)), { details = { [name] = value } }, 3)
  end
  return i
end

--- Encode a run of rows as one CBOR array, as many as fit in a byte budget.
-- Encodes `rows[first]`, `rows[first + 1]`, ... (at most `count` rows, and none past `#rows`: a
-- `count` that reaches beyond the end stops at the last row) as one CBOR array, each row once, and
-- stops before the row that would make the whole array, head included, longer than `max_bytes`.
-- The bytes are those `cbor.encode(surrealdb.array({ rows[first], ..., rows[first + n - 1] }))`
-- gives. Rows are read raw (`rawget`, `rawlen`). The row after the last one that fits is encoded
-- too, to learn that it does not fit: an EncodeError of that row is raised by this call.
-- @tparam table rows an array of rows (any values `cbor.encode` takes, typically tables)
-- @tparam integer first the index of the first row, from 1 to `#rows`
-- @tparam integer count how many rows at most, at least 1
-- @tparam integer max_bytes the largest array to make, in bytes, at least 1 (`math.maxinteger` for
-- no limit)
-- @return[1] `cbor.Encoded`, the array of the `n` rows that fit
-- @treturn[1] integer `n`, at least 1: the rows `first .. first + n - 1` are in it
-- @treturn[1] integer the array's size in bytes (`#encoded`, at most `max_bytes`)
-- @return[2] nil when `rows[first]` alone does not fit (an array of it would be longer than
-- `max_bytes`)
-- @treturn[2] integer 0
-- @treturn[2] integer the size of `rows[first]` encoded alone (without the array head)
-- @raise EncodeError when a row cannot be encoded (`err.path` names it by its index in `rows`, such
-- as `$[1234].name`); ValidationError for bad arguments
-- @usage
-- -- a bulk insert in requests of at most 4 MiB each
-- local first = 1
-- while first <= #rows do
--   local batch, n, size = cbor.encode_rows(rows, first, 1000, 4 * 1024 * 1024)
--   if batch then
--     db:query("INSERT INTO person $rows", { rows = batch })
--   else
--     print(("row %d is too large (%d bytes)"):format(first, size))
--     n = 1
--   end
--   first = first + n
-- end
function cbor.encode_rows(rows, first, count, max_bytes)
  if type(rows) ~= "table" then
    errors.raise("ValidationError", "cbor.encode_rows: rows must be a table (an array of rows), got " .. type(rows),
      nil, 2)
  end
  first = check_integer("first", first, 1)
  count = check_integer("count", count, 1)
  max_bytes = check_integer("max_bytes", max_bytes, 1)
  if first > rawlen(rows) then
    errors.raise("ValidationError", "cbor.encode_rows: first (" .. first .. ") is past the last row (#rows is "
      .. rawlen(rows) .. ")", { details = { first = first } }, 2)
  end
  local encoded, n, size = cbor_encode_rows(rows, first, count, max_bytes)
  if encoded == false then
    errors.raise("EncodeError", n, { path = size }, 2)
  end
  return encoded, n, size
end

--- Decode CBOR bytes into a Lua value.
-- @tparam string bytes one complete CBOR value (untrusted input is fine)
-- @return the value
-- @raise DecodeError (`err.offset` is the 0-based byte offset where the input went wrong)
-- @usage
-- local value = cbor.decode("\xa1\x61\x61\x01") -- { a = 1 }
function cbor.decode(bytes)
  if type(bytes) ~= "string" then
    errors.raise("DecodeError", "cbor.decode expects a string, got " .. type(bytes), { offset = 0 }, 2)
  end
  local value, message, offset = cbor_decode(bytes)
  if value == nil then
    errors.raise("DecodeError", message, { offset = offset }, 2)
  end
  return value
end

return cbor
