--- Schema of models: the SurrealQL that defines a model's table, fields and unique indexes, and the
-- statements that bring a database in line with models.
--
-- `Person:schema()` (here `schema.text(Person)`) writes, in the form SurrealDB 3.0 itself prints
-- in `INFO FOR TABLE` (so that a schema that is applied compares equal to what the database holds):
--
--     DEFINE TABLE person TYPE NORMAL SCHEMAFULL;            (SCHEMALESS for strict = false; an edge
--                                                            is TYPE RELATION IN person OUT post)
--     DEFINE FIELD name ON person TYPE string ASSERT string::len($value) <= 100;
--     DEFINE FIELD age ON person TYPE none | int ASSERT $value >= 0 AND $value <= 150;
--     DEFINE FIELD address ON person TYPE none | object;      (an Object without a schema is FLEXIBLE)
--     DEFINE FIELD address.city ON person TYPE string;       (nested fields of an Object's schema)
--     DEFINE INDEX person_email_unique ON person FIELDS email UNIQUE;
--
-- A field that is not `required` has the type `none | T` (SurrealDB's `option<T>`), and the
-- database skips its ASSERT when it has no value. The ASSERTs are what the database can check of
-- the options: `choices` (`$value INSIDE [...]`), `min`/`max`, `min_length`/`max_length`
-- (`string::len`, `array::len`, `set::len`), `pattern` where it translates faithfully (see
-- `schema.pattern_regex`), and those of an Array's items (`array::all($value, |$item: any| ...)`).
-- A value default is `DEFAULT <literal>`; a function default is not written (the model fills it
-- in); `auto_now_add`/`auto_now` write `DEFAULT time::now()`.
-- `readonly` is `READONLY`, `description` is `COMMENT`. Validators, function defaults and patterns
-- that do not translate are checked by the model only.
--
-- Values are written into the text only here, and only through `schema.literal`, which writes
-- SurrealQL literals (strings quoted and escaped, numbers, booleans, arrays, objects and the value
-- types); names are identifiers checked when the model is made.
--
-- @module surrealdb.orm.schema
-- @usage
-- local schema = require("surrealdb.orm.schema")
-- print(schema.text(Person))                      -- what Person:schema() returns
-- schema.apply(Person, db, "if_not_exists")        -- what Person:apply_schema{ mode = "if_not_exists" } runs
-- for _, change in ipairs(schema.diff(db, { Person })) do print(change.statement) end
local errors = require("surrealdb.errors")
local types = require("surrealdb.types")
local filter = require("surrealdb.orm.filter")
local query = require("surrealdb.orm.query")

local schema = {}

--- The SurrealQL literal of a value: the one way a value is written into schema text.
-- Strings are quoted with every special character escaped, integers are digits, floats carry the
-- `f` suffix, arrays and objects are written item by item, values of the types in their SurrealQL
-- forms (`d'...'`, `1h`, `1.5dec`, ...), nil is NONE.
-- @param value the value
-- @treturn string
-- @raise ValidationError for functions, coroutines, userdata and tables with other metatables
-- @usage schema.literal("it's")      --> "it's"
-- schema.literal({ 1, "a" })          --> [1, 'a']
schema.literal = types.surql

-- Lua patterns to regular expressions -------------------------------------------------------------

local class_sets = {
  d = "0-9", a = "A-Za-z", l = "a-z", u = "A-Z", w = "0-9A-Za-z", x = "0-9A-Fa-f", s = "\\t-\\r ",
  p = "!-/:-@\\[-`{-~", c = "\\x{0}-\\x{1F}\\x{7F}", g = "!-~",
}

-- Characters that have a meaning in a regular expression (inside or outside a class): escaped.
local meta = "[%.%+%*%?%(%)%|%[%]{}%^%$#&%-~\\]"

local function regex_char(c)
  local byte = c:byte()
  if byte < 32 or byte == 127 then return ("\\x{%X}"):format(byte) end
  if c:find(meta) then return "\\" .. c end
  return c
end

-- One item of a Lua pattern at `pos`: returns its regex, whether it is "wide" (it matches bytes
-- outside ASCII, one at a time, where a regex matches characters) and the next position; or nil and
-- a reason.
local function pattern_item(p, pos)
  local c = p:sub(pos, pos)
  if c == "." then return "(?s:.)", true, pos + 1 end
  if c == "%" then
    local k = p:sub(pos + 1, pos + 1)
    if k == "" then return nil, "a pattern may not end with %" end
    if k == "b" or k == "f" then return nil, "%" .. k .. " has no regular expression" end
    if k:find("%d") then return nil, "back-references have no regular expression" end
    local set = class_sets[k]
    if set then return "[" .. set .. "]", false, pos + 2 end
    set = class_sets[k:lower()]
    if set then return "[^" .. set .. "]", true, pos + 2 end
    if k:find("%w") then return nil, "%" .. k .. " is not a Lua character class" end
    return regex_char(k), false, pos + 2
  end
  if c == "[" then
    local i = pos + 1
    local negate = p:sub(i, i) == "^"
    if negate then i = i + 1 end
    local parts = {}
    local first = true
    while true do
      local ch = p:sub(i, i)
      if ch == "" then return nil, "a [set] is not closed" end
      if ch == "]" and not first then break end
      first = false
      if ch == "%" then
        local k = p:sub(i + 1, i + 1)
        if class_sets[k] then
          parts[#parts + 1] = class_sets[k]
        elseif class_sets[k:lower()] then
          return nil, "a complement class (%" .. k .. ") inside a [set]"
        elseif k == "" or k:find("%w") then
          return nil, "%" .. k .. " inside a [set]"
        else
          parts[#parts + 1] = regex_char(k)
        end
        i = i + 2
      elseif ch:byte() > 127 then
        return nil, "a byte outside ASCII in a [set]"
      elseif p:sub(i + 1, i + 1) == "-" and p:sub(i + 2, i + 2) ~= "]" and p:sub(i + 2, i + 2) ~= "" then
        local last = p:sub(i + 2, i + 2)
        if last:byte() > 127 or last == "%" then return nil, "a range in a [set] that is not of ASCII characters" end
        parts[#parts + 1] = regex_char(ch) .. "-" .. regex_char(last)
        i = i + 3
      else
        parts[#parts + 1] = regex_char(ch)
        i = i + 1
      end
    end
    return "[" .. (negate and "^" or "") .. table.concat(parts) .. "]", negate, i + 1
  end
  if c == "(" or c == ")" then return nil, "captures have no faithful regular expression" end
  if c:byte() > 127 then return nil, "a byte outside ASCII" end
  return regex_char(c), false, pos + 1
end

--- Translate a Lua pattern into a regular expression of SurrealDB's `string::matches` that accepts
-- exactly the same strings, or say why it cannot.
-- Translated: `^` and `$` anchors, ASCII characters, `%` escapes, the classes `%a %d %l %u %w %x %s
-- %p %c %g` (C locale, ASCII), `[sets]` of those, and the quantifiers `* + - ?`. Lua patterns work
-- on bytes where regular expressions work on characters, so an item that matches bytes outside
-- ASCII (`.`, `[^...]`, `%A`, ...) is translated only with `*`, `+` or `-` and with no such item next
-- to it: then both match the same runs of whole characters. `%b`, `%f`, captures and bytes outside
-- ASCII are not translated.
-- @tparam string pattern a Lua pattern
-- @treturn string|nil the regular expression
-- @treturn string|nil why there is none
-- @usage schema.pattern_regex("^[^@]+@[^@]+$")  --> "^[^@]+@[^@]+$"
-- schema.pattern_regex("^.$")                  --> nil, "a single . ..."
function schema.pattern_regex(pattern)
  local out, items = {}, {}
  local pos, n = 1, #pattern
  if pattern:sub(1, 1) == "^" then
    out[1] = "^"
    pos = 2
  end
  local anchored_end = false
  while pos <= n do
    if pos == n and pattern:sub(pos, pos) == "$" then
      anchored_end = true
      break
    end
    local text, wide, next_pos = pattern_item(pattern, pos)
    if text == nil then return nil, wide end
    local q = pattern:sub(next_pos, next_pos)
    local quantifier = ""
    if q == "*" or q == "+" or q == "?" then
      quantifier, next_pos = q, next_pos + 1
    elseif q == "-" then
      quantifier, next_pos = "*?", next_pos + 1
    end
    if wide and (quantifier == "" or quantifier == "?") then
      return nil, "a single item that matches bytes outside ASCII (such as . or [^...]) counts bytes where the "
        .. "database counts characters"
    end
    if wide and #items > 0 and items[#items].wide then
      return nil, "two items next to each other that match bytes outside ASCII"
    end
    items[#items + 1] = { wide = wide }
    out[#out + 1] = text .. quantifier
    pos = next_pos
  end
  if anchored_end then out[#out + 1] = "$" end
  return table.concat(out)
end

-- Statements ----------------------------------------------------------------------------------------

local mode_words = { overwrite = " OVERWRITE", if_not_exists = " IF NOT EXISTS" }

local function define(kind, mode, body)
  local word = ""
  if mode ~= nil then
    word = mode_words[mode]
    if word == nil then
      errors.raise("ValidationError", ("schema mode must be \"overwrite\" or \"if_not_exists\", got %s")
        :format(tostring(mode)), nil, 3)
    end
  end
  return "DEFINE " .. kind .. word .. " " .. body
end

local function table_body(m)
  local parts = { query.table_text(m.table_value) }
  if m.edge then
    parts[#parts + 1] = "TYPE RELATION"
    if m.edge.from then parts[#parts + 1] = "IN " .. query.table_text(m.edge.from.table_value) end
    if m.edge.to then parts[#parts + 1] = "OUT " .. query.table_text(m.edge.to.table_value) end
  else
    parts[#parts + 1] = "TYPE NORMAL"
  end
  parts[#parts + 1] = m.strict and "SCHEMAFULL" or "SCHEMALESS"
  if m.description then parts[#parts + 1] = "COMMENT " .. schema.literal(m.description) end
  return table.concat(parts, " ")
end

local length_functions = { String = "string::len", Array = "array::len", Set = "set::len" }

-- The ASSERT conditions of `field` on the variable `var` (`$value`, or an item's at `depth` arrays
-- deep: `$item`, `$item2`, ...), or nil.
local function asserts_on(field, var, depth)
  local parts = {}
  if field.choices then parts[#parts + 1] = var .. " INSIDE " .. schema.literal(field.choices) end
  if field.min ~= nil then parts[#parts + 1] = var .. " >= " .. schema.literal(field.min) end
  if field.max ~= nil then parts[#parts + 1] = var .. " <= " .. schema.literal(field.max) end
  local len = length_functions[field.type_name]
  if field.min_length then parts[#parts + 1] = ("%s(%s) >= %d"):format(len, var, field.min_length) end
  if field.max_length then parts[#parts + 1] = ("%s(%s) <= %d"):format(len, var, field.max_length) end
  if field.pattern then
    local regex = schema.pattern_regex(field.pattern)
    if regex then parts[#parts + 1] = ("string::matches(%s, %s)"):format(var, schema.literal(regex)) end
  end
  if field.type_name == "Array" and field.of then
    local item = depth == 0 and "$item" or "$item" .. (depth + 1)
    local inner = asserts_on(field.of, item, depth + 1)
    if inner then parts[#parts + 1] = ("array::all(%s, |%s: any| %s)"):format(var, item, inner) end
  end
  if #parts == 0 then return nil end
  return table.concat(parts, " AND ")
end

--- The ASSERT conditions the database can check for a field (without `ASSERT`), joined by AND; nil
-- when there are none. The items of an Array are checked with `array::all` and a closure, written
-- as the database prints it back (`|$item: any|`, `$item2` one level deeper). The items of a Set
-- are checked by the model only (3.0's `array::all` does not take a set).
-- @param field a field
-- @treturn string|nil
-- @usage schema.asserts(f.Int{ min = 0, max = 150 })  --> $value >= 0 AND $value <= 150
-- schema.asserts(f.Array{ of = f.Int{ min = 0 } })   --> array::all($value, |$item: any| $item >= 0)
function schema.asserts(field)
  return asserts_on(field, "$value", 0)
end

local function field_body(m, path, field)
  local parts = { path, "ON", query.table_text(m.table_value), "TYPE" }
  local db_type = field:db_type()
  if not field.required and db_type ~= "any" then db_type = "none | " .. db_type end
  parts[#parts + 1] = db_type
  if field.type_name == "Object" and field.schema == nil then parts[#parts + 1] = "FLEXIBLE" end
  if field.auto_now or field.auto_now_add then
    parts[#parts + 1] = "DEFAULT time::now()"
  elseif field.default ~= nil and type(field.default) ~= "function" then
    local _, value = field:check(field.default)
    parts[#parts + 1] = "DEFAULT " .. schema.literal(value)
  end
  if field.readonly then parts[#parts + 1] = "READONLY" end
  local asserts = schema.asserts(field)
  if asserts then parts[#parts + 1] = "ASSERT " .. asserts end
  if field.description then parts[#parts + 1] = "COMMENT " .. schema.literal(field.description) end
  return table.concat(parts, " ")
end

-- Each field of a table of fields, with nested Object schemas, sorted by path: `fn(path, field)`.
local function walk(defs, prefix, fn)
  local names = {}
  for name in pairs(defs) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local text = filter.identifier(name)
    if text == nil then
      errors.raise("ModelError", ("field name %s is not an identifier"):format(tostring(name)), nil, 4)
    end
    local path = prefix .. text
    local field = defs[name]
    fn(path, field)
    if field.type_name == "Object" and field.schema then walk(field.schema, path .. ".", fn) end
  end
end

--- The statements that define a model, in order: the table, its fields (a parent before its nested
-- fields), its unique indexes. Each is `{ kind = "table"|"field"|"index", name =, sql = }`.
-- @param m a model
-- @tparam[opt] string mode nil, `"overwrite"` or `"if_not_exists"`
-- @treturn table
-- @usage for _, s in ipairs(schema.statements(Person)) do print(s.sql) end
function schema.statements(m, mode)
  local list = { { kind = "table", name = m.table, sql = define("TABLE", mode, table_body(m)) } }
  local unique = {}
  walk(m.fields, "", function(path, field)
    list[#list + 1] = { kind = "field", name = path, sql = define("FIELD", mode, field_body(m, path, field)),
      field = field }
    if field.unique then unique[#unique + 1] = path end
  end)
  for _, path in ipairs(unique) do
    local name = m.table .. "_" .. path:gsub("[^%w_]", "_") .. "_unique"
    list[#list + 1] = { kind = "index", name = name, sql = define("INDEX", mode, ("%s ON %s FIELDS %s UNIQUE")
      :format(name, query.table_text(m.table_value), path)) }
  end
  return list
end

--- The SurrealQL text of a model's schema: its statements, each ending with `;`, one per line.
-- @param m a model
-- @tparam[opt] string mode nil, `"overwrite"` or `"if_not_exists"`
-- @treturn string
-- @usage print(schema.text(Person, "overwrite"))
function schema.text(m, mode)
  local lines = {}
  for i, statement in ipairs(schema.statements(m, mode)) do lines[i] = statement.sql .. ";" end
  return table.concat(lines, "\n")
end

--- Run a model's schema on a client (one query).
-- @param m a model
-- @param db a client
-- @tparam[opt] string mode nil (fails when a definition exists), `"overwrite"` or `"if_not_exists"`
-- @raise QueryError when the database refuses a statement
-- @usage schema.apply(Person, db, "overwrite")
function schema.apply(m, db, mode)
  db:query(schema.text(m, mode))
end

-- Diff ------------------------------------------------------------------------------------------

-- A definition as the database prints it, without the permissions clause this module never writes.
local function normal(text)
  return (text:gsub("%s+PERMISSIONS FULL$", ""):gsub("%s+PERMISSIONS NONE$", ""))
end

local function overwrite(sql)
  return (sql:gsub("^DEFINE (%u+) ", "DEFINE %1 OVERWRITE ", 1))
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(type(t) == "table" and t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- A name the database gave (a key of INFO FOR TABLE) as SurrealQL: field paths of identifiers, `*`
-- and `[*]` as they are, anything else escaped as one identifier.
local function name_text(name)
  if name:find("^[A-Za-z_][A-Za-z0-9_]*[%.%[%]%*A-Za-z0-9_]*$") then return name end
  return types.escape_ident(name)
end

local function remove_statement(kind, name, table_text)
  if kind == "table" then return "REMOVE TABLE " .. table_text end
  return ("REMOVE %s %s ON %s"):format(kind:upper(), name_text(name), table_text)
end

-- Names the database defines by itself: the items of array and set fields (`tags.*`), an edge's
-- `in` and `out`.
local function implied_fields(m)
  local implied = m.edge and { ["in"] = true, out = true } or {}
  walk(m.fields, "", function(path, field)
    local items = path
    while field and (field.type_name == "Array" or field.type_name == "Set") do
      implied[items .. ".*"] = true
      implied[items .. "[*]"] = true
      items, field = items .. ".*", field.of
    end
  end)
  return implied
end

--- Compare models with a database and return the changes that bring the database in line.
-- Reads `INFO FOR DB` (for tables that are missing) and `INFO FOR TABLE` of each model's table.
-- Each change is `{ action = "create"|"alter"|"remove", kind = "table"|"field"|"index", table =,
-- name =, statement =, reverse = }`: `statement` is the SurrealQL to run, `reverse` the one that
-- undoes it (from the database's own definition for alterations and removals). Run the statements
-- in the order given, the reverses in the opposite order. Removals are fields and indexes the
-- database has and the model does not (the database's own `tags.*` of array fields and `in`/`out`
-- of edges aside);
-- permissions are not compared. An empty list means the database is in line.
-- @param db a client
-- @tparam table models an array of models
-- @treturn table an array of changes
-- @usage for _, change in ipairs(orm.diff_schema(db, { Person, Post })) do print(change.statement) end
function schema.diff(db, models)
  if type(models) ~= "table" then
    errors.raise("ValidationError", "diff_schema expects an array of models, got " .. type(models), nil, 2)
  end
  local changes = {}
  local function add(action, kind, m, name, statement, reverse)
    changes[#changes + 1] = { action = action, kind = kind, table = m.table, name = name, statement = statement,
      reverse = reverse }
  end
  local db_info = db:query("INFO FOR DB")
  local tables = type(db_info) == "table" and db_info.tables or {}
  for _, m in ipairs(models) do
    local table_text = query.table_text(m.table_value)
    local wanted = schema.statements(m)
    local existing = tables[m.table]
    if existing == nil then
      for _, statement in ipairs(wanted) do
        add("create", statement.kind, m, statement.name, statement.sql,
          remove_statement(statement.kind, statement.name, table_text))
      end
    else
      local info = db:query("INFO FOR TABLE " .. table_text)
      local have = { field = info.fields or {}, index = info.indexes or {} }
      local seen = { field = {}, index = {} }
      local creates = {}
      for _, statement in ipairs(wanted) do
        local text = statement.sql
        local current
        if statement.kind == "table" then
          current = existing
        else
          current = have[statement.kind][statement.name]
          seen[statement.kind][statement.name] = true
        end
        if current == nil then
          creates[#creates + 1] = statement
        elseif normal(current) ~= text then
          add("alter", statement.kind, m, statement.name, overwrite(text), overwrite(current))
        end
      end
      for _, statement in ipairs(creates) do
        add("create", statement.kind, m, statement.name, statement.sql,
          remove_statement(statement.kind, statement.name, table_text))
      end
      local implied = implied_fields(m)
      for _, kind in ipairs({ "index", "field" }) do
        local names = sorted_keys(have[kind])
        for i = #names, 1, -1 do
          local name = names[i]
          if not seen[kind][name] and not (kind == "field" and implied[name]) then
            add("remove", kind, m, name, remove_statement(kind, name, table_text), have[kind][name])
          end
        end
      end
    end
  end
  return changes
end

return schema
