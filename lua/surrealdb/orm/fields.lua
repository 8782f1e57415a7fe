--- Model fields: the type of each field of a model, its options, and the two conversions every
-- value goes through — checked and converted before it is sent (`field:check`), converted to the
-- field's Lua type when read from the database (`field:from_db`).
--
-- Constructors (each takes an options table, or nothing):
--
--     f.String   string          f.Decimal   surrealdb.Decimal (from text or a number)
--     f.Int      integer         f.DateTime  surrealdb.Datetime (from RFC 3339 text)
--     f.Float    float           f.Duration  surrealdb.Duration (from "1h30m")
--     f.Number   int or float    f.Uuid      surrealdb.Uuid (from its text)
--     f.Bool     boolean         f.Bytes     surrealdb.Bytes (from a Lua string)
--     f.Any      any value       f.Geometry{ kind = "point" }  surrealdb.Geometry (or GeoJSON)
--     f.RecordLink{ "person" }   a RecordID of that table (or a model, or an instance: its id);
--                                `f.RecordLink{ Person }` names the table through its model
--     f.Array{ of = f.String() } an array, each item checked by `of`
--     f.Set{ of = f.Int() }      a surrealdb.Set (from a Set or an array)
--     f.Object{ schema = { city = f.String{ required = true } } }   a nested object; without a
--                                schema any object
--
-- Options (every field): `required` (nil is refused), `default` (a value, or a function called for
-- each new record), `choices` (an array of allowed values), `validators` (an array of functions,
-- see below), `readonly` (set when the record is created, never changed), `description` (the
-- schema's COMMENT), `unique` (a unique index in the schema). Ordered fields (Int, Float, Number,
-- Decimal, DateTime, Duration) take `min`/`max` (inclusive); String, Array and Set take
-- `min_length`/`max_length` (characters for strings, items for the others); String takes `pattern`
-- (a Lua pattern the whole value must match somewhere: anchor it with `^...$`); DateTime takes
-- `auto_now_add` (set when the record is created) and `auto_now` (set at every save). An unknown
-- option, or an option of the wrong kind, raises a ModelError when the field is made.
--
-- A validator is called as `fn(value, field)` with the converted, non-nil value; it accepts the
-- value by returning `true` or nothing, and refuses it by returning `false` (optionally with a
-- reason as its second result) or a reason string.
--
-- `surrealdb.null` is refused by every field but `Any`: a field without a value is left out
-- (`nil`), which SurrealDB stores as NONE.
--
-- @module surrealdb.orm.fields
-- @usage
-- local f = require("surrealdb.orm.fields")
-- local age = f.Int{ min = 0, max = 150 }
-- print(age:check(31))        --> true  31
-- print(age:check(200))       --> false  must be at most 150
-- print(age:check(31.0))      --> true  31   (an integral float becomes an integer)
local errors = require("surrealdb.errors")
local types = require("surrealdb.types")

local fields = {}

local Field = { __name = "surrealdb.orm.Field" }
Field.__index = Field
fields.Field = Field

local function model_error(message)
  errors.raise("ModelError", message, nil, 3)
end

--- Whether a value is a record of a model and, if so, its id (nil while it is not saved) and its
-- model: where a record is given as a value (a link, a filter), it stands for its id.
-- @param value any value
-- @treturn boolean
-- @return the id, or nil
-- @return the model
-- @usage local is_record, id = fields.record_id_of(ann)  --> true, person:ann, Person
function fields.record_id_of(value)
  local mt = getmetatable(value)
  if type(mt) ~= "table" or mt.__model == nil then return false end
  return true, value.id, mt.__model
end

--- A short description of a value for reasons: "a string", "an integer", "null", "a RecordID", ...
-- @param value any value
-- @treturn string
-- @usage fields.describe(1.5)  --> a float
function fields.describe(value)
  if value == types.null then return "null" end
  if value == types.NONE then return "NONE" end
  local kind = type(value)
  if kind == "number" then return math.type(value) == "integer" and "an integer" or "a float" end
  if kind == "table" then
    local name = types.type_of(value)
    if name then return "a " .. name end
    local mt = getmetatable(value)
    if mt and mt.__model then return "a " .. mt.__model.name .. " record" end
    if types.is_array(value) then return "an array" end
    return "a table"
  end
  return (kind == "integer" and "an " or "a ") .. kind
end
local describe = fields.describe

-- Kinds ---------------------------------------------------------------------------------------------
-- Each kind has `db_type` (SurrealQL type, the item type for nothing optional), `convert(field, v)`
-- returning the value or nil and a reason, `read(field, v)` for values from the database, and the
-- option groups it takes (`ordered`, `sized`, `text`, `time`).

local function identity(_, v) return v end

local function expect(what)
  return function(v) return nil, "must be " .. what .. ", got " .. describe(v) end
end

local function parse_with(parse, what)
  local refuse = expect(what)
  return function(_, v)
    if type(v) ~= "string" then return refuse(v) end
    local ok, parsed = pcall(parse, v)
    if not ok then return nil, "must be " .. what .. ", got the unreadable text " .. string.format("%q", v) end
    return parsed
  end
end

local function typed_or_text(class, parse, what)
  local from_text = parse_with(parse, what)
  local refuse = expect(what)
  return function(field, v)
    if getmetatable(v) == class then return v end
    if type(v) == "string" then return from_text(field, v) end
    return refuse(v)
  end
end

-- A read conversion that keeps the value as it came when it cannot be converted.
local function lenient(convert)
  return function(field, v)
    local converted = convert(field, v)
    if converted == nil then return v end
    return converted
  end
end

local kinds = {}

-- The kind of a value type with a class of its own: `convert` takes it (or its text), values read
-- from the database that cannot be converted are kept as they came; `traits` such as `ordered`.
local function class_kind(db_type, convert, traits)
  local kind = { db_type = function() return db_type end, convert = convert, read = lenient(convert) }
  for k, v in pairs(traits or {}) do kind[k] = v end
  return kind
end

kinds.String = {
  db_type = function() return "string" end,
  convert = function(_, v)
    if type(v) ~= "string" then return expect("a string")(v) end
    return v
  end,
  read = identity,
  sized = true,
  text = true,
}

kinds.Int = {
  db_type = function() return "int" end,
  convert = function(_, v)
    if math.type(v) == "integer" then return v end
    local int = math.type(v) == "float" and math.tointeger(v)
    if int then return int end
    return expect("an integer")(v)
  end,
  read = function(_, v) return math.type(v) == "float" and math.tointeger(v) or v end,
  ordered = true,
}

kinds.Float = {
  db_type = function() return "float" end,
  convert = function(_, v)
    if type(v) == "number" then return v * 1.0 end
    return expect("a number")(v)
  end,
  read = function(_, v) return math.type(v) == "integer" and v * 1.0 or v end,
  ordered = true,
}

kinds.Number = {
  db_type = function() return "number" end,
  convert = function(_, v)
    if type(v) == "number" then return v end
    return expect("a number")(v)
  end,
  read = identity,
  ordered = true,
}

kinds.Bool = {
  db_type = function() return "bool" end,
  convert = function(_, v)
    if type(v) == "boolean" then return v end
    return expect("true or false")(v)
  end,
  read = identity,
}

local function to_decimal(_, v)
  if getmetatable(v) == types.Decimal then return v end
  if type(v) == "string" or type(v) == "number" then
    local ok, d = pcall(types.Decimal.new, v)
    if ok then return d end
    return nil, "must be a decimal, got " .. (type(v) == "string" and string.format("%q", v) or tostring(v))
  end
  return expect("a decimal (a Decimal, its text or a number)")(v)
end

kinds.Decimal = class_kind("decimal", to_decimal, { ordered = true })
kinds.DateTime = class_kind("datetime", typed_or_text(types.Datetime, types.Datetime.parse,
  "a datetime (a Datetime or RFC 3339 text)"), { ordered = true, time = true })
kinds.Duration = class_kind("duration", typed_or_text(types.Duration, types.Duration.parse,
  "a duration (a Duration or text such as \"1h30m\")"), { ordered = true })
kinds.Uuid = class_kind("uuid", typed_or_text(types.Uuid, types.Uuid.parse, "a UUID (a Uuid or its text)"))

local function to_bytes(_, v)
  if getmetatable(v) == types.Bytes then return v end
  if type(v) == "string" then return types.Bytes.new(v) end
  return expect("bytes (a Bytes or a Lua string)")(v)
end

kinds.Bytes = class_kind("bytes", to_bytes)

kinds.Any = {
  db_type = function() return "any" end,
  convert = function(_, v)
    local kind = type(v)
    if kind == "function" or kind == "thread" or kind == "userdata" then
      return nil, "cannot hold " .. describe(v)
    end
    return v
  end,
  read = identity,
}

-- Geometry: the `kind` option names one kind of geometry.
local geometry_kinds = {
  point = "Point", line = "LineString", polygon = "Polygon", multipoint = "MultiPoint",
  multiline = "MultiLineString", multipolygon = "MultiPolygon", collection = "GeometryCollection",
}

local function to_geometry(field, v)
  local g = v
  if getmetatable(v) ~= types.Geometry then
    if type(v) ~= "table" or getmetatable(v) ~= nil or type(v.type) ~= "string" then
      return expect("a geometry (a Geometry or a GeoJSON table)")(v)
    end
    local ok, parsed = pcall(types.Geometry.from_geojson, v)
    if not ok then
      return nil, "must be a geometry: " .. tostring(type(parsed) == "table" and parsed.message or parsed)
    end
    g = parsed
  end
  local want = field.kind and geometry_kinds[field.kind]
  if want and g.kind ~= want then return nil, "must be a " .. field.kind .. " geometry, got a " .. g.kind end
  return g
end

kinds.Geometry = {
  db_type = function(field) return field.kind and ("geometry<" .. field.kind .. ">") or "geometry" end,
  convert = to_geometry,
  read = lenient(to_geometry),
  options = { kind = function(v)
    return geometry_kinds[v] ~= nil, "one of point, line, polygon, multipoint, multiline, multipolygon, collection"
  end },
}

-- RecordLink: `{ "person" }`, `{ Person }` or `{ table = "person" }`; without a table any record.
local function link_table(field)
  local target = field.table
  if type(target) == "table" then return target.table end
  return target
end

--- The model registered for a table name (set by `surrealdb.orm.model`).
-- @tparam string name
-- @return the model or nil
-- @usage local Person = fields.model_of("person")
function fields.model_of(name)
  return fields.registry[name]
end
fields.registry = setmetatable({}, { __mode = "v" })

local function to_record_id(field, v)
  local id = v
  local mt = getmetatable(v)
  local is_record, record_id, m = fields.record_id_of(v)
  if is_record then
    id = record_id
    if id == nil then return nil, "links to a " .. m.name .. " record that is not saved yet" end
  elseif type(v) == "string" then
    local ok, parsed = pcall(types.RecordID.parse, v)
    if not ok then return nil, "must be a record id, got the unreadable text " .. string.format("%q", v) end
    id = parsed
  elseif mt ~= types.RecordID then
    return expect("a record id (a RecordID, its text or a saved record)")(v)
  end
  local want = link_table(field)
  if want and id.tb ~= want then
    return nil, "must link to a record of " .. want .. ", got " .. tostring(id)
  end
  return id
end

kinds.RecordLink = {
  db_type = function(field)
    local want = link_table(field)
    return want and ("record<" .. types.escape_ident(want) .. ">") or "record"
  end,
  convert = to_record_id,
  read = function(field, v)
    -- A fetched link arrives as the record itself: an instance of its model when one is known.
    if type(v) == "table" and getmetatable(v) == nil and getmetatable(v.id) == types.RecordID then
      local model = type(field.table) == "table" and field.table or fields.model_of(v.id.tb)
      if model then return model:from_table(v) end
      return v
    end
    if type(v) == "string" then
      local ok, parsed = pcall(types.RecordID.parse, v)
      if ok then return parsed end
    end
    return v
  end,
  options = { [1] = true, table = function(v)
    return type(v) == "string" or (type(v) == "table" and type(v.table) == "string"), "a table name or a model"
  end },
}

-- Containers: Array and Set check their items with `of`; Object checks its `schema`.
local function items_of(field, v, path_of)
  local of = field.of
  local out, reasons = types.array(), nil
  for i = 1, #v do
    local item = v[i]
    if of then
      local ok, result = of:check(item)
      if not ok then
        reasons = reasons or {}
        reasons[#reasons + 1] = path_of(i) .. ": " .. result
      else
        item = result
      end
    elseif item == nil then
      reasons = reasons or {}
      reasons[#reasons + 1] = path_of(i) .. ": has no value"
    end
    out[i] = item
  end
  if reasons then return nil, table.concat(reasons, "; ") end
  return out
end

local function is_list(v)
  return type(v) == "table" and (types.is_array(v) or (getmetatable(v) == nil and next(v) == nil))
end

local function item_path(i) return "item " .. i end

kinds.Array = {
  db_type = function(field) return field.of and ("array<" .. field.of:db_type() .. ">") or "array" end,
  convert = function(field, v)
    if not is_list(v) then return expect("an array")(v) end
    return items_of(field, v, item_path)
  end,
  read = function(field, v)
    if type(v) ~= "table" or not is_list(v) then return v end
    local of = field.of
    if of then
      for i = 1, #v do v[i] = of:from_db(v[i]) end
    end
    return getmetatable(v) == nil and types.array(v) or v
  end,
  sized = true,
  container = true,
  options = { of = function(v) return getmetatable(v) == Field, "a field such as f.String()" end },
}

kinds.Set = {
  db_type = function(field) return field.of and ("set<" .. field.of:db_type() .. ">") or "set" end,
  convert = function(field, v)
    if getmetatable(v) ~= types.Set and not is_list(v) then return expect("a set (a Set or an array)")(v) end
    local items, reason = items_of(field, v, item_path)
    if not items then return nil, reason end
    return types.Set.new(items)
  end,
  read = function(field, v)
    if getmetatable(v) == types.Set then
      if field.of then
        for i = 1, #v do v[i] = field.of:from_db(v[i]) end
      end
      return v
    end
    if is_list(v) then return types.Set.new(kinds.Array.read(field, v)) end
    return v
  end,
  sized = true,
  container = true,
  options = kinds.Array.options,
}

local function is_object(v)
  local mt = getmetatable(v)
  return type(v) == "table" and (mt == nil or mt == types.object_mt) and not types.is_array(v)
end

kinds.Object = {
  db_type = function() return "object" end,
  convert = function(field, v)
    if not is_object(v) then return expect("an object (a table of fields)")(v) end
    local schema = field.schema
    if not schema then return v end
    local out, reasons = types.object(), nil
    local function refuse(key, reason)
      reasons = reasons or {}
      reasons[#reasons + 1] = { key = key, text = key .. ": " .. reason }
    end
    for key in pairs(v) do
      if type(key) ~= "string" or schema[key] == nil then refuse(tostring(key), "is not a field of this object") end
    end
    for key, sub in pairs(schema) do
      local ok, result = sub:check(v[key])
      if ok then out[key] = result else refuse(key, result) end
    end
    if reasons then
      table.sort(reasons, function(a, b) return a.key < b.key end)
      local texts = {}
      for i, r in ipairs(reasons) do texts[i] = r.text end
      return nil, table.concat(texts, "; ")
    end
    return out
  end,
  read = function(field, v)
    if field.schema and is_object(v) then
      for key, sub in pairs(field.schema) do v[key] = sub:from_db(v[key]) end
    end
    return v
  end,
  container = true,
  options = { schema = function(v)
    if type(v) ~= "table" then return false, "a table of fields" end
    for key, sub in pairs(v) do
      if type(key) ~= "string" or getmetatable(sub) ~= Field then return false, "a table of fields" end
    end
    return true
  end },
}

-- Options -------------------------------------------------------------------------------------------

local function is_boolean(v) return type(v) == "boolean", "true or false" end
local function is_count(v) return math.type(v) == "integer" and v >= 0, "an integer >= 0" end

local common_options = {
  required = is_boolean, readonly = is_boolean, unique = is_boolean,
  description = function(v) return type(v) == "string", "a string" end,
  default = function() return true end,
  choices = function(v) return is_list(v) and #v > 0, "a non-empty array of values" end,
  validators = function(v)
    if not is_list(v) then return false, "an array of functions" end
    for _, fn in ipairs(v) do
      if type(fn) ~= "function" then return false, "an array of functions" end
    end
    return true
  end,
}
local ordered_options = { min = function() return true end, max = function() return true end }
local sized_options = { min_length = is_count, max_length = is_count }
local text_options = { pattern = function(v)
  if type(v) ~= "string" then return false, "a Lua pattern (a string)" end
  local ok = pcall(string.find, "", v)
  return ok, "a valid Lua pattern"
end }
local time_options = { auto_now = is_boolean, auto_now_add = is_boolean }

local function option_check(kind, name)
  return common_options[name] or (kind.ordered and ordered_options[name]) or (kind.sized and sized_options[name])
    or (kind.text and text_options[name]) or (kind.time and time_options[name])
    or (kind.options and kind.options[name])
end

-- The length of a value of a sized field: characters of a string, items of an array or set.
local function length_of(v)
  if type(v) == "string" then return utf8.len(v) or #v end
  return #v
end

local function make(kind_name, options)
  local kind = kinds[kind_name]
  if options ~= nil and type(options) ~= "table" then
    model_error(("f.%s expects an options table, got %s"):format(kind_name, type(options)))
  end
  local field = setmetatable({ type_name = kind_name, kind_spec = kind }, Field)
  for name, value in pairs(options or {}) do
    local check = option_check(kind, name)
    if check == nil then
      model_error(("f.%s: unknown option %s"):format(kind_name, tostring(name)))
    end
    if check ~= true then
      local ok, want = check(value)
      if not ok then
        model_error(("f.%s: option %s must be %s, got %s"):format(kind_name, tostring(name), want, describe(value)))
      end
    end
    field[name] = value
  end
  if field[1] ~= nil then
    field.table, field[1] = field[1], nil
    local ok, want = kind.options.table(field.table)
    if not ok then model_error(("f.%s: the linked table must be %s"):format(kind_name, want)) end
  end
  -- min/max and choices are values of the field: convert them once, so comparisons are of like with like.
  for _, name in ipairs({ "min", "max" }) do
    if field[name] ~= nil then
      local value, reason = kind.convert(field, field[name])
      if value == nil then model_error(("f.%s: option %s %s"):format(kind_name, name, reason)) end
      field[name] = value
    end
  end
  if field.choices then
    local converted = types.array()
    for i, choice in ipairs(field.choices) do
      local value, reason = kind.convert(field, choice)
      if value == nil then model_error(("f.%s: choice %d %s"):format(kind_name, i, reason)) end
      converted[i] = value
    end
    field.choices = converted
  end
  if field.default ~= nil and type(field.default) ~= "function" then
    local value, reason = kind.convert(field, field.default)
    if value == nil then model_error(("f.%s: the default %s"):format(kind_name, reason)) end
  end
  return field
end

for name in pairs(kinds) do
  fields[name] = function(options) return make(name, options) end
end

-- Field methods -------------------------------------------------------------------------------------

--- Check a value and convert it to what is sent to the database.
-- `nil` (and NONE) is accepted unless the field is `required`; a value is converted to the field's
-- type (an integral float for an Int, text for a DateTime, ...) and then checked against the
-- field's options, in this order: choices, min/max, lengths, pattern, validators.
-- @param value the value to check
-- @treturn boolean whether it is accepted
-- @return the converted value, or the reason it was refused (a string)
-- @usage local ok, value_or_reason = f.String{ max_length = 3 }:check("abcd")
-- --> false, "must have at most 3 characters"
function Field:check(value)
  if value == nil or value == types.NONE then
    if self.required then return false, "is required" end
    return true, nil
  end
  local spec = self.kind_spec
  if value == types.null and self.type_name ~= "Any" then
    return false, "must not be null (leave the field out for no value)"
  end
  local converted, reason = spec.convert(self, value)
  if converted == nil then return false, reason end
  if self.choices then
    local found = false
    for _, choice in ipairs(self.choices) do
      if types.equal(choice, converted) then
        found = true
        break
      end
    end
    if not found then
      local shown = {}
      for i, choice in ipairs(self.choices) do shown[i] = types.surql(choice) end
      return false, "must be one of " .. table.concat(shown, ", ")
    end
  end
  if self.min ~= nil and converted < self.min then return false, "must be at least " .. tostring(self.min) end
  if self.max ~= nil and converted > self.max then return false, "must be at most " .. tostring(self.max) end
  if self.min_length or self.max_length then
    local n = length_of(converted)
    local unit = type(converted) == "string" and "characters" or "items"
    if self.min_length and n < self.min_length then
      return false, ("must have at least %d %s"):format(self.min_length, unit)
    end
    if self.max_length and n > self.max_length then
      return false, ("must have at most %d %s"):format(self.max_length, unit)
    end
  end
  if self.pattern and not converted:find(self.pattern) then
    return false, "must match the pattern " .. self.pattern
  end
  if self.validators then
    for _, validator in ipairs(self.validators) do
      local ok, result, why = pcall(validator, converted, self)
      if not ok then
        return false, "validator failed: " .. tostring(type(result) == "table" and result.message or result)
      end
      if result == false then return false, type(why) == "string" and why or "is invalid" end
      if type(result) == "string" then return false, result end
    end
  end
  return true, converted
end

--- Convert a value read from the database to the field's Lua type.
-- Never raises: a value that cannot be converted is kept as it came.
-- @param value the value as decoded
-- @return the value
-- @usage f.DateTime():from_db("2024-01-01T00:00:00Z")  -- a Datetime
function Field:from_db(value)
  if value == nil or value == types.NONE or value == types.null then return value end
  return self.kind_spec.read(self, value)
end

--- The field's default for a new record (nil when it has none); a function default is called.
-- @return the default value
-- @usage local tags = f.Array{ default = surrealdb.array }:default_value()  -- a new empty array
function Field:default_value()
  local default = self.default
  if type(default) == "function" then return default() end
  return fields.copy(default)
end

--- The SurrealQL type of the field's values (without `none |` for an optional field).
-- @treturn string such as `"int"`, `"array<string>"`, `"record<person>"`
-- @usage f.Array{ of = f.String() }:db_type()  --> array<string>
function Field:db_type()
  return self.kind_spec.db_type(self)
end

--- Whether values read from the database are always of the field's Lua type already (String,
-- Bool, Number, Any), so reading them needs no conversion.
-- @treturn boolean
-- @usage if not field:reads_as_is() then value = field:from_db(value) end
function Field:reads_as_is()
  return self.kind_spec.read == identity
end

--- Whether the field holds a table whose contents may change in place (Array, Set, Object, Any).
-- @treturn boolean
-- @usage if field:is_container() then ... end
function Field:is_container()
  return self.kind_spec.container == true or self.type_name == "Any"
end

--- A deep copy of a plain value (tables without a metatable, or with the array/object marks; values
-- of the types are immutable and shared).
-- @param value any value
-- @return the copy
-- @usage local snapshot = fields.copy(record.tags)
function fields.copy(value)
  if type(value) ~= "table" then return value end
  local mt = getmetatable(value)
  if mt ~= nil and mt ~= types.array_mt and mt ~= types.object_mt and mt ~= types.Set then return value end
  local out = {}
  for k, v in pairs(value) do out[k] = fields.copy(v) end
  return setmetatable(out, mt)
end

fields.geometry_kinds = geometry_kinds

return fields
