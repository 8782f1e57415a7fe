--- Query sets: immutable, chainable queries of one table (or one record), compiled to
-- parameterized SurrealQL.
--
-- `orm.query(db, "person")` starts a query set; `where`, `order_by`, `limit`, `offset` and `fetch`
-- each return a new query set and never change the one they are called on, so a query set can be
-- kept and refined in several ways. Nothing is sent until `all`, `first`, `count`, `exists`,
-- `each`, `page`, `update` or `delete` runs it; `compile` gives the SurrealQL and its variables
-- without sending anything.
--
-- The target: a table is written into the statement as an identifier, a record is bound as `$id`
-- holding a `RecordID`. A table given as a string must be an identifier (ASCII letters, digits and
-- `_`, not starting with a digit; reserved words such as `select` are written `⟨select⟩`); any
-- other name is given as `surrealdb.Table("my-table")` and written escaped as SurrealDB escapes
-- identifiers (`⟨my-table⟩`, see `surrealdb.types.escape_ident`). A string with a `:` is a record
-- id (`"person:tobie"`, read by `RecordID.parse`). Why not bind the table too: SurrealDB 3.0.2
-- applies LIMIT and START before ORDER BY when the table of a SELECT is computed (`FROM $tb` or
-- `FROM type::table($tb)`), which returns wrong pages (measured; see surrealdb/surrealdb#7130 for
-- a relative); with the table written as an identifier the order is right.
--
-- Filter values are `$p1`, `$p2`, ... (see `surrealdb.orm.filter`), limit and offset are `$limit`
-- and `$start`. ORDER BY and FETCH name fields, which cannot be bound: they are checked as field
-- paths (`address__city`, written `address.city`).
--
-- A table that does not exist yet holds no records: SurrealDB 3.0 answers a read, update or delete
-- of a missing table with a NotFound error, which the query set turns into an empty result (only
-- that error, and only for the statement's own table).
--
-- The SurrealQL written (clauses in this order, each only when set):
--
--     SELECT * FROM person WHERE <filter> ORDER BY age DESC, name ASC LIMIT $limit START $start FETCH friend
--     SELECT count() FROM person WHERE <filter> GROUP ALL                       (count)
--     SELECT VALUE id FROM person WHERE <filter> LIMIT 1                        (exists)
--     UPDATE person MERGE $data WHERE <filter>                                  (update)
--     DELETE person WHERE <filter> RETURN BEFORE                                (delete)
--     SELECT * FROM $id WHERE <filter> ...                                      (a record)
--
-- @module surrealdb.orm.query
-- @usage
-- local orm = require("surrealdb.orm")
-- local adults = orm.query(db, "person"):where{ age__gte = 18 }
-- local oldest = adults:order_by("-age"):limit(10):all()
-- print(adults:count())
-- local sql, vars = adults:order_by("-age"):limit(10):compile()
-- --> SELECT * FROM person WHERE age >= $p1 ORDER BY age DESC LIMIT $limit
-- --  vars: { p1 = 18, limit = 10 }
local errors = require("surrealdb.errors")
local types = require("surrealdb.types")
local filter = require("surrealdb.orm.filter")

local query = {}

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

local function describe(value)
  local kind = type(value)
  if kind == "table" and getmetatable(value) ~= nil then
    local mt = getmetatable(value)
    return type(mt) == "table" and tostring(mt.__name) or tostring(mt)
  end
  return kind
end

--- Resolve the table or record a statement works on.
-- @param value a table name (`"person"`), a record id string (`"person:tobie"`), a Table or a RecordID
-- @tparam string accepts `"table"`, `"record"` or `"any"`
-- @tparam string method the caller's name, for errors
-- @treturn table `{ kind = "table", value = Table }` or `{ kind = "record", value = RecordID }`
-- @raise ValidationError for a name that is not an identifier, an unreadable record id, or a kind
--   the caller does not accept
-- @usage local target = query.target("person:tobie", "record", "update_one")
function query.target(value, accepts, method)
  local target
  if type(value) == "string" then
    if value:find(":", 1, true) then
      target = { kind = "record", value = types.RecordID.parse(value) }
    elseif value:find("^[A-Za-z_][A-Za-z0-9_]*$") then
      target = { kind = "table", value = types.Table(value) }
    else
      invalid(("%s: table name %q is not an identifier (ASCII letters, digits and _, not starting with a digit); "
        .. "give any other name as surrealdb.Table(name)"):format(method, value), { table = value })
    end
  elseif getmetatable(value) == types.Table then
    target = { kind = "table", value = value }
  elseif getmetatable(value) == types.RecordID then
    target = { kind = "record", value = value }
  else
    invalid(("%s expects a table name, a record id string, a Table or a RecordID; got %s")
      :format(method, describe(value)))
  end
  if accepts ~= "any" and target.kind ~= accepts then
    invalid(("%s expects a %s, got the %s %s"):format(method, accepts == "table" and "table" or "record id",
      target.kind == "table" and "table" or "record id", tostring(target.value)), { target = target.value })
  end
  return target
end

local QuerySet = { __name = "surrealdb.orm.QuerySet" }
QuerySet.__index = QuerySet

-- The empty list a new query set starts with (shared: no method changes a list in place).
local NO_ITEMS = setmetatable({}, {
  __newindex = function() error("the empty list of a query set is read-only", 2) end,
})

--- Start a query set over a table or one record.
-- Also reachable as `orm.query(db, source)`.
-- @param db a client (`surrealdb.connect(...)`); may be nil for a query set that is only compiled
-- @param source a table name, a record id string, a Table or a RecordID
-- @treturn QuerySet
-- @usage local people = query.new(db, "person")
function query.new(db, source)
  local target = query.target(source, "any", "orm.query")
  return setmetatable({ db = db, target = target, filters = NO_ITEMS, ordering = NO_ITEMS, fetches = NO_ITEMS },
    QuerySet)
end

-- A copy of `self` with its field `key` set to `value` (which may be nil). The lists are shared:
-- no method changes one in place, each builds a new list.
local function derive(self, key, value)
  local copy = {
    db = self.db, target = self.target, limit_count = self.limit_count, start = self.start,
    filters = self.filters, ordering = self.ordering, fetches = self.fetches,
  }
  copy[key] = value
  return setmetatable(copy, QuerySet)
end

--- Keep only the records a filter matches; several calls must all hold (AND).
-- @param spec a filter table (`{ age__gte = 18 }`) or a Q (see `surrealdb.orm.filter`)
-- @treturn QuerySet a new query set
-- @usage local adults = people:where{ age__gte = 18 }:where(Q{ city = "Paris" } | Q{ city = "Rome" })
function QuerySet:where(spec)
  if spec == nil then invalid("where expects a filter table or a Q, got nil") end
  local filters = table.move(self.filters, 1, #self.filters, 1, {})
  filters[#filters + 1] = filter.Q(spec)
  return derive(self, "filters", filters)
end

--- Sort by fields: `"age"` ascending, `"-age"` descending; replaces any earlier ordering.
-- With no argument the query set is unordered.
-- @tparam string ... field paths, `__` between segments (`"-address__city"`)
-- @treturn QuerySet a new query set
-- @usage local q = people:order_by("-age", "name")
function QuerySet:order_by(...)
  local ordering = {}
  for i = 1, select("#", ...) do
    local field = select(i, ...)
    if type(field) ~= "string" then
      invalid(("order_by expects field names such as \"-age\", got %s (argument %d)"):format(describe(field), i))
    end
    local descending = field:sub(1, 1) == "-"
    local path = filter.field_path(descending and field:sub(2) or field, "order_by field")
    ordering[#ordering + 1] = path .. (descending and " DESC" or " ASC")
  end
  return derive(self, "ordering", ordering)
end

local function count_arg(n, method, min)
  local int = math.type(n) == "float" and math.tointeger(n) or n
  if math.type(int) ~= "integer" or int < min then
    invalid(("%s expects an integer >= %d, got %s"):format(method, min, tostring(n)), { value = n })
  end
  return int
end

--- Return at most `n` records.
-- @tparam integer n at least 1
-- @treturn QuerySet a new query set
-- @usage local top10 = people:order_by("-score"):limit(10)
function QuerySet:limit(n)
  return derive(self, "limit_count", count_arg(n, "limit", 1))
end

--- Skip the first `n` records (SurrealQL `START`).
-- @tparam integer n at least 0
-- @treturn QuerySet a new query set
-- @usage local second_page = people:order_by("name"):offset(20):limit(20)
function QuerySet:offset(n)
  local start = count_arg(n, "offset", 0)
  return derive(self, "start", start > 0 and start or nil)
end

--- Replace record links in these fields by the records they point to (SurrealQL `FETCH`).
-- Adds to the fields of earlier calls.
-- @tparam string ... field paths (`"friend"`, `"author__company"`)
-- @treturn QuerySet a new query set
-- @usage local posts = orm.query(db, "post"):fetch("author"):all()
function QuerySet:fetch(...)
  local fetches = table.move(self.fetches, 1, #self.fetches, 1, {})
  for i = 1, select("#", ...) do
    local path = filter.field_path(select(i, ...), "fetch field")
    local seen = false
    for _, existing in ipairs(fetches) do seen = seen or existing == path end
    if not seen then fetches[#fetches + 1] = path end
  end
  return derive(self, "fetches", fetches)
end

--- The SurrealQL text of a table: its name when it is an identifier (reserved words bracketed),
-- otherwise escaped as SurrealDB escapes identifiers.
-- @tparam Table tb
-- @treturn string
-- @usage query.table_text(Table("person"))    --> person
-- query.table_text(Table("my table"))         --> ⟨my table⟩
function query.table_text(tb)
  return filter.identifier(tb.name) or types.escape_ident(tb.name)
end

-- The FROM part and the WHERE condition, with the variables bound so far.
local function head(self)
  local params = filter.params()
  local from
  if self.target.kind == "table" then
    from = query.table_text(self.target.value)
  else
    params.vars.id = self.target.value
    from = "$id"
  end
  local combined
  for _, q in ipairs(self.filters) do
    combined = combined and (combined & q) or q
  end
  local condition = filter.compile(combined, params)
  return from, condition and (" WHERE " .. condition) or "", params.vars
end

local function only_filters(self, kind)
  if #self.ordering > 0 or self.limit_count or self.start or #self.fetches > 0 then
    invalid(("%s applies to every record the filters match; it does not take order_by, limit, offset or fetch")
      :format(kind))
  end
end

local function check_data(data, method)
  if type(data) ~= "table" or (getmetatable(data) ~= nil and getmetatable(data) ~= types.object_mt)
    or types.is_array(data) then
    invalid(("%s expects the data as a table of fields such as { name = \"Ann\" }, got %s")
      :format(method, types.is_array(data) and "an array" or describe(data)))
  end
  return data
end

local compilers = {
  select = function(self)
    local from, where, vars = head(self)
    local sql = { "SELECT * FROM ", from, where }
    if #self.ordering > 0 then sql[#sql + 1] = " ORDER BY " .. table.concat(self.ordering, ", ") end
    if self.limit_count then
      sql[#sql + 1] = " LIMIT $limit"
      vars.limit = self.limit_count
    end
    if self.start then
      sql[#sql + 1] = " START $start"
      vars.start = self.start
    end
    if #self.fetches > 0 then sql[#sql + 1] = " FETCH " .. table.concat(self.fetches, ", ") end
    return table.concat(sql), vars
  end,
  count = function(self)
    local from, where, vars = head(self)
    return "SELECT count() FROM " .. from .. where .. " GROUP ALL", vars
  end,
  exists = function(self)
    local from, where, vars = head(self)
    return "SELECT VALUE id FROM " .. from .. where .. " LIMIT 1", vars
  end,
  update = function(self, data)
    only_filters(self, "update")
    local from, where, vars = head(self)
    vars.data = check_data(data, "update")
    return "UPDATE " .. from .. " MERGE $data" .. where, vars
  end,
  delete = function(self)
    only_filters(self, "delete")
    local from, where, vars = head(self)
    return "DELETE " .. from .. where .. " RETURN BEFORE", vars
  end,
}

--- The SurrealQL of a statement of this query set, and its variables; sends nothing.
-- @tparam[opt="select"] string kind `"select"`, `"count"`, `"exists"`, `"update"` or `"delete"`
-- @tparam[opt] table data the fields to set, for `"update"`
-- @treturn string the SurrealQL
-- @treturn table the variables (`id` for a record, `p1`..., `limit`, `start`, `data`)
-- @usage local sql, vars = orm.query(nil, "person"):where{ age__gte = 18 }:compile()
-- --> "SELECT * FROM person WHERE age >= $p1", { p1 = 18 }
function QuerySet:compile(kind, data)
  local compiler = compilers[kind or "select"]
  if compiler == nil then
    invalid(("compile expects \"select\", \"count\", \"exists\", \"update\" or \"delete\", got %s")
      :format(tostring(kind)))
  end
  return compiler(self, data)
end

--- The SurrealQL of the select statement (for logs and debugging).
-- @treturn string
-- @usage print(people:where{ age__gte = 18 })  --> SELECT * FROM person WHERE age >= $p1
function QuerySet:__tostring()
  return (self:compile())
end

-- Whether `err` is SurrealDB 3.0's answer to a statement on a table that does not exist.
local function is_missing_table(err, name)
  if not errors.is(err, "QueryError") or err.kind ~= "NotFound" or type(err.details) ~= "table" then return false end
  local details = err.details
  return details.kind == "Table" and type(details.details) == "table" and details.details.name == name
end

-- The result of query.run's pcall: its values, nil for the target's table missing, else raise.
local function finish_run(target, ok, ...)
  if ok then return ... end
  local err = ...
  if is_missing_table(err, target.kind == "table" and target.value.name or target.value.tb) then return nil end
  error(err, 0)
end

--- Run SurrealQL on the table or record `target`, where a table that does not exist holds no records.
-- @param db a client
-- @tparam string sql
-- @tparam table vars
-- @tparam table target from `query.target`
-- @return the statement's result, or nil when its table does not exist
-- @raise QueryError for any other failure
-- @usage local rows = query.run(db, "SELECT * FROM person", {}, query.target("person", "table", "x"))
function query.run(db, sql, vars, target)
  return finish_run(target, pcall(db.query, db, sql, vars))
end

-- Run one compiled statement and return its result.
local function run(self, kind, data)
  local db = self.db
  if db == nil then
    invalid("this query set has no client: start it with orm.query(db, table)")
  end
  local sql, vars = self:compile(kind, data)
  return query.run(db, sql, vars, self.target)
end

-- A statement's list of records (an empty array for NONE).
local function records(result)
  if result == nil or result == types.NONE or result == types.null then return types.array() end
  return result
end

--- Run the query and return the records.
-- @treturn table an array of records
-- @usage for _, p in ipairs(people:where{ age__gte = 18 }:all()) do print(p.name) end
function QuerySet:all()
  return records(run(self, "select"))
end

--- Run the query for its first record (keeping the ordering and offset).
-- @return the record, or nil when none matches
-- @usage local oldest = people:order_by("-age"):first()
function QuerySet:first()
  return self:limit(1):all()[1]
end

--- Count the records the filters match (order, limit, offset and fetch do not change the count).
-- @treturn integer
-- @usage local adults = people:where{ age__gte = 18 }:count()
function QuerySet:count()
  local row = records(run(self, "count"))[1]
  return row and row.count or 0
end

--- Whether any record matches the filters.
-- @treturn boolean
-- @usage if people:where{ email = email }:exists() then error("taken") end
function QuerySet:exists()
  return #records(run(self, "exists")) > 0
end

--- One page of records: page `n` (from 1) of `size` records; replaces any limit and offset.
-- @tparam integer n the page number, from 1
-- @tparam integer size records per page, at least 1
-- @treturn table an array of records (empty past the last page)
-- @usage local page2 = people:order_by("name"):page(2, 20)
function QuerySet:page(n, size)
  n, size = count_arg(n, "page number", 1), count_arg(size, "page size", 1)
  return self:offset((n - 1) * size):limit(size):all()
end

--- Call `fn(record)` for each record, fetching `batch_size` records per query.
-- Stops early when `fn` returns `false`. The batches are pages (LIMIT/START) of this query set:
-- give it an ordering for a stable walk over a table that changes meanwhile.
-- @tparam function fn called with each record
-- @tparam[opt=100] integer batch_size records per query
-- @treturn integer how many records `fn` was called with
-- @usage people:order_by("name"):each(function(p) print(p.name) end)
function QuerySet:each(fn, batch_size)
  if type(fn) ~= "function" then invalid("each expects a function, got " .. type(fn)) end
  batch_size = count_arg(batch_size or 100, "each batch size", 1)
  local start, remaining = self.start or 0, self.limit_count
  local seen = 0
  while remaining == nil or remaining > 0 do
    local want = remaining and math.min(batch_size, remaining) or batch_size
    local rows = self:offset(start + seen):limit(want):all()
    for _, row in ipairs(rows) do
      seen = seen + 1
      if fn(row) == false then return seen end
    end
    if #rows < want then break end
    if remaining then remaining = remaining - #rows end
  end
  return seen
end

--- Set fields on every record the filters match (SurrealQL `UPDATE ... MERGE`).
-- Fields not named in `data` are kept. Raises when the query set has an ordering, limit, offset
-- or fetch, which an update would ignore.
-- @tparam table data the fields to set
-- @treturn table an array of the updated records
-- @usage people:where{ age__lt = 18 }:update{ minor = true }
function QuerySet:update(data)
  return records(run(self, "update", data))
end

--- Delete every record the filters match, and return them as they were.
-- Raises when the query set has an ordering, limit, offset or fetch, which a delete would ignore.
-- @treturn table an array of the deleted records
-- @usage people:where{ status = "banned" }:delete()
function QuerySet:delete()
  return records(run(self, "delete"))
end

query.QuerySet = QuerySet

return query
