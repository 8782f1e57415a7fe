--- A record id: a table name and an id (CBOR tag 8 `[tb, id]`).
--
-- Instances are `{ tb = string, id = value }`; the id is a string, an integer, an array, an object,
-- a Uuid or a Range (a range of ids, such as `person:1..5`). Equality compares `tb` and, deeply,
-- `id`.
--
-- `tostring` is SurrealQL's form, escaped by SurrealDB's rules (see `surrealdb.types`):
-- `person:tobie`, `person:100` (an integer id), `person:⟨100⟩` (a string id that reads as a
-- number), `person:⟨complex id⟩`, `⟨my table⟩:1`, `person:u'0190...'`, `person:['a', 1]`,
-- `person:{ a: 1 }`, `person:1..5`.
--
-- `RecordID.parse` reads that form back, and more of SurrealQL: `⟨...⟩` and `` `...` `` escaped
-- table names and ids (with SurrealQL's backslash escapes), integer ids (`person:-5`), ids of
-- ASCII letters, digits and `_` (an id of digits only is an integer), `u'...'`/`u"..."` UUIDs,
-- array ids and object ids made of literals (strings, numbers with their `f`/`dec` suffixes,
-- durations, `true`/`false`/`NULL`/`NONE`, `u''`/`d''`/`r''`/`b""` strings, record ids, nested
-- arrays and objects), and ranges of any of these (`person:1..5`, `person:a>..=z`, `person:..5`).
-- No whitespace is allowed around the id, only inside arrays and objects.
--
-- @classmod surrealdb.types.record_id
-- @usage
-- local RecordID = require("surrealdb.types.record_id")
-- local tobie = RecordID("person", "tobie")
-- print(tobie, tobie.tb, tobie.id)                  --> person:tobie  person  tobie
-- assert(RecordID.parse("person:tobie") == tobie)
-- print(RecordID("person", "complex id"))           --> person:⟨complex id⟩
-- print(RecordID.parse("temperature:['London', 5]").id[2]) --> 5
local errors = require("surrealdb.errors")
local null = require("surrealdb.types.null")
local shape = require("surrealdb.types.shape")
local Table = require("surrealdb.types.table")
local Uuid = require("surrealdb.types.uuid")
local Range = require("surrealdb.types.range")
local Datetime = require("surrealdb.types.datetime")
local Duration = require("surrealdb.types.duration")
local Decimal = require("surrealdb.types.decimal")
local Bytes = require("surrealdb.types.bytes")

local RecordID = { __name = "surrealdb.RecordID" }
RecordID.__index = RecordID

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

local function check_id(id, context)
  local kind = type(id)
  if kind == "string" then return id end
  if kind == "number" then
    local int = math.tointeger(id)
    if int then return int end
    invalid(context .. ": a numeric id must be an integer, got " .. tostring(id), { id = id })
  end
  if kind == "table" then
    local mt = getmetatable(id)
    if mt == nil or mt == shape.array_mt or mt == shape.object_mt or mt == Uuid or mt == Range then return id end
  end
  local what = kind
  if kind == "table" then
    local mt = getmetatable(id)
    what = type(mt) == "table" and tostring(mt.__name) or tostring(mt)
  end
  invalid(context .. ": the id must be a string, an integer, an array, an object, a Uuid or a Range, got " .. what,
    { id = id })
end

--- Make a record id. Also reachable as `RecordID(tb, id)`.
-- @tparam string|Table tb the table (a non-empty name or a Table)
-- @param id a string, an integer (a float with an integral value is taken as that integer), an
-- array, an object, a Uuid or a Range
-- @treturn RecordID
-- @raise ValidationError naming the bad argument
-- @usage local a = RecordID.new("person", "tobie")
-- local b = RecordID.new("temperature", { "London", 5 })
function RecordID.new(tb, id)
  if getmetatable(tb) == Table then tb = tb.name end
  if type(tb) ~= "string" or tb == "" then
    invalid("RecordID: the table must be a non-empty string or a Table, got "
      .. (type(tb) == "string" and "an empty string" or type(tb)), { tb = tb, id = id })
  end
  if id == nil then invalid("RecordID: the id of a record in " .. tb .. " is missing", { tb = tb }) end
  return setmetatable({ tb = tb, id = check_id(id, "RecordID " .. tb) }, RecordID)
end

-- SurrealQL text of an id (or of a range bound inside an id).
local function key_text(id)
  local types = require("surrealdb.types")
  if type(id) == "string" then return types.escape_record_key(id) end
  if getmetatable(id) == Range then return id:format(key_text) end
  return types.surql(id)
end

--- SurrealQL's form, such as `person:tobie` or `person:⟨complex id⟩`.
-- @treturn string
-- @usage print(RecordID("person", 100))  --> person:100
function RecordID:__tostring()
  return require("surrealdb.types").escape_ident(self.tb) .. ":" .. key_text(self.id)
end

--- Two record ids are equal when their tables are and their ids are deeply equal.
-- @treturn boolean
-- @usage assert(RecordID("t", { 1, "a" }) == RecordID.parse("t:[1, 'a']"))
function RecordID.__eq(a, b)
  return getmetatable(a) == RecordID and getmetatable(b) == RecordID and a.tb == b.tb and shape.equal(a.id, b.id)
end

-- The reader of SurrealQL literals --------------------------------------------------------------

local OPEN, CLOSE = "⟨", "⟩"
local MAX_DEPTH = 256

local Reader = {}
Reader.__index = Reader

function Reader:fail(what)
  invalid("RecordID.parse: invalid record id " .. string.format("%q", self.s) .. ": " .. what .. " (at byte "
    .. self.i .. ")", { input = self.s, position = self.i })
end

function Reader:at(text)
  return self.s:sub(self.i, self.i + #text - 1) == text
end

function Reader:char()
  return self.s:sub(self.i, self.i)
end

function Reader:space()
  self.i = self.s:match("^%s*()", self.i)
end

function Reader:expect(text)
  if not self:at(text) then self:fail("expected '" .. text .. "'") end
  self.i = self.i + #text
end

local simple_escapes = {
  n = "\n", r = "\r", t = "\t", ["0"] = "\0", ["\\"] = "\\", b = "\b", f = "\f", ["'"] = "'", ['"'] = '"',
  ["`"] = "`", ["/"] = "/",
}

-- After a backslash: one escape sequence, as SurrealQL's strings and identifiers know them.
function Reader:escape()
  local c = self:char()
  if simple_escapes[c] then
    self.i = self.i + 1
    return simple_escapes[c]
  end
  if self:at(CLOSE) then
    self.i = self.i + #CLOSE
    return CLOSE
  end
  if c == "u" then
    local hex, after = self.s:match("^u{(%x%x?%x?%x?%x?%x?)}()", self.i)
    if not hex then hex, after = self.s:match("^u(%x%x%x%x)()", self.i) end
    if not hex then self:fail("expected \\u{hex digits} or \\u and 4 hex digits") end
    local cp = tonumber(hex, 16)
    if cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then
      self:fail("\\u escape of a code point that is not a character")
    end
    self.i = after
    return utf8.char(cp)
  end
  self:fail("invalid escape sequence '\\" .. c .. "'")
end

-- Text up to the closing delimiter, unescaped; the opening delimiter is already read.
function Reader:delimited(close, what)
  local out = {}
  while true do
    local j = self.s:find("[\\" .. close:sub(1, 1) .. "]", self.i)
    while j and self.s:sub(j, j) ~= "\\" and self.s:sub(j, j + #close - 1) ~= close do
      j = self.s:find("[\\" .. close:sub(1, 1) .. "]", j + 1)
    end
    if not j then self:fail("unterminated " .. what) end
    out[#out + 1] = self.s:sub(self.i, j - 1)
    self.i = j
    if self.s:sub(j, j) == "\\" then
      self.i = j + 1
      out[#out + 1] = self:escape()
    else
      self.i = j + #close
      return table.concat(out)
    end
  end
end

-- An escaped identifier (`⟨...⟩` or backticks), or nil when there is none here.
function Reader:escaped_ident()
  if self:at(OPEN) then
    self.i = self.i + #OPEN
    return self:delimited(CLOSE, "⟨identifier⟩")
  end
  if self:at("`") then
    self.i = self.i + 1
    return self:delimited("`", "`identifier`")
  end
end

function Reader:table_name()
  local name = self:escaped_ident()
  if name then return name end
  name = self.s:match("^[A-Za-z0-9_]+", self.i)
  if not name then self:fail("expected a table name") end
  self.i = self.i + #name
  return name
end

function Reader:quoted()
  local q = self:char()
  if q ~= "'" and q ~= '"' then self:fail("expected a quoted string") end
  self.i = self.i + 1
  return self:delimited(q, "string")
end

local function integer_of(reader, digits)
  local n = math.tointeger(tonumber(digits))
  if n == nil then reader:fail("integer " .. digits .. " does not fit in 64 bits") end
  return n
end

-- A number literal: integer, float (`1.5`, `1e3`, `2f`), decimal (`1.5dec`) or duration (`1h30m`).
function Reader:number()
  local s, start = self.s, self.i
  local text = s:match("^[-+]?%d+", start)
  if not text then self:fail("expected a value") end
  local j = start + #text
  local float = false
  local frac = s:match("^%.%d+", j)
  if frac then text, j, float = text .. frac, j + #frac, true end
  local exp = s:match("^[eE][-+]?%d+", j)
  if exp then text, j, float = text .. exp, j + #exp, true end
  local function ends(k) return not s:find("^[A-Za-z0-9_]", k) end
  if s:sub(j, j + 2) == "dec" and ends(j + 3) then
    self.i = j + 3
    return Decimal.new(text)
  end
  if s:sub(j, j) == "f" and ends(j + 1) then
    self.i = j + 1
    return tonumber(text) + 0.0
  end
  if not float and text:find("^%d") and not ends(j) then
    local token = s:match("^[%w_\194\181]+", start)
    self.i = start + #token
    return Duration.parse(token)
  end
  if not ends(j) then self:fail("unexpected character after the number " .. text) end
  self.i = j
  if float then return tonumber(text) + 0.0 end
  return integer_of(self, text)
end

local prefixed = {
  s = function(_, text) return text end,
  u = function(_, text) return Uuid.parse(text) end,
  d = function(_, text) return Datetime.parse(text) end,
  r = function(_, text) return RecordID.parse(text) end,
  b = function(reader, text)
    if #text % 2 ~= 0 or text:find("[^%x]") then reader:fail("a b\"\" byte string must be hexadecimal digits") end
    return Bytes.from_hex(text)
  end,
}

local keywords = {
  ["true"] = true, ["false"] = false, ["null"] = null.null, ["none"] = null.NONE,
}

function Reader:array(depth)
  self:expect("[")
  local items = shape.array()
  self:space()
  while not self:at("]") do
    items[#items + 1] = self:value(depth + 1)
    self:space()
    if self:at(",") then
      self.i = self.i + 1
      self:space()
    elseif not self:at("]") then
      self:fail("expected ',' or ']' in an array")
    end
  end
  self.i = self.i + 1
  return items
end

function Reader:object_key()
  local c = self:char()
  if c == "'" or c == '"' then return self:quoted() end
  local name = self:escaped_ident()
  if name then return name end
  name = self.s:match("^[A-Za-z0-9_]+", self.i)
  if not name then self:fail("expected an object key") end
  self.i = self.i + #name
  return name
end

function Reader:object(depth)
  self:expect("{")
  local object = {}
  self:space()
  while not self:at("}") do
    local key = self:object_key()
    self:space()
    self:expect(":")
    self:space()
    object[key] = self:value(depth + 1)
    self:space()
    if self:at(",") then
      self.i = self.i + 1
      self:space()
    elseif not self:at("}") then
      self:fail("expected ',' or '}' in an object")
    end
  end
  self.i = self.i + 1
  return object
end

-- Whether a record id follows at the reader's position: a table name and a single ':'.
function Reader:record_follows(name_end)
  return self.s:sub(name_end, name_end) == ":" and self.s:sub(name_end + 1, name_end + 1) ~= ":"
end

-- A SurrealQL literal value (inside an array or object id).
function Reader:value(depth)
  if depth > MAX_DEPTH then self:fail("values nested deeper than " .. MAX_DEPTH .. " levels") end
  local c = self:char()
  if c == "[" then return self:array(depth) end
  if c == "{" then return self:object(depth) end
  if c == "'" or c == '"' then return self:quoted() end
  if c:find("^[%d+-]") then return self:number() end
  if self:at(OPEN) or c == "`" then return self:record(depth) end
  local quote_after = self.s:sub(self.i + 1, self.i + 1)
  if prefixed[c] and (quote_after == "'" or quote_after == '"') then
    self.i = self.i + 1
    return prefixed[c](self, self:quoted())
  end
  local word = self.s:match("^[A-Za-z0-9_]+", self.i)
  if not word then self:fail("expected a value") end
  if self:record_follows(self.i + #word) then return self:record(depth) end
  local keyword = keywords[word:lower()]
  if keyword ~= nil then
    self.i = self.i + #word
    return keyword
  end
  if word == "NaN" or word == "Infinity" then
    self.i = self.i + #word
    return word == "NaN" and 0.0 / 0.0 or math.huge
  end
  self:fail("unexpected word '" .. word .. "'")
end

-- One id (not a range): escaped string, uuid, array, object, integer or plain identifier.
function Reader:single_key(depth)
  local name = self:escaped_ident()
  if name then return name end
  local c = self:char()
  if c == "[" then return self:array(depth) end
  if c == "{" then return self:object(depth) end
  if c == "u" and (self.s:sub(self.i + 1, self.i + 1) == "'" or self.s:sub(self.i + 1, self.i + 1) == '"') then
    self.i = self.i + 1
    return Uuid.parse(self:quoted())
  end
  local negative = self.s:match("^%-%d+", self.i)
  if negative then
    if self.s:find("^[A-Za-z_]", self.i + #negative) then self:fail("expected an integer after '-'") end
    self.i = self.i + #negative
    return integer_of(self, negative)
  end
  local word = self.s:match("^[A-Za-z0-9_]+", self.i)
  if not word then self:fail("expected an id") end
  self.i = self.i + #word
  if not word:find("[^%d_]") then
    if not word:find("%d") then return word end -- only underscores: a name
    return integer_of(self, (word:gsub("_", "")))
  end
  return word
end

-- Whether an id (the upper end of a range) starts here.
function Reader:key_starts()
  local c = self:char()
  return c ~= "" and (c:find("^[A-Za-z0-9_%[{`-]") ~= nil or self:at(OPEN))
end

-- An id, which may be a range of ids.
function Reader:key(depth)
  local lower
  if not self:at("..") then lower = self:single_key(depth) end
  local lower_inclusive = true
  if lower ~= nil and self:at(">..") then
    lower_inclusive = false
    self.i = self.i + 1
  end
  if not self:at("..") then
    if lower == nil then self:fail("expected an id") end
    return lower
  end
  self.i = self.i + 2
  local upper_inclusive = false
  if self:at("=") then
    upper_inclusive = true
    self.i = self.i + 1
  end
  local upper
  if self:key_starts() then
    upper = self:single_key(depth)
  elseif upper_inclusive then
    self:fail("expected the upper end of the range after '..='")
  end
  return Range.new(lower ~= nil and { value = lower, inclusive = lower_inclusive } or nil,
    upper ~= nil and { value = upper, inclusive = upper_inclusive } or nil)
end

function Reader:record(depth)
  local tb = self:table_name()
  self:expect(":")
  return setmetatable({ tb = tb, id = self:key(depth + 1) }, RecordID)
end

--- Parse SurrealQL's record id text (see the module description for what is read).
-- @tparam string text such as `"person:tobie"`, `"person:⟨complex id⟩"`, `"person:100"`,
-- `"person:[1, 'a']"`, `"person:u'0190a5c8-6a9e-7d4c-8000-0123456789ab'"`, `"person:1..5"`
-- @treturn RecordID
-- @raise ValidationError naming the input and the byte where reading failed
-- @usage local id = RecordID.parse("person:⟨tobie@surrealdb.com⟩")
function RecordID.parse(text)
  if type(text) ~= "string" then
    invalid("RecordID.parse: expected a string, got " .. type(text), { input = text })
  end
  local reader = setmetatable({ s = text, i = 1 }, Reader)
  local record = reader:record(0)
  if reader.i <= #text then reader:fail("unexpected text after the record id") end
  if record.tb == "" then
    reader.i = 1
    reader:fail("the table name is empty")
  end
  return record
end

return setmetatable(RecordID, { __call = function(_, ...) return RecordID.new(...) end })
