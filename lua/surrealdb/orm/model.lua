--- Models: typed records of one table, built on query sets (`surrealdb.orm.query`) and filters
-- (`surrealdb.orm.filter`).
--
-- `orm.model("person", { name = f.String{ required = true }, ... }, { db = db })` makes a model.
-- Its class methods make, find and query records; its records are tables whose fields read and
-- write like plain fields (`p.age = 31`) and whose methods save and delete them.
--
--     Person:new{...}             a record, not saved yet (defaults filled in)
--     Person:create{...}          Person:new{...}:save()
--     Person:get(id)              the record with this id ("person:ann", "ann", 7, a RecordID) or nil
--     Person:find_by{...}         the first record a filter matches, or nil
--     Person:where{...}           a model query set: where, order_by, limit, offset, fetch (each a new
--                                 query set), all, first, count, exists, each(fn, batch), page(n, size)
--     Person:query()              the model query set of every record
--     Person:from_table(t)        a record from a table as the database returns it
--     Person:bulk_insert(rows, opts)   checks every row, then db:bulk(opts):insert(table, rows)
--     Person:schema(mode), Person:apply_schema{ mode = }   see `surrealdb.orm.schema`
--     p:save()                    CREATE, or for a saved record UPDATE ... MERGE of the changed fields
--     p:delete()                  DELETE; the record becomes unsaved
--     p:refresh()                 reads the record again
--     p:to_table()                a plain table of the record as it is sent (id included)
--     p:changed()                 the sorted names of the fields changed since the last load or save
--     p:relate("likes", post, data), p:related("->likes->post")   graph edges (see `surrealdb.orm.edge`)
--
-- Saving checks every field first (`surrealdb.orm.fields`) and raises one ValidationError whose
-- `fields` table maps each failing field to its reason, before anything is sent. Unknown keys are
-- refused (in `new`, `create`, and when assigned) unless the model has `strict = false`; `id` (and
-- `in`/`out` of an edge) are always known. A saved record's `id` cannot be changed, nor can a
-- `readonly` field.
--
-- What a save sends: a new record is `CREATE ONLY person CONTENT $data` (or `CREATE ONLY $id
-- CONTENT $data` when it has an id); a saved one `UPDATE ONLY $id MERGE $data` with the fields
-- changed since it was loaded (found by comparing with a copy taken at load time for tables such as
-- arrays, so `p.tags[#p.tags + 1] = "x"` counts as a change). A field set to nil is sent as NONE,
-- which removes it; keys removed from a nested object are sent as NONE too, since SurrealDB's MERGE
-- merges nested objects. With nothing changed `save` sends nothing. `auto_now_add` DateTime fields
-- are set when the record is created, `auto_now` ones at every save that sends something.
--
-- Hooks are methods of the model, defined as `function Person:before_save() ... end` or given in
-- the options table: `before_save` and `before_delete` run first (raise to stop), `after_save`
-- and `after_delete` run when the database has answered. `bulk_insert` runs no hooks.
--
-- Filters of `where` and `find_by` may hold records as values (`{ friend = ann }`): they are
-- compared by id. Records fetched through a link (`:fetch("friend")`) become records of the linked
-- table's model when one is defined.
--
-- @module surrealdb.orm.model
-- @usage
-- local orm, f = require("surrealdb.orm"), require("surrealdb.orm.fields")
-- local Person = orm.model("person", {
--   name = f.String{ required = true, max_length = 100 },
--   age = f.Int{ min = 0, max = 150 },
-- }, { db = db })
-- local p = Person:create{ name = "Ann", age = 30 }
-- p.age = 31; p:save()
-- for _, adult in ipairs(Person:where{ age__gte = 18 }:order_by("-age"):limit(10):all()) do print(adult.name) end
local errors = require("surrealdb.errors")
local types = require("surrealdb.types")
local filter = require("surrealdb.orm.filter")
local query = require("surrealdb.orm.query")
local fields = require("surrealdb.orm.fields")

local model = {}

local Model = { __name = "surrealdb.orm.Model" }
Model.__index = Model

-- The methods of records.
local Record = {}

-- Private keys of a record's table: its values as loaded or given, its changes since, the copies of
-- its container fields taken at load time, and whether the database holds it.
local VALUES, CHANGES, SNAPSHOT, SAVED = {}, {}, {}, {}
-- A change that sets a field to nil.
local UNSET = setmetatable({}, { __name = "surrealdb.orm.UNSET" })

local hook_names = { before_save = true, after_save = true, before_delete = true, after_delete = true }

local function model_error(message, level)
  errors.raise("ModelError", message, nil, (level or 1) + 1)
end

local function validation_error(model_name, reasons, level, extra)
  local names = {}
  for name in pairs(reasons) do names[#names + 1] = name end
  table.sort(names)
  local parts = {}
  for i, name in ipairs(names) do parts[i] = name .. " " .. reasons[name] end
  local fields_table = {}
  for k, v in pairs(reasons) do fields_table[k] = v end
  local err = errors.new("ValidationError", ("%s: %d invalid field%s: %s"):format(model_name, #names,
    #names == 1 and "" or "s", table.concat(parts, "; ")), { fields = fields_table })
  if extra then
    for k, v in pairs(extra) do err[k] = v end
  end
  error(err, (level or 1) + 1)
end

local function is_model(value)
  return getmetatable(value) == Model
end

local function is_record(value)
  local mt = getmetatable(value)
  return type(mt) == "table" and mt.__model ~= nil
end

-- Keys every record knows besides its fields.
local function is_implicit(m, key)
  return key == "id" or (m.edge ~= nil and (key == "in" or key == "out"))
end

-- The current value of a key of a record (its change, else its loaded value).
local function current(record, key)
  local changes = rawget(record, CHANGES)
  if changes then
    local change = changes[key]
    if change ~= nil then
      if change == UNSET then return nil end
      return change
    end
  end
  return rawget(record, VALUES)[key]
end

local function client_of(m)
  local db = m.db
  if db == nil then
    model_error(("model %s has no client: give it one with orm.model(name, fields, { db = db })"):format(m.name), 3)
  end
  return db
end

-- Record metatables ------------------------------------------------------------------------------

local function make_record_mt(m)
  local mt = { __name = "surrealdb.orm.Record", __model = m }
  mt.__index = function(record, key)
    local method = Record[key]
    if method ~= nil then return method end
    local value = current(record, key)
    if value ~= nil or m.fields[key] ~= nil then return value end
    -- Methods the user defined on the model (`function Person:greet() ... end`) and hooks.
    local own = rawget(m, key)
    if type(own) == "function" then return own end
    return nil
  end
  mt.__newindex = function(record, key, value)
    if key == "id" then
      if rawget(record, SAVED) then
        model_error(("%s: the id of a saved record cannot change (it is %s)"):format(m.name, tostring(record.id)), 2)
      end
      rawget(record, VALUES).id = value
      return
    end
    if m.fields[key] == nil and not is_implicit(m, key) and m.strict then
      validation_error(m.name, { [tostring(key)] = "is not a field of " .. m.name }, 2)
    end
    local changes = rawget(record, CHANGES)
    if changes == nil then
      changes = {}
      rawset(record, CHANGES, changes)
    end
    if value == nil then value = UNSET end
    changes[key] = value
  end
  mt.__tostring = function(record)
    local id = rawget(record, VALUES).id
    return ("%s(%s)"):format(m.name, id ~= nil and tostring(id) or "unsaved")
  end
  return mt
end

-- Models -----------------------------------------------------------------------------------------

local record_method_names = {}

local function check_field_names(name, defs)
  if type(defs) ~= "table" then
    model_error(("orm.model(%q, fields): the fields must be a table of f.* fields"):format(name), 3)
  end
  for key, field in pairs(defs) do
    if type(key) ~= "string" or not key:find("^[A-Za-z_][A-Za-z0-9_]*$") then
      model_error(("model %s: field name %s is not an identifier (ASCII letters, digits and _)")
        :format(name, tostring(key)), 3)
    end
    if getmetatable(field) ~= fields.Field then
      model_error(("model %s: field %s must be a field such as f.String(), got %s")
        :format(name, key, fields.describe(field)), 3)
    end
    if key == "id" or key == "in" or key == "out" or record_method_names[key] or hook_names[key] then
      model_error(("model %s: %s cannot be a field name (it is the record's id, an edge end, or a method)")
        :format(name, key), 3)
    end
  end
end

local model_options = {
  db = true, strict = true, description = true, before_save = true, after_save = true,
  before_delete = true, after_delete = true,
}

--- Make a model of a table.
-- Also reachable as `orm.model(name, fields, options)`.
-- @tparam string name the table, an identifier (ASCII letters, digits and `_`)
-- @tparam table defs field name to field (`f.String{...}`, see `surrealdb.orm.fields`)
-- @tparam[opt] table options `db` (the client), `strict` (default true: unknown keys are refused;
--   false also makes the schema SCHEMALESS), `description` (the table's COMMENT), and hooks
--   `before_save`, `after_save`, `before_delete`, `after_delete` (functions of the record)
-- @treturn Model
-- @raise ModelError for a name that is not an identifier, a field that is not a field, a field
--   named like a method, or an unknown option
-- @usage local Person = model.new("person", { name = f.String{ required = true } }, { db = db })
function model.new(name, defs, options)
  if type(name) ~= "string" or filter.identifier(name) == nil then
    model_error(("orm.model expects a table name that is an identifier, got %s"):format(fields.describe(name)), 2)
  end
  options = options or {}
  if type(options) ~= "table" then model_error("orm.model: options must be a table", 2) end
  for key, value in pairs(options) do
    if not model_options[key] then model_error(("orm.model(%q): unknown option %s"):format(name, tostring(key)), 2) end
    if hook_names[key] and type(value) ~= "function" then
      model_error(("orm.model(%q): hook %s must be a function"):format(name, key), 2)
    end
  end
  check_field_names(name, defs)
  local names = {}
  for key in pairs(defs) do names[#names + 1] = key end
  table.sort(names)
  local containers, readers, defaulted, stamped = {}, {}, {}, {}
  for _, key in ipairs(names) do
    local field = defs[key]
    if field:is_container() then containers[#containers + 1] = key end
    if field:reads_as_is() == false then readers[#readers + 1] = key end
    if field.default ~= nil then defaulted[#defaulted + 1] = key end
    if field.auto_now or field.auto_now_add then stamped[#stamped + 1] = key end
  end
  local table_value = types.Table(name)
  local m = setmetatable({
    name = name,
    table = name,
    table_value = table_value,
    create_sql = "CREATE ONLY " .. query.table_text(table_value) .. " CONTENT $data",
    fields = defs,
    field_names = names,
    container_names = containers,
    readers = readers,
    defaulted_names = defaulted,
    stamped_names = stamped,
    db = options.db,
    strict = options.strict ~= false,
    description = options.description,
  }, Model)
  for hook in pairs(hook_names) do
    if options[hook] then rawset(m, hook, options[hook]) end
  end
  m.record_mt = make_record_mt(m)
  fields.registry[name] = m
  return m
end

--- Whether a value is a model.
-- @param value any value
-- @treturn boolean
-- @usage if model.is_model(Person) then ... end
model.is_model = is_model

--- Whether a value is a record of a model.
-- @param value any value
-- @treturn boolean
-- @usage if model.is_record(p) then print(p.id) end
model.is_record = is_record

--- The model of a record.
-- @param record a record
-- @treturn Model|nil
-- @usage local Person = model.of(p)
function model.of(record)
  local mt = getmetatable(record)
  return type(mt) == "table" and mt.__model or nil
end

-- Take a copy of the container fields of `values`, to find changes made inside them.
local function snapshot(m, values)
  local containers = m.container_names
  if #containers == 0 then return nil end
  local copy
  for i = 1, #containers do
    local key = containers[i]
    local value = values[key]
    if type(value) == "table" then
      copy = copy or {}
      copy[key] = fields.copy(value)
    end
  end
  return copy
end

-- Convert a row's values as the database returns them to the fields' Lua types, in place: only
-- the fields whose values may need it (`m.readers`; strings, booleans, numbers and Any never do).
local function convert_row(m, row)
  local readers = m.readers
  for i = 1, #readers do
    local key = readers[i]
    local value = row[key]
    if value ~= nil then row[key] = m.fields[key]:from_db(value) end
  end
  return row
end

-- Fill a record's values from a record as the database returns it (the table is taken over).
local function load(record, m, row)
  convert_row(m, row)
  rawset(record, VALUES, row)
  rawset(record, CHANGES, nil)
  rawset(record, SNAPSHOT, snapshot(m, row))
  rawset(record, SAVED, row.id ~= nil)
  return record
end

-- A shallow copy of a table of values.
local function copy_table(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

--- A record from a table as the database returns it: its values converted to the fields' Lua
-- types; it counts as saved when it has an `id`. The table is copied.
-- @tparam table row a record (`{ id = RecordID, ... }`)
-- @return a record of this model
-- @usage local p = Person:from_table(db:query("SELECT * FROM ONLY person:ann"))
function Model:from_table(row)
  if type(row) ~= "table" then
    errors.raise("ValidationError", ("%s:from_table expects a table, got %s"):format(self.name, fields.describe(row)))
  end
  return load(setmetatable({}, self.record_mt), self, copy_table(row))
end

-- A record from a row the caller no longer uses (the path of every record read by a query).
local function adopt(m, row)
  convert_row(m, row)
  local copy = #m.container_names > 0 and snapshot(m, row) or nil
  return setmetatable({ [VALUES] = row, [SNAPSHOT] = copy, [SAVED] = row.id ~= nil }, m.record_mt)
end

--- A new record, not saved yet: the given values, and each missing field's default.
-- @tparam[opt] table data field values (and optionally `id`)
-- @return a record
-- @raise ValidationError naming the keys that are not fields (unless the model is not strict)
-- @usage local p = Person:new{ name = "Ann" }; p.age = 30; p:save()
-- A new record of `m` from `data`; unknown keys are refused when `check_keys` (else the save that
-- follows reports them with the other fields).
local function build(m, data, check_keys, method)
  data = data or {}
  if type(data) ~= "table" or getmetatable(data) ~= nil then
    errors.raise("ValidationError", ("%s:%s expects a table of fields, got %s"):format(m.name, method,
      fields.describe(data)), nil, 3)
  end
  local values = {}
  local unknown
  for key, value in pairs(data) do
    if check_keys and m.fields[key] == nil and not is_implicit(m, key) and m.strict then
      unknown = unknown or {}
      unknown[tostring(key)] = "is not a field of " .. m.name
    end
    values[key] = value
  end
  if unknown then validation_error(m.name, unknown, 3) end
  local defaulted = m.defaulted_names
  for i = 1, #defaulted do
    local key = defaulted[i]
    if values[key] == nil then values[key] = m.fields[key]:default_value() end
  end
  return setmetatable({ [VALUES] = values, [SAVED] = false }, m.record_mt)
end

--- A new record, not saved yet: the given values, and each missing field's default.
-- @tparam[opt] table data field values (and optionally `id`)
-- @return a record
-- @raise ValidationError naming the keys that are not fields (unless the model is not strict)
-- @usage local p = Person:new{ name = "Ann" }; p.age = 30; p:save()
function Model:new(data)
  return build(self, data, true, "new")
end

--- Make a record and save it (as `Model:new(data):save()`, with unknown keys reported in the same
-- ValidationError as every other failing field).
-- @tparam table data field values (and optionally `id`)
-- @return the saved record, with the values the database stored
-- @raise ValidationError before anything is sent; QueryError when the database refuses
-- @usage local ann = Person:create{ name = "Ann", age = 30 }
function Model:create(data)
  return build(self, data, false, "create"):save()
end

-- The RecordID of `id` in this model's table.
local function record_id(m, id, method)
  if getmetatable(id) == types.RecordID then
    if id.tb ~= m.table then
      errors.raise("ValidationError", ("%s:%s: %s is not a record of %s"):format(m.name, method, tostring(id), m.table),
        nil, 3)
    end
    return id
  end
  if is_record(id) then return record_id(m, id.id, method) end
  if type(id) == "string" and id:find(":", 1, true) then
    return record_id(m, types.RecordID.parse(id), method)
  end
  if type(id) == "string" or math.type(id) == "integer" then return types.RecordID(m.table, id) end
  errors.raise("ValidationError", ("%s:%s expects a record id (\"%s:ann\", a key, or a RecordID), got %s")
    :format(m.name, method, m.table, fields.describe(id)), nil, 3)
end

--- The record with an id, or nil.
-- @param id a RecordID, its text (`"person:ann"`), or a key of this table (`"ann"`, `7`)
-- @return a record, or nil
-- @usage local ann = Person:get("person:ann") or Person:get("ann")
function Model:get(id)
  local rid = record_id(self, id, "get")
  local row = query.new(client_of(self), rid):first()
  if row == nil then return nil end
  return adopt(self, row)
end

-- Model query sets --------------------------------------------------------------------------------

local ModelQuery = { __name = "surrealdb.orm.ModelQuery" }
ModelQuery.__index = ModelQuery

local function model_query(m, qs)
  return setmetatable({ model = m, qs = qs }, ModelQuery)
end

--- The model query set of every record of the model.
-- @treturn ModelQuery
-- @usage local n = Person:query():count()
function Model:query()
  return model_query(self, query.new(client_of(self), self.table_value))
end

--- The records a filter matches (see `surrealdb.orm.filter` for lookups and Q objects).
-- @param spec a filter table or a Q
-- @treturn ModelQuery
-- @usage local adults = Person:where{ age__gte = 18 }:order_by("-age"):limit(10):all()
function Model:where(spec)
  return self:query():where(spec)
end

--- The first record a filter matches, or nil.
-- @param spec a filter table or a Q
-- @return a record, or nil
-- @usage local ann = Person:find_by{ email = "ann@example.com" }
function Model:find_by(spec)
  return self:where(spec):first()
end

--- Keep the records a filter also matches. @see surrealdb.orm.query.QuerySet:where
-- @treturn ModelQuery
-- @usage local q = Person:query():where{ age__gte = 18 }
function ModelQuery:where(spec)
  return model_query(self.model, self.qs:where(spec))
end

--- Sort by fields (`"-age"` descending). @see surrealdb.orm.query.QuerySet:order_by
-- @treturn ModelQuery
-- @usage local q = Person:query():order_by("-age", "name")
function ModelQuery:order_by(...)
  return model_query(self.model, self.qs:order_by(...))
end

--- At most `n` records.
-- @treturn ModelQuery
-- @usage local q = Person:query():limit(10)
function ModelQuery:limit(n)
  return model_query(self.model, self.qs:limit(n))
end

--- Skip the first `n` records.
-- @treturn ModelQuery
-- @usage local q = Person:query():order_by("name"):offset(20)
function ModelQuery:offset(n)
  return model_query(self.model, self.qs:offset(n))
end

--- Replace record links by the records they point to (SurrealQL FETCH); a fetched record becomes a
-- record of its table's model when one is defined.
-- @tparam string ... link fields
-- @treturn ModelQuery
-- @usage local p = Person:where{ name = "Ann" }:fetch("friend"):first(); print(p.friend.name)
function ModelQuery:fetch(...)
  return model_query(self.model, self.qs:fetch(...))
end

local function adopt_all(m, rows)
  local out = types.array()
  for i = 1, #rows do out[i] = adopt(m, rows[i]) end
  return out
end

--- The matching records.
-- @treturn table an array of records
-- @usage for _, p in ipairs(Person:where{ age__gte = 18 }:all()) do print(p.name) end
function ModelQuery:all()
  return adopt_all(self.model, self.qs:all())
end

--- The first matching record, or nil.
-- @return a record or nil
-- @usage local oldest = Person:query():order_by("-age"):first()
function ModelQuery:first()
  local row = self.qs:first()
  return row and adopt(self.model, row)
end

--- How many records match.
-- @treturn integer
-- @usage local adults = Person:where{ age__gte = 18 }:count()
function ModelQuery:count()
  return self.qs:count()
end

--- Whether any record matches.
-- @treturn boolean
-- @usage if Person:where{ email = e }:exists() then ... end
function ModelQuery:exists()
  return self.qs:exists()
end

--- Call `fn(record)` for each matching record, `batch_size` records per query; stops when `fn`
-- returns false.
-- @tparam function fn
-- @tparam[opt=100] integer batch_size
-- @treturn integer how many records `fn` was called with
-- @usage Person:query():order_by("name"):each(function(p) print(p.name) end)
function ModelQuery:each(fn, batch_size)
  if type(fn) ~= "function" then errors.raise("ValidationError", "each expects a function, got " .. type(fn)) end
  local m = self.model
  return self.qs:each(function(row) return fn(adopt(m, row)) end, batch_size)
end

--- Page `n` (from 1) of `size` records.
-- @treturn table an array of records
-- @usage local second = Person:query():order_by("name"):page(2, 20)
function ModelQuery:page(n, size)
  return adopt_all(self.model, self.qs:page(n, size))
end

--- The SurrealQL and variables of the select statement; sends nothing.
-- @treturn string
-- @treturn table
-- @usage print(Person:where{ age__gte = 18 }:compile())
function ModelQuery:compile(kind)
  return self.qs:compile(kind)
end

model.ModelQuery = ModelQuery

-- Saving ------------------------------------------------------------------------------------------

-- Whether the value of container field `key` differs from the copy taken at load time.
local function container_changed(record, key)
  local copy = rawget(record, SNAPSHOT)
  local old = copy and copy[key]
  if old == nil then old = rawget(record, VALUES)[key] end
  local now = current(record, key)
  if old == nil or now == nil then return old ~= now end
  return not types.equal(old, now)
end

--- The names of the fields changed since the record was loaded or saved, sorted (every set field
-- of a record not saved yet).
-- @treturn table an array of names
-- @usage p.age = 32; print(table.concat(p:changed(), ", "))  --> age
function Record:changed()
  local m = getmetatable(self).__model
  local names, seen = {}, {}
  if not rawget(self, SAVED) then
    for key, value in pairs(rawget(self, VALUES)) do
      if key ~= "id" and value ~= nil then seen[key] = true end
    end
  end
  local changes = rawget(self, CHANGES)
  if changes then
    for key in pairs(changes) do seen[key] = true end
  end
  for _, key in ipairs(m.container_names) do
    if not seen[key] and rawget(self, SAVED) and container_changed(self, key) then seen[key] = true end
  end
  for key in pairs(seen) do names[#names + 1] = tostring(key) end
  table.sort(names)
  return names
end

-- The keys of the record's current values (loaded and changed).
local function current_keys(record)
  local keys = {}
  for key in pairs(rawget(record, VALUES)) do keys[key] = true end
  local changes = rawget(record, CHANGES)
  if changes then
    for key in pairs(changes) do keys[key] = true end
  end
  return keys
end

-- A key of a record that may not be a field: refused (added to `reasons`, which is returned) on a
-- strict model, else its current value goes into `out`.
local function other_key(record, m, key, out, reasons)
  if m.fields[key] ~= nil or key == "id" then return reasons end
  if m.strict and not is_implicit(m, key) then
    reasons = reasons or {}
    reasons[tostring(key)] = "is not a field of " .. m.name
  else
    out[key] = current(record, key)
  end
  return reasons
end

-- Check every field of a record; return the values to send, or raise one ValidationError (with
-- the reasons already found in `reasons`, if any).
local function checked_values(record, m, level, extra, reasons)
  local out = {}
  local defs, names = m.fields, m.field_names
  for i = 1, #names do
    local key = names[i]
    local ok, result = defs[key]:check(current(record, key))
    if ok then
      out[key] = result
    else
      reasons = reasons or {}
      reasons[key] = result
    end
  end
  -- Keys that are not fields: loaded ones (with any change), then ones only changed.
  local values, changes = rawget(record, VALUES), rawget(record, CHANGES)
  for key in pairs(values) do reasons = other_key(record, m, key, out, reasons) end
  if changes then
    for key in pairs(changes) do
      if values[key] == nil then reasons = other_key(record, m, key, out, reasons) end
    end
  end
  if reasons then validation_error(m.name, reasons, level + 1, extra) end
  return out
end

-- A changed nested object as MERGE must receive it: keys it lost are NONE (MERGE merges objects).
local function merge_value(new, old)
  if type(new) ~= "table" or type(old) ~= "table" then return new end
  local plain = function(v)
    local mt = getmetatable(v)
    return (mt == nil or mt == types.object_mt) and not types.is_array(v)
  end
  if not plain(new) or not plain(old) then return new end
  local out = types.object()
  for k, v in pairs(new) do out[k] = merge_value(v, old[k]) end
  for k in pairs(old) do
    if new[k] == nil then out[k] = types.NONE end
  end
  return out
end

-- Set the DateTime fields that ask for it to now: `auto_now` always, `auto_now_add` when the
-- record is being created and has no value. Returns the names set.
local function stamp(record, m, creating)
  local stamped = m.stamped_names
  local now, names = nil, {}
  for i = 1, #stamped do
    local key = stamped[i]
    local field = m.fields[key]
    if field.auto_now or (field.auto_now_add and creating and current(record, key) == nil) then
      now = now or types.Datetime.now()
      record[key] = now
      names[#names + 1] = key
    end
  end
  return names
end

local function run_hook(record, m, name)
  local hook = rawget(m, name)
  if hook then hook(record) end
end

--- Save the record: create it, or send its changed fields.
-- Runs `before_save`, checks every field (one ValidationError listing each failing field, nothing
-- sent), sends the statement, loads what the database stored, runs `after_save`.
-- @return the record
-- @raise ValidationError, or QueryError when the database refuses (a unique index, an ASSERT)
-- @usage local p = Person:new{ name = "Ann" }; p:save(); p.age = 31; p:save()
function Record:save()
  local m = getmetatable(self).__model
  local db = client_of(m)
  run_hook(self, m, "before_save")
  local saved = rawget(self, SAVED)
  local changed
  if saved then
    changed = self:changed()
    if #changed == 0 then
      run_hook(self, m, "after_save")
      return self
    end
  end
  local stamped = stamp(self, m, not saved)
  if saved then table.move(stamped, 1, #stamped, #changed + 1, changed) end
  local readonly
  if saved then
    for _, key in ipairs(changed) do
      local field = m.fields[key]
      if field and field.readonly then
        readonly = readonly or {}
        readonly[key] = "is read-only once the record is saved"
      end
    end
  end
  local values = checked_values(self, m, 2, nil, readonly)
  local result
  if saved then
    local copy = rawget(self, SNAPSHOT)
    local data = {}
    for _, key in ipairs(changed) do
      local value = values[key]
      if value == nil then value = types.NONE end
      if copy and copy[key] ~= nil then value = merge_value(value, copy[key]) end
      data[key] = value
    end
    result = db:query("UPDATE ONLY $id MERGE $data", { id = self.id, data = data })
  else
    local id = rawget(self, VALUES).id
    if id ~= nil then
      result = db:query("CREATE ONLY $id CONTENT $data", { id = record_id(m, id, "save"), data = values })
    else
      result = db:query(m.create_sql, { data = values })
    end
  end
  if type(result) ~= "table" then
    model_error(("%s: the database did not return the saved record (%s)"):format(m.name, tostring(result)), 2)
  end
  load(self, m, result)
  run_hook(self, m, "after_save")
  return self
end

--- Delete the record. Runs `before_delete`, then `after_delete`; the record becomes unsaved (its
-- values are kept, so `save` would create it again).
-- @treturn boolean whether the database held it
-- @usage p:delete()
function Record:delete()
  local m = getmetatable(self).__model
  local db = client_of(m)
  if not rawget(self, SAVED) then
    model_error(("%s: delete of a record that is not saved"):format(m.name), 2)
  end
  run_hook(self, m, "before_delete")
  local id = self.id
  local before = query.run(db, "DELETE ONLY $id RETURN BEFORE", { id = id }, { kind = "record", value = id })
  rawset(self, SAVED, false)
  run_hook(self, m, "after_delete")
  return type(before) == "table"
end

--- Read the record again from the database (changes not saved are dropped).
-- @return the record, or nil when the database no longer holds it
-- @usage p:refresh()
function Record:refresh()
  local m = getmetatable(self).__model
  local id = self.id
  if id == nil then model_error(("%s: refresh of a record without an id"):format(m.name), 2) end
  local row = query.new(client_of(m), id):first()
  if row == nil then return nil end
  return load(self, m, row)
end

--- The record as a plain table, as it is sent: its id and each field's value converted by the
-- field (a linked record becomes its id); values a field refuses are given as they are.
-- `Model:from_table(p:to_table())` is a record equal to `p`.
-- @treturn table
-- @usage local t = p:to_table(); print(t.id, t.name)
function Record:to_table()
  local m = getmetatable(self).__model
  local out = {}
  for key in pairs(current_keys(self)) do
    local value = current(self, key)
    local field = m.fields[key]
    if field and value ~= nil then
      local ok, converted = field:check(value)
      if ok then value = converted end
    end
    out[key] = fields.copy(value)
  end
  return out
end

-- Bulk ----------------------------------------------------------------------------------------------

--- Check every row as a new record (defaults and `auto_now_add` filled in), then insert them all
-- with the client's bulk engine: `db:bulk(opts):insert(table, rows)`. Nothing is sent when a row
-- fails: the ValidationError's `fields` maps `"[i].field"` to each reason and `rows[i]` holds the
-- reasons of row i. Hooks are not run.
-- @tparam table rows an array of tables of field values
-- @tparam[opt] table opts the options of `db:bulk` (batch size, concurrency, ...)
-- @return what `db:bulk(...):insert` returns (a BulkResult)
-- @raise ValidationError; ModelError when the client has no `bulk`
-- @usage local result = Person:bulk_insert({ { name = "Ann" }, { name = "Bob" } }, { batch_size = 500 })
function Model:bulk_insert(rows, opts)
  local db = client_of(self)
  if type(rows) ~= "table" or (next(rows) ~= nil and not types.is_array(rows)) then
    errors.raise("ValidationError", ("%s:bulk_insert expects an array of rows, got %s"):format(self.name,
      fields.describe(rows)), nil, 2)
  end
  if type(db.bulk) ~= "function" then
    model_error(("%s:bulk_insert needs db:bulk (surrealdb.bulk), which this client does not have"):format(self.name), 2)
  end
  local checked, all_reasons, per_row = types.array(), nil, nil
  for i = 1, #rows do
    local ok, result = pcall(build, self, rows[i], false, "bulk_insert")
    local values
    if ok then
      local record = result
      stamp(record, self, true)
      ok, result = pcall(checked_values, record, self, 1)
      if ok then
        values = result
        local id = rawget(record, VALUES).id
        if id ~= nil then values.id = record_id(self, id, "bulk_insert") end
      end
    end
    if not ok then
      if not errors.is(result, "ValidationError") or result.fields == nil then error(result, 0) end
      all_reasons, per_row = all_reasons or {}, per_row or {}
      per_row[i] = result.fields
      for key, reason in pairs(result.fields) do all_reasons[("[%d].%s"):format(i, key)] = reason end
    end
    checked[i] = values
  end
  if all_reasons then validation_error(self.name, all_reasons, 2, { rows = per_row }) end
  return db:bulk(opts):insert(self.table_value, checked)
end

-- Relations ----------------------------------------------------------------------------------------

local function edge_model(edge, method)
  if is_model(edge) then
    if edge.edge == nil then
      errors.raise("ValidationError", ("%s: %s is a model, not an edge (make it with orm.edge)"):format(method,
        edge.name), nil, 3)
    end
    return edge
  end
  if type(edge) ~= "string" or filter.identifier(edge) == nil then
    errors.raise("ValidationError", ("%s expects an edge (orm.edge) or an edge table name that is an identifier, "
      .. "got %s"):format(method, type(edge) == "string" and string.format("%q", edge) or fields.describe(edge)),
      nil, 3)
  end
  local found = fields.model_of(edge)
  if found == nil or found.edge == nil then
    errors.raise("ValidationError", ("%s: no edge named %s (define it with orm.edge(%q, { from =, to = }))")
      :format(method, edge, edge), nil, 3)
  end
  return found
end

--- Relate this record to another through an edge (SurrealQL `RELATE`).
-- The edge's fields check `data`; its `to` model (when it has one) must be the target's.
-- @param edge an edge (`orm.edge(...)`) or its name
-- @param target a saved record, or a RecordID
-- @tparam[opt] table data the edge's field values
-- @return the edge record
-- @raise ValidationError before anything is sent
-- @usage local like = ann:relate("likes", post, { weight = 3 })
function Record:relate(edge, target, data)
  local m = getmetatable(self).__model
  local Edge = edge_model(edge, "relate")
  local from, to = self.id, target
  if is_record(target) then to = target.id end
  if not rawget(self, SAVED) or from == nil then
    errors.raise("ValidationError", ("relate: the %s record is not saved"):format(m.name), nil, 2)
  end
  if getmetatable(to) ~= types.RecordID then
    errors.raise("ValidationError", "relate expects a saved record or a RecordID as its target, got "
      .. fields.describe(target), nil, 2)
  end
  local spec = Edge.edge
  if spec.from and spec.from.table ~= from.tb then
    errors.raise("ValidationError", ("relate: %s goes from %s records, not from %s"):format(Edge.name, spec.from.table,
      tostring(from)), nil, 2)
  end
  if spec.to and spec.to.table ~= to.tb then
    errors.raise("ValidationError", ("relate: %s goes to %s records, not to %s"):format(Edge.name, spec.to.table,
      tostring(to)), nil, 2)
  end
  local record = build(Edge, data, false, "relate")
  stamp(record, Edge, true)
  local values = checked_values(record, Edge, 2)
  local sql = "RELATE ONLY $from->" .. query.table_text(Edge.table_value) .. "->$to CONTENT $data"
  local row = client_of(Edge):query(sql, { from = from, to = to, data = values })
  return adopt(Edge, row)
end

--- Parse a graph path such as `->likes->post` or `<-wrote<-person` into SurrealQL; raise for
-- anything but arrows (`->`, `<-`, `<->`) each followed by an identifier or `?`.
-- @tparam string path
-- @treturn string the path's SurrealQL (reserved words bracketed)
-- @treturn string|nil the table of the last step, or nil when it is `?`
-- @raise ValidationError naming the position that is not allowed
-- @usage model.graph_path("->likes->post")  --> "->likes->post", "post"
function model.graph_path(path)
  if type(path) ~= "string" or path == "" then
    errors.raise("ValidationError", "a graph path must be a string such as \"->likes->post\", got "
      .. fields.describe(path), nil, 2)
  end
  local out, last = {}, nil
  local pos = 1
  while pos <= #path do
    local arrow = path:match("^<%->", pos) or path:match("^%->", pos) or path:match("^<%-", pos)
    if arrow == nil then
      errors.raise("ValidationError", ("graph path %q: expected ->, <- or <-> at position %d"):format(path, pos),
        { details = { path = path, position = pos } }, 2)
    end
    pos = pos + #arrow
    local name = path:match("^[A-Za-z_][A-Za-z0-9_]*", pos)
    local text
    if path:sub(pos, pos) == "?" then
      name, text = nil, "?"
      pos = pos + 1
    elseif name then
      text = filter.identifier(name)
      pos = pos + #name
    else
      errors.raise("ValidationError", ("graph path %q: expected a table name (ASCII letters, digits and _) or ? at "
        .. "position %d"):format(path, pos), { details = { path = path, position = pos } }, 2)
    end
    out[#out + 1] = arrow .. text
    last = name
  end
  return table.concat(out), last
end

--- The records reached from this record along a graph path (`->likes->post`, `<-likes<-person`,
-- `->likes->?`). Each is a record of its table's model when one is defined.
-- @tparam string path arrows and table names (or `?`) only; checked, never pasted as given
-- @treturn table an array of records
-- @usage for _, post in ipairs(ann:related("->likes->post")) do print(post.title) end
function Record:related(path)
  local m = getmetatable(self).__model
  local text = model.graph_path(path)
  local id = self.id
  if id == nil then errors.raise("ValidationError", ("related: the %s record has no id"):format(m.name), nil, 2) end
  local rows = client_of(m):query("SELECT * FROM $id" .. text, { id = id })
  local out = types.array()
  for i, row in ipairs(type(rows) == "table" and rows or {}) do
    local target = type(row) == "table" and getmetatable(row.id) == types.RecordID and fields.model_of(row.id.tb)
    out[i] = target and adopt(target, row) or row
  end
  return out
end

for name in pairs(Record) do record_method_names[name] = true end

--- Make an edge: a model of a relation table whose records link a `from` record to a `to` record.
-- Also reachable as `orm.edge(name, spec)`.
-- @tparam string name the edge table
-- @tparam table spec `from` and `to` (models, optional), `db` (defaults to `from`'s client),
--   `strict`, `description`, and the edge's fields (`weight = f.Int()`)
-- @treturn Model an edge model; its records have `in` and `out`
-- @usage local Likes = orm.edge("likes", { from = Person, to = Post, weight = f.Int{ min = 1 } })
function model.edge(name, spec)
  if type(spec) ~= "table" then model_error("orm.edge expects a table with from, to and fields", 2) end
  local defs, options = {}, {}
  for key, value in pairs(spec) do
    if getmetatable(value) == fields.Field then
      defs[key] = value
    elseif key == "from" or key == "to" then
      if not is_model(value) then model_error(("orm.edge(%q): %s must be a model"):format(tostring(name), key), 2) end
    else
      options[key] = value
    end
  end
  if options.db == nil and spec.from then options.db = spec.from.db end
  local m = model.new(name, defs, options)
  m.edge = { from = spec.from, to = spec.to }
  return m
end

--- The SurrealQL that defines the model's table, fields and indexes (see `surrealdb.orm.schema`).
-- @tparam[opt] string mode nil, `"overwrite"` or `"if_not_exists"`
-- @treturn string
-- @usage print(Person:schema())
function Model:schema(mode)
  return require("surrealdb.orm.schema").text(self, mode)
end

--- Run the model's schema on its client.
-- @tparam[opt] table options `mode`: nil (fails when something is defined already), `"overwrite"`
--   or `"if_not_exists"`
-- @usage Person:apply_schema{ mode = "overwrite" }
function Model:apply_schema(options)
  return require("surrealdb.orm.schema").apply(self, client_of(self), options and options.mode)
end

model.Model = Model
model.Record = Record

return model
