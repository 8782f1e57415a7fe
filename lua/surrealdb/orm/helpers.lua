--- CRUD helpers: one call per common operation, each one parameterized SurrealQL statement.
--
-- `orm.helpers(db)` gives an object whose methods take tables and record ids as strings
-- (`"person"`, `"person:tobie"`), `Table` or `RecordID` values (see `surrealdb.orm.query` for the
-- rules), filters as tables or `Q` objects (see `surrealdb.orm.filter`), and return records as the
-- server sends them (a record is a table with its `id` as a `RecordID`).
--
-- The SurrealQL of each helper (the table is written as an identifier, the record bound as `$id`,
-- see `surrealdb.orm.query`):
--
--     insert_one(tb, data)        INSERT INTO person $data                -> the record
--     insert_many(tb, rows)       INSERT INTO person $rows                -> array of records
--     select_one(tb or id, f)     SELECT * FROM person|$id WHERE ... LIMIT $limit -> record or nil
--     select_many(tb, options)    SELECT * FROM person WHERE ... ORDER BY ... LIMIT ... START ... FETCH ...
--     update_one(id, data)        UPDATE ONLY $id CONTENT $data           -> record or nil (replaces all fields)
--     merge_one(id, data)         UPDATE ONLY $id MERGE $data             -> record or nil (sets the given fields)
--     upsert_one(id, data)        UPSERT ONLY $id CONTENT $data           -> record (created or replaced)
--     update_many(tb, f, data)    UPDATE person MERGE $data WHERE ...     -> array (sets the given fields)
--     delete_one(id)              DELETE ONLY $id RETURN BEFORE           -> the deleted record or nil
--     delete_many(tb, f)          DELETE person WHERE ... RETURN BEFORE   -> array of deleted records
--     count(tb or id, f)          SELECT count() FROM person WHERE ... GROUP ALL  -> integer
--     exists(tb or id, f)         SELECT VALUE id FROM person WHERE ... LIMIT 1   -> boolean
--
-- `update_one` replaces the record's content like `db:update`; `update_many` sets the given fields
-- on every match (as Django's `update()` does), since replacing many records by the same content is
-- never what is meant. `update_many` and `delete_many` need a filter: pass `{}` to mean every record.
-- The `_one` helpers return nil when the record does not exist (`upsert_one` creates it); a table
-- that does not exist yet holds no records (see `surrealdb.orm.query`).
-- `insert_one`/`insert_many` keep an `id` given in the data, and raise a QueryError when that record
-- already exists.
--
-- @module surrealdb.orm.helpers
-- @usage
-- local orm = require("surrealdb.orm")
-- local h = orm.helpers(db)
-- local ann = h:insert_one("person", { name = "Ann", age = 31 })
-- h:merge_one(ann.id, { age = 32 })
-- local adults = h:select_many("person", { where = { age__gte = 18 }, order_by = { "-age", "name" }, limit = 10 })
-- print(h:count("person", { age__gte = 18 }), h:exists("person", { name = "Ann" }))
local errors = require("surrealdb.errors")
local types = require("surrealdb.types")
local query = require("surrealdb.orm.query")

local helpers = {}

local Helpers = { __name = "surrealdb.orm.Helpers" }
Helpers.__index = Helpers

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

--- Make the helpers of a client.
-- Also reachable as `orm.helpers(db)`.
-- @param db a client (`surrealdb.connect(...)`), or anything with its `query(sql, vars)` method
-- @treturn Helpers
-- @usage local h = helpers.new(db)
function helpers.new(db)
  if type(db) ~= "table" or type(db.query) ~= "function" then
    invalid("orm.helpers expects a client (from surrealdb.connect), got " .. type(db))
  end
  return setmetatable({ db = db }, Helpers)
end

-- Check that a helper was called with `:`, and return the client.
local function client_of(self, method)
  if getmetatable(self) ~= Helpers then
    invalid(("%s is a method: call it as helpers:%s(...)"):format(method, method))
  end
  return self.db
end

local function is_object(data)
  local mt = getmetatable(data)
  return type(data) == "table" and (mt == nil or mt == types.object_mt) and not types.is_array(data)
end

local function check_data(data, method)
  if not is_object(data) then
    invalid(("%s expects the data as a table of fields such as { name = \"Ann\" }, got %s"):format(method,
      types.is_array(data) and "an array" or type(data)))
  end
  return data
end

local function check_filter(where, method)
  if where == nil then
    invalid(("%s needs a filter; pass {} to mean every record"):format(method))
  end
  return where
end

-- A single record from an `ONLY` statement (NONE when there is none).
local function one(result)
  if result == nil or result == types.NONE or result == types.null then return nil end
  return result
end

-- Run a statement on one record: `sql` with `$id` bound to the record, and `$data` to `data`
-- when the statement has it.
local function on_record(self, method, id, sql, data)
  local db = client_of(self, method)
  local target = query.target(id, "record", method)
  local vars = { id = target.value }
  if sql:find("$data", 1, true) then vars.data = check_data(data, method) end
  return one(query.run(db, sql, vars, target))
end

--- Insert one record into a table.
-- @param tb a table name or Table
-- @tparam table data the record's fields (an `id` is kept)
-- @return the inserted record
-- @raise QueryError when a record with that id exists
-- @usage local ann = h:insert_one("person", { name = "Ann" })
function Helpers:insert_one(tb, data)
  local db = client_of(self, "insert_one")
  local target = query.target(tb, "table", "insert_one")
  local result = db:query("INSERT INTO " .. query.table_text(target.value) .. " $data",
    { data = check_data(data, "insert_one") })
  return result and result[1]
end

--- Insert records into a table in one statement.
-- @param tb a table name or Table
-- @tparam table rows an array of records' fields
-- @treturn table an array of the inserted records (empty, and no query sent, for no rows)
-- @raise QueryError when a record with a given id exists (then none is inserted)
-- @usage h:insert_many("person", { { name = "Ann" }, { name = "Bob" } })
function Helpers:insert_many(tb, rows)
  local db = client_of(self, "insert_many")
  local target = query.target(tb, "table", "insert_many")
  local empty = type(rows) == "table" and getmetatable(rows) == nil and next(rows) == nil
  if not empty and not types.is_array(rows) then
    invalid("insert_many expects an array of records, got " .. (type(rows) == "table" and "a table that is not an array"
      or type(rows)))
  end
  local copy = types.array()
  for i = 1, #rows do
    if not is_object(rows[i]) then
      invalid(("insert_many: row %d is not a table of fields"):format(i), { row = i })
    end
    copy[i] = rows[i]
  end
  if #copy == 0 then return types.array() end
  return db:query("INSERT INTO " .. query.table_text(target.value) .. " $rows", { rows = copy }) or types.array()
end

--- The first record of a table that matches a filter, or the record with an id.
-- @param what a table name, Table, record id string or RecordID
-- @param[opt] where a filter table or Q (with a record id, the record must also match it)
-- @return the record, or nil
-- @usage local ann = h:select_one("person", { email = "ann@example.com" })
-- local tobie = h:select_one("person:tobie")
function Helpers:select_one(what, where)
  local qs = query.new(client_of(self, "select_one"), what)
  if where ~= nil then qs = qs:where(where) end
  return qs:first()
end

local select_options = { where = true, order_by = true, limit = true, offset = true, fetch = true }

--- The records of a table that match a filter, ordered, limited and fetched.
-- @param tb a table name or Table
-- @tparam[opt] table options `where` (a filter table or Q), `order_by` (an array of fields, `"-age"`
--   for descending, or one field), `limit`, `offset`, `fetch` (an array of fields, or one field)
-- @treturn table an array of records
-- @usage local page = h:select_many("person", { where = { age__gte = 18 }, order_by = { "-age", "name" },
--   limit = 20, offset = 40, fetch = { "friend" } })
function Helpers:select_many(tb, options)
  local db = client_of(self, "select_many")
  local qs = query.new(db, query.target(tb, "table", "select_many").value)
  options = options or {}
  if type(options) ~= "table" then invalid("select_many expects an options table, got " .. type(options)) end
  for key in pairs(options) do
    if not select_options[key] then
      invalid(("select_many: unknown option %s (known: where, order_by, limit, offset, fetch)"):format(tostring(key)),
        { option = key })
    end
  end
  local function list(value)
    if type(value) == "table" then return table.unpack(value) end
    return value
  end
  if options.where ~= nil then qs = qs:where(options.where) end
  if options.order_by ~= nil then qs = qs:order_by(list(options.order_by)) end
  if options.limit ~= nil then qs = qs:limit(options.limit) end
  if options.offset ~= nil then qs = qs:offset(options.offset) end
  if options.fetch ~= nil then qs = qs:fetch(list(options.fetch)) end
  return qs:all()
end

--- Replace the content of a record (fields not in `data` are removed).
-- @param id a record id string or RecordID
-- @tparam table data the record's new fields
-- @return the updated record, or nil when it does not exist
-- @usage h:update_one("person:ann", { name = "Ann", age = 32 })
function Helpers:update_one(id, data)
  return on_record(self, "update_one", id, "UPDATE ONLY $id CONTENT $data", data)
end

--- Set fields of a record (other fields are kept).
-- @param id a record id string or RecordID
-- @tparam table data the fields to set
-- @return the updated record, or nil when it does not exist
-- @usage h:merge_one(ann.id, { age = 33 })
function Helpers:merge_one(id, data)
  return on_record(self, "merge_one", id, "UPDATE ONLY $id MERGE $data", data)
end

--- Create a record with this id, or replace its content when it exists.
-- @param id a record id string or RecordID
-- @tparam table data the record's fields
-- @return the record
-- @usage h:upsert_one("setting:theme", { value = "dark" })
function Helpers:upsert_one(id, data)
  return on_record(self, "upsert_one", id, "UPSERT ONLY $id CONTENT $data", data)
end

--- Set fields on every record of a table that matches a filter.
-- @param tb a table name or Table
-- @param where a filter table or Q (`{}` for every record)
-- @tparam table data the fields to set
-- @treturn table an array of the updated records
-- @usage h:update_many("person", { age__lt = 18 }, { minor = true })
function Helpers:update_many(tb, where, data)
  local db = client_of(self, "update_many")
  local target = query.target(tb, "table", "update_many")
  return query.new(db, target.value):where(check_filter(where, "update_many")):update(check_data(data, "update_many"))
end

--- Delete a record.
-- @param id a record id string or RecordID
-- @return the deleted record, or nil when it did not exist
-- @usage h:delete_one("person:ann")
function Helpers:delete_one(id)
  return on_record(self, "delete_one", id, "DELETE ONLY $id RETURN BEFORE")
end

--- Delete every record of a table that matches a filter.
-- @param tb a table name or Table
-- @param where a filter table or Q (`{}` for every record)
-- @treturn table an array of the deleted records
-- @usage h:delete_many("session", { expires__lt = surrealdb.Datetime.now() })
function Helpers:delete_many(tb, where)
  local db = client_of(self, "delete_many")
  local target = query.target(tb, "table", "delete_many")
  return query.new(db, target.value):where(check_filter(where, "delete_many")):delete()
end

--- How many records of a table (or 0/1 for a record id) match a filter.
-- @param what a table name, Table, record id string or RecordID
-- @param[opt] where a filter table or Q
-- @treturn integer
-- @usage local adults = h:count("person", { age__gte = 18 })
function Helpers:count(what, where)
  local qs = query.new(client_of(self, "count"), what)
  if where ~= nil then qs = qs:where(where) end
  return qs:count()
end

--- Whether any record of a table (or the record with an id) matches a filter.
-- @param what a table name, Table, record id string or RecordID
-- @param[opt] where a filter table or Q
-- @treturn boolean
-- @usage if h:exists("person", { email = email }) then error("email taken") end
function Helpers:exists(what, where)
  local qs = query.new(client_of(self, "exists"), what)
  if where ~= nil then qs = qs:where(where) end
  return qs:exists()
end

helpers.Helpers = Helpers

return helpers
