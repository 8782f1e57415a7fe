--- SurrealDB's value types for Lua, and SurrealQL text of any value.
--
-- Exports every value type (each module returns its class, which is also its instances'
-- metatable; see `/tmp/contract.md`), the `null`/`NONE` sentinels, the array/object markers, and
-- the one place where SurrealQL text is written: `surql(value)` and the escaping rules the types'
-- `__tostring`s share.
--
-- SurrealQL forms follow SurrealDB's own display (`surrealdb/types`, 3.0), with one deliberate
-- difference: identifiers and record keys that need escaping are written `⟨...⟩`, the form the
-- official SDKs write, where SurrealDB 2.x/3.x itself prints backticks (`` `...` ``). The rules of
-- *when* to escape are SurrealDB's; both forms parse to the same identifier. Text that holds a `⟩`
-- is written in backticks instead, since the 3.0 parser rejects the `\⟩` escape.
--
-- @module surrealdb.types
-- @usage
-- local types = require("surrealdb.types")
-- local id = types.RecordID("person", "tobie")
-- print(types.surql({ id = id, tags = types.array({ "a" }) }))  --> { id: person:tobie, tags: ['a'] }
local errors = require("surrealdb.errors")
local null = require("surrealdb.types.null")
local shape = require("surrealdb.types.shape")

local types = {}

types.null = null.null
types.NONE = null.NONE
types.array = shape.array
types.object = shape.object
types.array_mt = shape.array_mt
types.object_mt = shape.object_mt
types.is_array = shape.is_array
types.equal = shape.equal

types.RecordID = require("surrealdb.types.record_id")
types.Table = require("surrealdb.types.table")
types.Uuid = require("surrealdb.types.uuid")
types.Datetime = require("surrealdb.types.datetime")
types.Duration = require("surrealdb.types.duration")
types.Decimal = require("surrealdb.types.decimal")
types.Range = require("surrealdb.types.range")
types.Geometry = require("surrealdb.types.geometry")
types.Future = require("surrealdb.types.future")
types.File = require("surrealdb.types.file")
types.Set = require("surrealdb.types.set")
types.Bytes = require("surrealdb.types.bytes")
types.Tagged = require("surrealdb.types.tagged")

local classes = {}
for _, name in ipairs({ "RecordID", "Table", "Uuid", "Datetime", "Duration", "Decimal", "Range", "Geometry",
  "Future", "File", "Set", "Bytes", "Tagged" }) do
  classes[types[name]] = name
end

--- The name of the value type of `v` ("RecordID", "Uuid", ...), or nil for other values.
-- @param v any value
-- @treturn string|nil
-- @usage if types.type_of(v) == "RecordID" then print(v.tb) end
function types.type_of(v)
  if type(v) ~= "table" then return nil end
  return classes[getmetatable(v)]
end

-- Escapes of SurrealDB's string writer; `close` (the closing delimiter) gets a backslash too.
local escapes = {
  ["\0"] = "\\0", ["\r"] = "\\r", ["\t"] = "\\t", ["\n"] = "\\n", ["\b"] = "\\u{8}", ["\f"] = "\\f",
  ["\\"] = "\\\\",
}

local function escape_text(s, close)
  s = s:gsub("[\0\r\t\n\b\f\\]", escapes)
  return (s:gsub(close, "\\" .. close))
end

-- `⟨...⟩`, or backticks when the text holds a `⟩`: SurrealDB 3.0's parser rejects the `\⟩` escape,
-- while `` \` `` inside backticks parses in every version.
local function bracketed(s)
  if s:find("⟩", 1, true) then return "`" .. escape_text(s, "`") .. "`" end
  return "⟨" .. escape_text(s, "⟩") .. "⟩"
end

local function is_plain_ident(s)
  return s:find("^[A-Za-z_][A-Za-z0-9_]*$") ~= nil and s ~= "NaN" and s ~= "Infinity"
end

--- The SurrealQL text of an identifier such as a table name.
-- Written as is when it is a plain identifier (ASCII letters, digits and `_`, not starting with a
-- digit, not `NaN` or `Infinity`); otherwise escaped as `⟨...⟩`. Keywords are not escaped (as in
-- SurrealDB's display of values): where a table name may stand for a keyword, prefer `type::table`.
-- @tparam string name
-- @treturn string
-- @usage types.escape_ident("person")      --> person
-- types.escape_ident("my table")           --> ⟨my table⟩
function types.escape_ident(name)
  if is_plain_ident(name) then return name end
  return bracketed(name)
end

--- The SurrealQL text of a record id's string key.
-- Written as is when made of ASCII letters, digits and `_` and not only of digits and `_` (which
-- would read as a number), and not `NaN` or `Infinity`; otherwise escaped as `⟨...⟩`.
-- @tparam string key
-- @treturn string
-- @usage types.escape_record_key("tobie")  --> tobie
-- types.escape_record_key("100")           --> ⟨100⟩
function types.escape_record_key(key)
  if key:find("^[A-Za-z0-9_]+$") and key:find("[^0-9_]") and key ~= "NaN" and key ~= "Infinity" then
    return key
  end
  return bracketed(key)
end

--- The SurrealQL text of an object key: plain identifiers as is, others in double quotes.
-- @tparam string key
-- @treturn string
-- @usage types.escape_object_key("first name")  --> "first name"
function types.escape_object_key(key)
  if is_plain_ident(key) then return key end
  return '"' .. escape_text(key, '"') .. '"'
end

--- The SurrealQL literal of a string: single quotes, or double quotes when it contains `'`.
-- @tparam string s
-- @treturn string
-- @usage types.quote_string("it's")  --> "it's"
function types.quote_string(s)
  local quote = s:find("'", 1, true) and '"' or "'"
  return quote .. escape_text(s, quote) .. quote
end

--- The SurrealQL literal of a float: the shortest decimal text that reads back as the same float,
-- never in exponent form, with the `f` suffix; `NaN`, `Infinity` and `-Infinity` for the others.
-- @tparam number x (an integer is taken as the float of the same value)
-- @treturn string
-- @usage types.float_text(1.5)   --> 1.5f
-- types.float_text(2)            --> 2f
function types.float_text(x)
  x = x * 1.0 -- a float, keeping the sign of -0.0
  if x ~= x then return "NaN" end
  if x == math.huge then return "Infinity" end
  if x == -math.huge then return "-Infinity" end
  local text
  for precision = 0, 16 do
    text = string.format("%." .. precision .. "e", x)
    if tonumber(text) == x then break end
  end
  local sign, int, frac, exp = text:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = (int .. frac):gsub("0+$", "")
  if digits == "" then return sign .. "0f" end
  local point = tonumber(exp) + 1 -- digits before the decimal point
  local body
  if point <= 0 then
    body = "0." .. string.rep("0", -point) .. digits
  elseif point >= #digits then
    body = digits .. string.rep("0", point - #digits)
  else
    body = digits:sub(1, point) .. "." .. digits:sub(point + 1)
  end
  return sign .. body .. "f"
end

--- The SurrealQL literal of a number: integers as decimal digits, floats as `types.float_text`.
-- @tparam number x
-- @treturn string
-- @usage types.number_text(3)  --> 3
function types.number_text(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  return types.float_text(x)
end

local MAX_DEPTH = 512

--- Byte order of strings (as SurrealDB sorts object keys), whatever the C locale's collation.
-- @usage table.sort(keys, types.byte_less)
function types.byte_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function write(value, out, path, depth)
  local kind = type(value)
  if kind == "nil" then
    out[#out + 1] = "NONE"
  elseif kind == "boolean" then
    out[#out + 1] = value and "true" or "false"
  elseif kind == "number" then
    out[#out + 1] = types.number_text(value)
  elseif kind == "string" then
    out[#out + 1] = types.quote_string(value)
  elseif kind == "table" then
    local mt = getmetatable(value)
    if value == null.null or value == null.NONE or classes[mt] then
      out[#out + 1] = tostring(value)
      return
    end
    if mt ~= nil and mt ~= shape.array_mt and mt ~= shape.object_mt then
      errors.raise("ValidationError", "surql: cannot write a table with a foreign metatable ("
        .. tostring(type(mt) == "table" and mt.__name or mt) .. ") at " .. path, { details = { path = path } })
    end
    if depth >= MAX_DEPTH then
      errors.raise("ValidationError", "surql: value nested deeper than " .. MAX_DEPTH .. " levels (a cycle?) at "
        .. path, { details = { path = path } })
    end
    if mt == shape.array_mt or (mt == nil and shape.is_array(value)) then
      local n = #value
      for k in pairs(value) do
        if math.type(k) ~= "integer" or k < 1 or k > n then
          errors.raise("ValidationError", "surql: array at " .. path .. " has a key that is not 1.." .. n .. ": "
            .. tostring(k), { details = { path = path, key = k } })
        end
      end
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = ", " end
        write(value[i], out, path .. "[" .. i .. "]", depth + 1)
      end
      out[#out + 1] = "]"
      return
    end
    local keys = {}
    for k in pairs(value) do
      if type(k) ~= "string" then
        errors.raise("ValidationError", "surql: object at " .. path .. " has a key that is not a string: "
          .. tostring(k) .. " (" .. type(k) .. ")", { details = { path = path, key = k } })
      end
      keys[#keys + 1] = k
    end
    if #keys == 0 then
      out[#out + 1] = "{  }"
      return
    end
    table.sort(keys, types.byte_less)
    out[#out + 1] = "{ "
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = ", " end
      out[#out + 1] = types.escape_object_key(k)
      out[#out + 1] = ": "
      write(value[k], out, path .. "." .. k, depth + 1)
    end
    out[#out + 1] = " }"
  else
    errors.raise("ValidationError", "surql: cannot write a " .. kind .. " at " .. path, { details = { path = path } })
  end
end

--- The SurrealQL literal text of any value.
-- `nil` is `NONE`; strings are quoted; integers are digits and floats carry the `f` suffix;
-- arrays are `[a, b]`; objects are `{ key: value }` with their keys in byte order (as SurrealDB
-- prints them; the empty object is `{  }`); values of the types are their `tostring`.
-- @param value any value
-- @treturn string
-- @raise ValidationError for functions, coroutines, userdata, tables with mixed keys and cycles
-- @usage types.surql({ 1, "a", { b = true } })  --> [1, 'a', { b: true }]
function types.surql(value)
  local out = {}
  write(value, out, "$", 0)
  return table.concat(out)
end

return types
