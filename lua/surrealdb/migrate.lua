--- Migrations: a folder of Lua and SurrealQL scripts, and a runner that never applies one twice.
--
-- **Files.** A folder (default `migrations/`) holds files named `<UTC timestamp>_<name>.lua` or
-- `<UTC timestamp>_<name>.surql` (the timestamp is `YYYYMMDDHHMMSS`, the name letters, digits and
-- `_`); a `.surql` migration may have a `<same>.down.surql` beside it. The timestamp is the
-- migration's *version*; `<version>_<name>` is its *id*. A Lua migration returns
--
--     return {
--       description = "what it does",
--       transaction = true,           -- false: run outside a transaction (see below)
--       up = function(db, ctx) db:query("DEFINE TABLE person SCHEMAFULL") end,
--       down = function(db, ctx) db:query("REMOVE TABLE person") end,
--     }
--
-- `ctx` holds `client` (the runner's client, outside any transaction), `helpers`
-- (`require("surrealdb.orm").helpers(db)`), `bulk(options)` (`db:bulk(options)`, reporting progress by
-- default), `progress(done, total)`, `log(format, ...)`, `interrupted()` (Ctrl-C was pressed),
-- `migration` (`{ id, version, name, file, direction }`), `transactional` and `resume` (the record of
-- an earlier run that stopped part way, with `--resume`).
--
-- **Record.** Each run of a migration adds a record to the table `_migrations`: `version`, `name`,
-- `file`, `checksum` (SHA-256 of the migration file's bytes; a `.down.surql` is not part of it),
-- `applied_at` (server time), `duration`, `direction` (`"up"` or `"down"`), `complete`, `transactional`,
-- and for a run that stopped part way `step`/`steps` or `progress`, and `error`. A migration is
-- applied when its latest record is a complete `up`. A file whose checksum differs from the one
-- recorded is *changed*: `up`, `down` and `verify` stop naming it unless `allow_changed` is set.
--
-- **Transactions.** SurrealDB 3.x runs every statement between `BEGIN` and `COMMIT`, DEFINE and
-- REMOVE included, in one transaction (measured on 3.0.2: a failed statement rolls back tables,
-- fields, indexes, their builds over existing rows and the data). So a `.surql` migration is sent as
-- one query: `BEGIN`, its statements, the write of its record, `COMMIT`; it works over HTTP too. A Lua
-- migration runs in an RPC transaction (`begin`/`commit`, WebSocket only): its `db` is a view of the
-- client whose every call (queries, CRUD, `ctx.helpers`, `ctx.bulk`) carries the transaction, and its
-- record is written in the same transaction. A failure cancels it, so the database and
-- `_migrations` stay as they were.
--
-- Not transactional, said before it runs (an event of type `"warn"`): a Lua migration with
-- `transaction = false` (a data migration too large for one transaction) or run over HTTP, and a
-- `.surql` file with a line `-- surreal-migrate: no-transaction`. These write an incomplete record
-- first, update it as they go (statements done, or the last `ctx.progress`), and complete it at the
-- end; one that fails or is interrupted keeps the incomplete record (state `"partial"`), which stops
-- `up` until it is run again with `resume` (Lua migrations get the record as `ctx.resume`; SurrealQL
-- files continue after the last statement done) or rolled back with `down`.
--
-- **Lock.** `up`, `down` and `redo` hold the migrations lock (`surrealdb.migrate.lock`): a second runner
-- waits up to `lock_timeout` seconds and then raises a LockError. The lock is renewed from the client's
-- loop, which runs whenever the runner or a migration waits on the server; a Lua migration that computes
-- for long without calling the database keeps it renewed by calling `ctx.progress` or `ctx.log` now and
-- then (at most once a second they give the loop a turn).
--
-- **Ctrl-C.** The runner watches SIGINT: it stops between migrations (and between the statements of a
-- non-transactional file), never inside one's transaction; `db:bulk` stops between batches. A second
-- Ctrl-C ends the process at once (a transaction in flight is then rolled back by the server).
-- @module surrealdb.migrate
-- @usage
-- local migrate = require("surrealdb.migrate")
-- local runner = migrate.new(db, { dir = "migrations" })
-- for _, m in ipairs(runner:status().migrations) do print(m.id, m.state) end
-- runner:up()                      -- apply everything pending
-- runner:down{ steps = 1 }         -- roll back the last one
local core = require("surrealdb.core")
local errors = require("surrealdb.errors")
local log = require("surrealdb.log")
local runtime = require("surrealdb.runtime")
local types = require("surrealdb.types")
local sha256 = require("surrealdb.migrate.sha256")
local surql = require("surrealdb.migrate.surql")
local Lock = require("surrealdb.migrate.lock")

local migrate = {}

local FILE_PATTERN = "^(%d%d%d%d%d%d%d%d%d%d%d%d%d%d)_([%w_]+)%.(%a+)$"
local DOWN_PATTERN = "^(%d%d%d%d%d%d%d%d%d%d%d%d%d%d)_([%w_]+)%.down%.surql$"
local NOT_EXECUTED = "not executed due to a failed transaction"
local PROGRESS_RECORD_INTERVAL = 2 -- seconds between progress writes of a non-transactional migration
local LOOP_TURN_INTERVAL = 1 -- seconds between the loop turns ctx.progress and ctx.log give (lock renewal)

local function invalid(message, fields, level)
  errors.raise("ValidationError", message, fields, (level or 1) + 1)
end

local function shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f, why = io.open(path, "rb")
  if not f then invalid(("cannot read %s: %s"):format(path, tostring(why)), { path = path }, 2) end
  local bytes = f:read("a")
  f:close()
  return bytes
end

local function join(dir, file)
  if dir == "" or dir == "." then return file end
  return (dir:gsub("/+$", "")) .. "/" .. file
end

--- The checksum of a migration file's bytes: SHA-256 as 64 hexadecimal digits.
-- @tparam string bytes the file's content
-- @treturn string
-- @usage print(migrate.checksum(io.open("migrations/20250101090000_init.surql", "rb"):read("a")))
function migrate.checksum(bytes)
  return sha256.hex(bytes)
end

-- Whether a 14-digit version is a real UTC time.
local function valid_version(version)
  local y, mo, d, h, mi, s = version:match("^(%d%d%d%d)(%d%d)(%d%d)(%d%d)(%d%d)(%d%d)$")
  y, mo, d, h, mi, s = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s)
  return y ~= nil and mo >= 1 and mo <= 12 and d >= 1 and d <= 31 and h <= 23 and mi <= 59 and s <= 60
end

--- Parse a migration file name.
-- @tparam string file a file name (no folder)
-- @treturn[1] table `{ version =, name =, id =, kind = "lua"|"surql"|"down" }`
-- @treturn[2] nil when the name is not a migration's
-- @usage local m = migrate.parse_name("20250101090000_create_accounts.surql")  -- m.id, m.kind
function migrate.parse_name(file)
  local version, name = file:match(DOWN_PATTERN)
  local kind = "down"
  if not version then
    local ext
    version, name, ext = file:match(FILE_PATTERN)
    if ext ~= "lua" and ext ~= "surql" then return nil end
    kind = ext
  end
  if not version or not valid_version(version) then return nil end
  return { version = version, name = name, id = version .. "_" .. name, kind = kind }
end

-- The names of a folder's entries.
local function list_dir(dir)
  local pipe = io.popen("ls -1A -- " .. shell_quote(dir) .. " 2>/dev/null")
  local files = {}
  for file in pipe:lines() do files[#files + 1] = file end
  local ok = pipe:close()
  if not ok then
    invalid(("the migrations folder %s does not exist or cannot be read"):format(dir), { path = dir }, 3)
  end
  table.sort(files)
  return files
end

--- Find the migrations of a folder, in version order.
-- Files that do not look like migrations are ignored, except `.lua` and `.surql` files whose names are
-- almost right (a warning names them). Two migrations with one version, or a `.down.surql` without its
-- migration, raise a ValidationError.
-- @tparam[opt="migrations"] string dir the folder
-- @treturn table an array of `{ id, version, name, kind = "lua"|"surql", file, path, down_path, checksum }`
-- @usage for _, m in ipairs(migrate.discover("migrations")) do print(m.id, m.checksum) end
function migrate.discover(dir)
  dir = dir or "migrations"
  local by_version, downs, list = {}, {}, {}
  for _, file in ipairs(list_dir(dir)) do
    local parsed = migrate.parse_name(file)
    if parsed == nil then
      if file:match("%.lua$") or file:match("%.surql$") then
        log.write("warn", ("migrations: ignoring %s: a migration's name is <YYYYMMDDHHMMSS>_<name>.lua or .surql")
          :format(join(dir, file)))
      end
    elseif parsed.kind == "down" then
      downs[parsed.version] = { file = file, id = parsed.id }
    else
      local other = by_version[parsed.version]
      if other then
        invalid(("two migrations have the version %s: %s and %s"):format(parsed.version, other.file, file),
          { version = parsed.version }, 2)
      end
      parsed.file, parsed.path = file, join(dir, file)
      parsed.checksum = migrate.checksum(read_file(parsed.path))
      by_version[parsed.version] = parsed
      list[#list + 1] = parsed
    end
  end
  for version, down in pairs(downs) do
    local m = by_version[version]
    if m == nil or m.kind ~= "surql" or m.id ~= down.id then
      invalid(("%s has no migration %s.surql beside it"):format(join(dir, down.file), down.id), nil, 2)
    end
    m.down_path = join(dir, down.file)
  end
  table.sort(list, function(a, b) return a.version < b.version end)
  return list
end

--- Load a Lua migration file and check its shape.
-- @tparam string path
-- @treturn table `{ up =, down =, description =, transaction = }`
-- @usage local m = migrate.load("migrations/20250101090000_backfill.lua"); print(m.description)
function migrate.load(path)
  local chunk, why = loadfile(path, "t")
  if not chunk then invalid(("%s does not load: %s"):format(path, why), { path = path }, 2) end
  local ok, module = pcall(chunk)
  if not ok then
    invalid(("%s raised an error while loading: %s"):format(path, tostring(module)), { path = path, cause = module }, 2)
  end
  if type(module) ~= "table" then
    invalid(("%s must return a table { up = function(db, ctx) ... end, down = ... }, got %s"):format(path,
      type(module)), { path = path }, 2)
  end
  if type(module.up) ~= "function" then
    invalid(("%s: up must be a function(db, ctx), got %s"):format(path, type(module.up)), { path = path }, 2)
  end
  if module.down ~= nil and type(module.down) ~= "function" then
    invalid(("%s: down must be a function(db, ctx) or absent, got %s"):format(path, type(module.down)),
      { path = path }, 2)
  end
  if module.transaction ~= nil and type(module.transaction) ~= "boolean" then
    invalid(("%s: transaction must be true or false, got %s"):format(path, type(module.transaction)), { path = path },
      2)
  end
  if module.description ~= nil and type(module.description) ~= "string" then
    invalid(("%s: description must be a string, got %s"):format(path, type(module.description)), { path = path }, 2)
  end
  return module
end

-- ---- the runner ----

local Runner = { __name = "surrealdb.migrate.Runner" }
Runner.__index = Runner

local RUNNER_OPTIONS = {
  dir = "string", table = "string", lock_timeout = "number", lock_ttl = "number", allow_changed = "boolean",
  dry_run = "boolean", resume = "boolean", on_event = "function",
}

--- Make a runner of the migrations of a folder on a client.
-- @param db a connected client (`surrealdb.connect`), with its namespace and database selected
-- @tparam[opt] table options `dir` (default `"migrations"`), `table` (default `"_migrations"`), `lock_timeout`
--   (seconds to wait for another runner, default 30), `lock_ttl` (seconds a lock lives without renewal,
--   default 30), `allow_changed` (run although applied files changed), `dry_run` (say what would run, change
--   nothing), `resume` (run migrations that stopped part way again), `on_event` (`function(event)`: each event
--   has `type` (`"start"`, `"done"`, `"progress"`, `"log"`, `"warn"`, `"plan"`, `"lock"`) and `message`;
--   default: the library's logger at info, warn for `"warn"`)
-- @return a Runner
-- @usage local runner = migrate.new(db, { dir = "db/migrations", lock_timeout = 60 })
function migrate.new(db, options)
  if type(db) ~= "table" or type(db.query) ~= "function" then
    invalid("migrate.new expects a client (from surrealdb.connect), got " .. type(db), nil, 2)
  end
  options = options or {}
  for k, v in pairs(options) do
    if RUNNER_OPTIONS[k] == nil then invalid(("migrate.new has no option %q"):format(tostring(k)), nil, 2) end
    if type(v) ~= RUNNER_OPTIONS[k] then
      invalid(("migrate.new: %s must be a %s, got %s"):format(k, RUNNER_OPTIONS[k], type(v)), nil, 2)
    end
  end
  local self = setmetatable({
    db = db,
    dir = options.dir or "migrations",
    table = options.table or "_migrations",
    lock_timeout = options.lock_timeout or 30,
    lock_ttl = options.lock_ttl or 30,
    allow_changed = options.allow_changed == true,
    dry_run = options.dry_run == true,
    resume = options.resume == true,
    on_event = options.on_event,
  }, Runner)
  if not self.table:match("^[%a_][%w_]*$") then
    invalid(("the migrations table name %q must be letters, digits and _"):format(self.table), nil, 2)
  end
  if self.lock_ttl < 1 then invalid("lock_ttl must be at least 1 second", nil, 2) end
  return self
end

function Runner:emit(event)
  if self.on_event then
    self.on_event(event)
  else
    log.write(event.type == "warn" and "warn" or "info", "migrate: " .. event.message)
  end
end

-- Every record of the migrations table, oldest first (none when the table does not exist yet).
function Runner:records()
  local ok, rows = pcall(self.db.query, self.db, "SELECT * FROM $sdb_table ORDER BY applied_at, id",
    { sdb_table = types.Table(self.table) })
  if not ok then
    if errors.is(rows, "QueryError") and (rows.kind == "NotFound" or tostring(rows.message):find("does not exist")) then
      return {}
    end
    error(rows, 0)
  end
  return rows
end

local function text_of(value)
  if value == nil or value == types.NONE or value == types.null then return nil end
  if getmetatable(value) == types.Datetime then return value:iso() end
  return tostring(value)
end

--- The state of every migration: the folder's files against the records of the database.
-- States: `"applied"`, `"pending"`, `"changed"` (applied, but the file's checksum differs), `"partial"`
-- (a non-transactional run stopped part way) and `"missing"` (applied, but its file is gone).
-- @treturn table `{ migrations = { { id, version, name, file, kind, state, checksum, applied_checksum, applied_at,
--   duration, direction, step, steps, progress, error }, ... }, applied =, pending =, changed =, partial =,
--   missing = }` (the counts)
-- @usage for _, m in ipairs(runner:status().migrations) do print(m.id, m.state) end
function Runner:status()
  local files = migrate.discover(self.dir)
  local latest = {}
  for _, record in ipairs(self:records()) do latest[record.version] = record end
  local entries, seen = {}, {}
  local function entry(m, record)
    local e = { id = m.id, version = m.version, name = m.name, file = m.file, kind = m.kind, checksum = m.checksum,
      migration = m }
    if record == nil or (record.direction == "down" and record.complete) then
      e.state = "pending"
    elseif not record.complete then
      e.state = "partial"
    elseif m.file == nil then
      e.state = "missing"
    elseif record.checksum ~= m.checksum then
      e.state = "changed"
    else
      e.state = "applied"
    end
    if record then
      e.applied_checksum, e.direction = record.checksum, record.direction
      if e.state == "pending" then
        e.rolled_back_at = text_of(record.applied_at)
      else
        e.applied_at, e.duration = text_of(record.applied_at), text_of(record.duration)
      end
      e.step, e.steps, e.error = record.step, record.steps, text_of(record.error)
      local progress = record.progress
      if type(progress) == "table" then e.progress = { done = progress.done, total = progress.total } end
      e.record = record
    end
    return e
  end
  for _, m in ipairs(files) do
    seen[m.version] = true
    entries[#entries + 1] = entry(m, latest[m.version])
  end
  for version, record in pairs(latest) do
    if not seen[version] and not (record.direction == "down" and record.complete) then
      local e = entry({ id = version .. "_" .. tostring(record.name), version = version, name = record.name }, record)
      if e.state ~= "partial" then e.state = "missing" end
      e.file = text_of(record.file)
      entries[#entries + 1] = e
    end
  end
  table.sort(entries, function(a, b) return a.version < b.version end)
  local status = { migrations = entries, applied = 0, pending = 0, changed = 0, partial = 0, missing = 0 }
  for _, e in ipairs(entries) do status[e.state] = status[e.state] + 1 end
  return status
end

-- The entry of `to` (a version or an id) in a status, or a ValidationError.
local function find_entry(status, to, option)
  for _, e in ipairs(status.migrations) do
    if e.version == to or e.id == to then return e end
  end
  invalid(("%s %s names no migration (give a version such as 20250101090000 or a full id)"):format(option,
    tostring(to)), nil, 3)
end

-- Stop with a MigrationError when applied files changed (unless allowed) or a migration stopped part way.
function Runner:check_problems(status, entries, allow_partial)
  local changed, partial = {}, {}
  for _, e in ipairs(entries or status.migrations) do
    if e.state == "changed" then changed[#changed + 1] = e.file end
    if e.state == "partial" and not allow_partial then partial[#partial + 1] = e end
  end
  if #changed > 0 and not self.allow_changed then
    errors.raise("MigrationError", ("applied migration files changed since they were applied: %s (their checksums "
      .. "differ from the records; restore them, or run with --allow-changed)"):format(table.concat(changed, ", ")),
      { kind = "changed", files = changed }, 3)
  end
  if #partial > 0 then
    local e = partial[1]
    errors.raise("MigrationError", ("%s stopped part way when it last ran %s (%s%s); fix the cause, then run it again "
      .. "with --resume, or roll it back with down"):format(e.file or e.id, e.direction or "up",
        e.steps and ("after statement %s of %s"):format(tostring(e.step), tostring(e.steps)) or "progress recorded",
        e.error and (": " .. e.error) or ""), { kind = "partial", file = e.file }, 3)
  end
end

-- Run `fn` holding the lock, with the Ctrl-C watch on; the lock is released whatever happens.
function Runner:locked(fn)
  -- Names cannot be bound in DEFINE: written as SurrealDB escapes identifiers (the name is checked too).
  self.db:query("DEFINE TABLE IF NOT EXISTS " .. tostring(types.Table(self.table .. "_lock")) .. " SCHEMALESS")
  local lock = Lock.acquire(self.db, {
    table = self.table, timeout = self.lock_timeout, ttl = self.lock_ttl,
    on_wait = function(holder)
      self:emit({ type = "lock", holder = holder.owner, message = ("waiting for the migrations lock held by %s "
        .. "(until %s, waiting at most %g s)"):format(tostring(holder.owner), tostring(holder.expires_at),
        self.lock_timeout) })
    end,
    on_takeover = function(holder)
      self:emit({ type = "warn", message = ("took over the expired migrations lock of %s (a runner that stopped "
        .. "without releasing it)"):format(tostring(holder.owner)) })
    end,
  })
  self.lock = lock
  core.interrupt_watch(true)
  local results = table.pack(pcall(function()
    self.db:query("DEFINE TABLE IF NOT EXISTS " .. tostring(types.Table(self.table)) .. " SCHEMALESS")
    return fn()
  end))
  core.interrupt_watch(false)
  self.lock = nil
  lock:release()
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

local function interrupted()
  return core.interrupted() > 0
end

local function stop_interrupted(done)
  errors.raise("MigrationError", ("interrupted (Ctrl-C) after %d migration(s); none is half-recorded"):format(done),
    { kind = "interrupted", interrupted = true }, 3)
end

-- Describe a migration run before it starts.
local function plan_line(e, direction, transactional, reason)
  return ("%s %s (%s)%s"):format(direction == "up" and "apply" or "roll back", e.file or e.id,
    transactional and "one transaction" or ("NOT transactional: " .. reason), e.description and (": "
      .. e.description) or "")
end

-- How a migration will run: transactional or not, and why not.
function Runner:mode(e, direction)
  local m = e.migration
  if m.kind == "surql" then
    local path = direction == "up" and m.path or m.down_path
    if path == nil then return true end
    if surql.no_transaction(read_file(path)) then
      return false, "its file asks for it (-- surreal-migrate: no-transaction); progress is recorded statement by "
        .. "statement"
    end
    return true
  end
  local module = migrate.load(m.path)
  e.description = module.description
  if module.transaction == false then
    return false, "the migration sets transaction = false; its progress is recorded as it reports it"
  end
  if not self.db:is_stateful() then
    return false, "transactions of Lua migrations need a WebSocket connection (ws://); this one is HTTP"
  end
  return true
end

--- Apply the pending migrations in version order, up to and including `to`.
-- @tparam[opt] table options `to` (a version or id: stop after it)
-- @treturn table `{ applied = { ids... }, dry_run = bool, plan = { lines... } }`
-- @raise MigrationError (a migration failed: the error names the file and statement; changed files;
--   a partial migration without `resume`; Ctrl-C), LockError, ValidationError
-- @usage runner:up{ to = "20250101090500" }
function Runner:up(options)
  options = options or {}
  local function targets(status)
    local limit = options.to and find_entry(status, options.to, "--to").version
    local list = {}
    for _, e in ipairs(status.migrations) do
      if (e.state == "pending" or (e.state == "partial" and self.resume)) and e.migration.path
        and (limit == nil or e.version <= limit) then
        list[#list + 1] = e
      end
    end
    return list
  end
  local status = self:status()
  self:check_problems(status, nil, self.resume)
  for _, e in ipairs(status.migrations) do
    if e.state == "missing" then
      self:emit({ type = "warn", message = ("%s is applied but its file is gone"):format(e.file or e.id) })
    end
  end
  if self.dry_run then return self:plan(targets(status), "up") end
  return self:locked(function()
    -- Another runner may have applied some while this one waited for the lock.
    status = self:status()
    self:check_problems(status, nil, self.resume)
    local applied = {}
    for _, e in ipairs(targets(status)) do
      if interrupted() then stop_interrupted(#applied) end
      self:run(e, "up")
      applied[#applied + 1] = e.id
    end
    return { applied = applied }
  end)
end

-- The applied migrations a down would roll back, newest first.
local function down_targets(status, options)
  local applied = {}
  for _, e in ipairs(status.migrations) do
    if e.state == "applied" or e.state == "changed" or e.state == "partial" or e.state == "missing" then
      table.insert(applied, 1, e)
    end
  end
  local list = {}
  if options.to then
    local limit = find_entry(status, options.to, "--to").version
    for _, e in ipairs(applied) do
      if e.version > limit then list[#list + 1] = e end
    end
  else
    local steps = options.steps or 1
    if math.type(steps) ~= "integer" or steps < 1 then
      invalid("steps must be a positive integer, got " .. tostring(steps), nil, 3)
    end
    for i = 1, math.min(steps, #applied) do list[i] = applied[i] end
  end
  for _, e in ipairs(list) do
    if e.state == "missing" then
      errors.raise("MigrationError", ("cannot roll back %s: its file is gone"):format(e.file or e.id),
        { kind = "missing" }, 3)
    end
    local m = e.migration
    if m.kind == "surql" and m.down_path == nil then
      errors.raise("MigrationError", ("cannot roll back %s: it has no %s.down.surql"):format(m.file, m.id),
        { kind = "irreversible", file = m.file }, 3)
    elseif m.kind == "lua" and migrate.load(m.path).down == nil then
      errors.raise("MigrationError", ("cannot roll back %s: it has no down function"):format(m.file),
        { kind = "irreversible", file = m.file }, 3)
    end
  end
  return list
end

--- Roll back applied migrations, newest first: the last `steps` (default 1), or all after `to`.
-- @tparam[opt] table options `steps` or `to` (a version or id, which stays applied)
-- @treturn table `{ rolled_back = { ids... }, dry_run = bool, plan = { lines... } }`
-- @raise MigrationError, LockError, ValidationError
-- @usage runner:down{ steps = 2 }
function Runner:down(options)
  options = options or {}
  local status = self:status()
  local list = down_targets(status, options)
  self:check_problems(status, list, true)
  if self.dry_run then return self:plan(list, "down") end
  return self:locked(function()
    status = self:status()
    list = down_targets(status, options)
    self:check_problems(status, list, true)
    local done = {}
    for _, e in ipairs(list) do
      if interrupted() then stop_interrupted(#done) end
      self:run(e, "down")
      done[#done + 1] = e.id
    end
    return { rolled_back = done }
  end)
end

--- Roll back the last `steps` (default 1) applied migrations and apply them again.
-- @tparam[opt] table options `steps`
-- @treturn table `{ rolled_back = { ids... }, applied = { ids... } }`
-- @usage runner:redo()
function Runner:redo(options)
  options = options or {}
  local status = self:status()
  local list = down_targets(status, { steps = options.steps })
  self:check_problems(status, list, true)
  if self.dry_run then
    local plan = self:plan(list, "down")
    for i = #list, 1, -1 do
      local e = list[i]
      plan.plan[#plan.plan + 1] = plan_line(e, "up", self:mode(e, "up"))
      self:emit({ type = "plan", message = plan.plan[#plan.plan] })
    end
    return plan
  end
  return self:locked(function()
    status = self:status()
    list = down_targets(status, { steps = options.steps })
    self:check_problems(status, list, true)
    local rolled, applied = {}, {}
    for _, e in ipairs(list) do
      if interrupted() then stop_interrupted(#rolled) end
      self:run(e, "down")
      rolled[#rolled + 1] = e.id
    end
    local fresh = self:status()
    for i = #list, 1, -1 do
      if interrupted() then stop_interrupted(#rolled + #applied) end
      local e = find_entry(fresh, list[i].version, "redo")
      self:run(e, "up")
      applied[#applied + 1] = e.id
    end
    return { rolled_back = rolled, applied = applied }
  end)
end

--- Check that every applied migration's file is there and unchanged, and none stopped part way.
-- @treturn table the status (see `Runner:status`)
-- @raise MigrationError naming each changed, missing or partial migration
-- @usage runner:verify()
function Runner:verify()
  local status = self:status()
  local problems = {}
  for _, e in ipairs(status.migrations) do
    if e.state == "changed" and not self.allow_changed then
      problems[#problems + 1] = ("%s changed since it was applied (checksum %s, recorded %s)"):format(e.file,
        e.checksum:sub(1, 12), tostring(e.applied_checksum):sub(1, 12))
    elseif e.state == "missing" then
      problems[#problems + 1] = ("%s is applied but its file is gone"):format(e.file or e.id)
    elseif e.state == "partial" then
      problems[#problems + 1] = ("%s stopped part way"):format(e.file or e.id)
    end
  end
  if #problems > 0 then
    errors.raise("MigrationError", "verify failed: " .. table.concat(problems, "; "), { kind = "verify",
      problems = problems, status = status }, 2)
  end
  return status
end

-- A short text of a statement for messages: its code on one line, cut at 160 characters.
local function preview(text)
  local code = text
  repeat
    local before = code
    code = code:gsub("^%s*%-%-[^\n]*\n", ""):gsub("^%s*//[^\n]*\n", ""):gsub("^%s*#[^\n]*\n", "")
  until code == before
  code = code:gsub("%s+", " ")
  if #code > 160 then code = code:sub(1, 157) .. "..." end
  return code
end

-- Dry run: say what would run, change nothing.
function Runner:plan(list, direction)
  local plan = {}
  for _, e in ipairs(list) do
    local transactional, reason = self:mode(e, direction)
    plan[#plan + 1] = plan_line(e, direction, transactional, reason)
    self:emit({ type = "plan", migration = e.id, direction = direction, message = plan[#plan] })
    local m = e.migration
    if m.kind == "surql" then
      for i, statement in ipairs(surql.split(read_file(direction == "up" and m.path or m.down_path))) do
        self:emit({ type = "plan", message = ("  %d (line %d): %s"):format(i, statement.line,
          preview(statement.text)) })
      end
    end
  end
  local result = { dry_run = true, plan = plan }
  result[direction == "up" and "applied" or "rolled_back"] = {}
  return result
end

-- ---- running one migration ----

-- The record of a run of `e` in `direction`.
function Runner:record(e, direction, transactional)
  local m = e.migration
  return types.RecordID(self.table, types.Uuid.v7()), {
    version = m.version, name = m.name, file = m.file, checksum = m.checksum, direction = direction,
    complete = transactional, transactional = transactional, runner = self.lock and self.lock.owner or nil,
  }
end

local function migration_failed(e, message, fields, cause)
  fields = fields or {}
  fields.kind, fields.file, fields.migration, fields.cause = "failed", e.file, e.id, cause
  return errors.new("MigrationError", message, fields)
end

function Runner:run(e, direction)
  local transactional, reason = self:mode(e, direction)
  self:emit({ type = "start", migration = e.id, file = e.file, direction = direction, transactional = transactional,
    message = plan_line(e, direction, transactional, reason) })
  if not transactional then
    self:emit({ type = "warn", migration = e.id, message = ("%s runs without a transaction: %s"):format(e.file,
      reason) })
  end
  local started = runtime.now()
  if e.migration.kind == "surql" then
    self:run_surql(e, direction, transactional)
  else
    self:run_lua(e, direction, transactional)
  end
  local elapsed = runtime.now() - started
  self:emit({ type = "done", migration = e.id, direction = direction, seconds = elapsed,
    message = ("%s %s in %.2f s"):format(direction == "up" and "applied" or "rolled back", e.file, elapsed) })
end

local function surql_statements(e, path)
  local statements = surql.split(read_file(path))
  for i, statement in ipairs(statements) do
    local verb = surql.verb(statement.text)
    if verb == "BEGIN" or verb == "COMMIT" or verb == "CANCEL" then
      errors.raise("MigrationError", ("%s: statement %d (line %d) is %s: the runner wraps each migration in its own "
        .. "transaction, so a file holds no BEGIN, COMMIT or CANCEL (for a file that must not run in one, add the "
        .. "line -- surreal-migrate: no-transaction)"):format(e.file, i, statement.line, verb),
        { kind = "failed", file = e.file }, 3)
    end
  end
  return statements
end

-- A .surql migration in one transaction: BEGIN, a start time, its statements, its record, COMMIT.
function Runner:run_surql(e, direction, transactional)
  local m = e.migration
  local path = direction == "up" and m.path or m.down_path
  local statements = surql_statements(e, path)
  if not transactional then return self:run_surql_steps(e, direction, statements, path) end
  local id, record = self:record(e, direction, true)
  local parts = { "BEGIN", "LET $sdb_started = time::now()" }
  for _, statement in ipairs(statements) do parts[#parts + 1] = statement.text end
  parts[#parts + 1] = "CREATE $sdb_record_id CONTENT $sdb_record RETURN NONE"
  parts[#parts + 1] = "UPDATE $sdb_record_id SET applied_at = time::now(), duration = time::now() - $sdb_started "
    .. "RETURN NONE"
  parts[#parts + 1] = "COMMIT"
  if self.lock then self.lock:check() end
  local raw = self.db:query_raw(table.concat(parts, ";\n") .. ";", { sdb_record_id = id, sdb_record = record })
  local failed
  for i, entry in ipairs(raw) do
    if entry.status ~= "OK" then
      local message = tostring(entry.result)
      if not message:find(NOT_EXECUTED, 1, true) then
        failed = { index = i, message = message, kind = entry.kind }
        break
      end
      failed = failed or { index = i, message = message, kind = entry.kind }
    end
  end
  if failed == nil then return end
  local n = failed.index - 2
  local where
  if n >= 1 and n <= #statements then
    local s = statements[n]
    where = ("statement %d (line %d) failed: %s\n  %s"):format(n, s.line, failed.message, preview(s.text))
  elseif n > #statements then
    where = "writing its record failed: " .. failed.message
  else
    where = "the transaction failed: " .. failed.message
  end
  error(migration_failed(e, ("%s (%s): %s; rolled back: the database and %s are as they were"):format(
    path, direction, where, self.table), { statement = n >= 1 and n <= #statements and n or nil,
    line = statements[n] and statements[n].line, server_kind = failed.kind, results = raw }), 0)
end

-- A .surql migration without a transaction: one statement at a time, the record updated after each.
function Runner:run_surql_steps(e, direction, statements, path)
  local db = self.db
  local first = 1
  local resume = e.state == "partial" and e.record and e.record.direction == direction and e.record.steps == #statements
  if resume then first = (e.record.step or 0) + 1 end
  local id, record = self:record(e, direction, false)
  record.step, record.steps = first - 1, #statements
  db:query("CREATE $sdb_id CONTENT $sdb_record RETURN NONE; UPDATE $sdb_id SET applied_at = time::now() RETURN NONE",
    { sdb_id = id, sdb_record = record })
  local started = runtime.now()
  for i = first, #statements do
    if interrupted() then
      db:query("UPDATE $sdb_id SET error = $sdb_error RETURN NONE", { sdb_id = id,
        sdb_error = ("interrupted (Ctrl-C) before statement %d"):format(i) })
      errors.raise("MigrationError", ("%s: interrupted (Ctrl-C) after statement %d of %d; the record says how far it "
        .. "got (run up --resume to continue)"):format(path, i - 1, #statements),
        { kind = "interrupted", interrupted = true, file = e.file }, 2)
    end
    if self.lock then self.lock:check() end
    local s = statements[i]
    local ok, err = pcall(db.query, db, s.text)
    if not ok then
      db:query("UPDATE $sdb_id SET error = $sdb_error RETURN NONE", { sdb_id = id,
        sdb_error = ("statement %d: %s"):format(i, tostring(err.message or err)) })
      error(migration_failed(e, ("%s (%s): statement %d (line %d) failed: %s\n  %s\n  not transactional: statements "
        .. "1-%d stay applied, the record says so (fix it, then run up --resume)"):format(path, direction, i, s.line,
        tostring(err.message or err), preview(s.text), i - 1), { statement = i, line = s.line }, err), 0)
    end
    db:query("UPDATE $sdb_id SET step = $sdb_step RETURN NONE", { sdb_id = id, sdb_step = i })
    self:emit({ type = "progress", migration = e.id, done = i, total = #statements,
      message = ("%s: statement %d of %d"):format(e.file, i, #statements) })
  end
  db:query("UPDATE $sdb_id SET complete = true, applied_at = time::now(), duration = $sdb_duration RETURN NONE",
    { sdb_id = id, sdb_duration = types.Duration.from_seconds(runtime.now() - started) })
end

-- A view of the client whose every call carries the transaction `txn`.
local function transaction_view(db, txn)
  local view = setmetatable({ txn = txn }, { __index = db })
  function view.call(_, method, params, timeout, extra, flags)
    local with_txn = { txn = txn }
    for k, v in pairs(extra or {}) do with_txn[k] = v end
    return db:call(method, params, timeout, with_txn, flags)
  end
  local function refuse(name)
    return function()
      invalid(("a migration runs in the runner's transaction: it cannot call db:%s (set transaction = false to "
        .. "manage transactions yourself)"):format(name), nil, 2)
    end
  end
  view.begin, view.commit, view.cancel, view.transaction, view.close = refuse("begin"), refuse("commit"),
    refuse("cancel"), refuse("transaction"), refuse("close")
  return view
end

-- The ctx a Lua migration gets.
function Runner:context(e, direction, db, transactional, on_progress)
  local runner = self
  local ctx = {
    client = self.db,
    db = db,
    transactional = transactional,
    migration = { id = e.id, version = e.version, name = e.name, file = e.file, direction = direction },
    resume = e.state == "partial" and e.record or nil,
    helpers = require("surrealdb.orm").helpers(db),
    interrupted = interrupted,
  }
  -- Let the loop run its timers (the lock's renewal) in a migration that does not wait on the server.
  local last_turn = runtime.now()
  local function loop_turn()
    if runtime.now() - last_turn < LOOP_TURN_INTERVAL then return end
    runtime.sleep(0)
    last_turn = runtime.now()
  end
  function ctx.progress(done, total)
    runner:emit({ type = "progress", migration = e.id, done = done, total = total,
      message = ("%s: %s%s"):format(e.file, tostring(done), total and (" of " .. tostring(total)) or "") })
    if on_progress then on_progress(done, total) end
    loop_turn()
  end
  function ctx.log(format, ...)
    runner:emit({ type = "log", migration = e.id, message = e.file .. ": " .. format:format(...) })
    loop_turn()
  end
  function ctx.bulk(options)
    local given = {}
    for k, v in pairs(options or {}) do given[k] = v end
    if given.progress == nil then given.progress = ctx.progress end
    return db:bulk(given)
  end
  return ctx
end

-- A Lua migration: in the runner's RPC transaction, or without one, its record updated as it reports progress.
function Runner:run_lua(e, direction, transactional)
  local db = self.db
  local module = migrate.load(e.migration.path)
  local fn = module[direction]
  local started = runtime.now()
  if transactional then
    local txn = db:begin()
    local view = transaction_view(db, txn)
    local ok, err = pcall(function()
      fn(view, self:context(e, direction, view, true))
      if self.lock then self.lock:check() end
      local id, record = self:record(e, direction, true)
      record.duration = types.Duration.from_seconds(runtime.now() - started)
      view:query("CREATE $sdb_id CONTENT $sdb_record RETURN NONE; UPDATE $sdb_id SET applied_at = time::now() "
        .. "RETURN NONE", { sdb_id = id, sdb_record = record })
    end)
    if not ok then
      pcall(db.cancel, db, txn)
      error(migration_failed(e, ("%s (%s) failed: %s; rolled back: the database and %s are as they were"):format(
        e.migration.path, direction, tostring(type(err) == "table" and err.message or err), self.table), nil, err), 0)
    end
    local committed, commit_err = pcall(db.commit, db, txn)
    if not committed then
      error(migration_failed(e, ("%s (%s): the commit failed: %s; nothing was applied"):format(e.migration.path,
        direction, tostring(commit_err.message or commit_err)), nil, commit_err), 0)
    end
    return
  end
  local id, record = self:record(e, direction, false)
  db:query("CREATE $sdb_id CONTENT $sdb_record RETURN NONE; UPDATE $sdb_id SET applied_at = time::now() RETURN NONE",
    { sdb_id = id, sdb_record = record })
  local last_write = runtime.now()
  local function on_progress(done, total)
    if runtime.now() - last_write < PROGRESS_RECORD_INTERVAL then return end
    last_write = runtime.now()
    db:query("UPDATE $sdb_id SET progress = $sdb_progress RETURN NONE", { sdb_id = id,
      sdb_progress = { done = done, total = total } })
  end
  local ok, err = pcall(fn, db, self:context(e, direction, db, false, on_progress))
  if not ok then
    local message = tostring(type(err) == "table" and err.message or err)
    pcall(db.query, db, "UPDATE $sdb_id SET error = $sdb_error RETURN NONE", { sdb_id = id, sdb_error = message })
    local stopped = type(err) == "table" and (err.cancelled or err.interrupted)
    error(migration_failed(e, ("%s (%s) %s: %s; not transactional: what it did stays done, its record says it "
      .. "stopped part way (fix it, then run up --resume, or down)"):format(e.migration.path, direction,
      stopped and "was interrupted" or "failed", message), { interrupted = stopped or nil }, err), 0)
  end
  db:query("UPDATE $sdb_id SET complete = true, applied_at = time::now(), duration = $sdb_duration RETURN NONE",
    { sdb_id = id, sdb_duration = types.Duration.from_seconds(runtime.now() - started) })
end

-- ---- writing new migrations ----

local function new_version(dir, now)
  local t = now or os.time()
  local taken = {}
  local ok, files = pcall(list_dir, dir)
  for _, file in ipairs(ok and files or {}) do
    local parsed = migrate.parse_name(file)
    if parsed then taken[parsed.version] = true end
  end
  while taken[os.date("!%Y%m%d%H%M%S", t)] do t = t + 1 end
  return os.date("!%Y%m%d%H%M%S", t)
end

local function check_name(name)
  if type(name) ~= "string" or not name:match("^[%w_]+$") then
    invalid(("a migration name is letters, digits and _ (such as add_email_index), got %q"):format(tostring(name)),
      nil, 3)
  end
end

local function write_file(path, text)
  local f, why = io.open(path, "wb")
  if not f then invalid(("cannot write %s: %s"):format(path, tostring(why)), { path = path }, 3) end
  f:write(text)
  f:close()
end

local function ensure_dir(dir)
  if not os.execute("mkdir -p -- " .. shell_quote(dir)) then
    invalid(("cannot create the folder %s"):format(dir), { path = dir }, 3)
  end
end

local LUA_TEMPLATE = [[
-- %s
return {
  description = %q,
  -- transaction = false, -- run outside a transaction (long data migrations through ctx.bulk); see README
  up = function(db, ctx)
    db:query([=[
      -- DEFINE TABLE ...
    ]=])
  end,
  down = function(db, ctx)
    db:query([=[
      -- REMOVE TABLE ...
    ]=])
  end,
}
]]

--- Write a new migration from a template, named with the current UTC time.
-- @tparam string dir the migrations folder (made if missing)
-- @tparam string name letters, digits and `_`
-- @tparam[opt] table options `surql = true` (a `.surql` and a `.down.surql` instead of a `.lua`), `now` (a Unix time)
-- @treturn table the paths written
-- @usage local paths = migrate.create("migrations", "add_email_index", { surql = true })
function migrate.create(dir, name, options)
  options = options or {}
  check_name(name)
  ensure_dir(dir)
  local id = new_version(dir, options.now) .. "_" .. name
  if options.surql then
    local up, down = join(dir, id .. ".surql"), join(dir, id .. ".down.surql")
    write_file(up, ("-- %s: the statements of the migration, run in one transaction.\n\n"):format(id))
    write_file(down, ("-- %s: the statements that undo it.\n\n"):format(id))
    return { up, down }
  end
  local path = join(dir, id .. ".lua")
  write_file(path, LUA_TEMPLATE:format(id, (name:gsub("_", " "))))
  return { path }
end

-- The up and down statements of a schema diff, in either shape: `{ up = {...}, down = {...} }`, or an array
-- of changes `{ statement =, reverse = }` (the reverses run in the opposite order).
local function diff_statements(diff)
  if type(diff) ~= "table" then
    errors.raise("MigrationError", "orm.diff_schema returned " .. type(diff) .. ", not a table", nil, 3)
  end
  if diff.up ~= nil then return diff.up, diff.down or {} end
  local up, down = {}, {}
  for _, change in ipairs(diff) do
    up[#up + 1] = change.statement
    local reverse = change.reverse
    if reverse == nil or reverse == "" then
      reverse = ("THROW %q"):format("cannot be reversed automatically: " .. tostring(change.statement))
    end
    table.insert(down, 1, reverse)
  end
  return up, down
end

local function statement_text(statements, header)
  local lines = { header, "" }
  for _, s in ipairs(statements) do
    s = tostring(s):gsub("%s*;%s*$", "")
    lines[#lines + 1] = s .. ";"
  end
  return table.concat(lines, "\n") .. "\n"
end

--- Write a `.surql` migration (and its `.down.surql`) that brings the database in line with models, from
-- `orm.diff_schema(db, models)`.
-- @param db a client
-- @tparam string dir the migrations folder
-- @tparam string name letters, digits and `_`
-- @tparam table models an array of models
-- @tparam[opt] table options `diff` (the diff function; default `require("surrealdb.orm").diff_schema`), `now`,
--   `source` (where the models came from, for the header)
-- @treturn[1] table the paths written
-- @treturn[2] nil when the database already matches the models
-- @usage migrate.make(db, "migrations", "add_person", { Person })
function migrate.make(db, dir, name, models, options)
  options = options or {}
  check_name(name)
  local diff = options.diff
  if diff == nil then diff = require("surrealdb.orm").diff_schema end
  if type(diff) ~= "function" then
    invalid("make needs orm.diff_schema (the ORM's models), which this installation lacks", nil, 2)
  end
  if type(models) ~= "table" then invalid("make expects an array of models, got " .. type(models), nil, 2) end
  local up, down = diff_statements(diff(db, models))
  if #up == 0 then return nil end
  ensure_dir(dir)
  local id = new_version(dir, options.now) .. "_" .. name
  local from = options.source and (" from " .. options.source) or ""
  local paths = { join(dir, id .. ".surql"), join(dir, id .. ".down.surql") }
  write_file(paths[1], statement_text(up, ("-- %s: made by surreal-migrate make%s (orm.diff_schema)."):format(id,
    from)))
  write_file(paths[2], statement_text(down, ("-- %s: the reverse of its statements, in the opposite order.")
    :format(id)))
  return paths
end

-- ---- JSON ----

local function json(value, out)
  local t = type(value)
  if value == nil or value == types.null or value == types.NONE then
    out[#out + 1] = "null"
  elseif t == "boolean" then
    out[#out + 1] = tostring(value)
  elseif t == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      out[#out + 1] = "null"
    elseif math.type(value) == "integer" then
      out[#out + 1] = tostring(value)
    else
      out[#out + 1] = ("%.17g"):format(value)
    end
  elseif t == "string" then
    out[#out + 1] = '"' .. value:gsub('[%c"\\]', function(c)
      local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
      return named[c] or ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif t == "table" and getmetatable(value) ~= nil and getmetatable(value) ~= types.array_mt
    and getmetatable(value) ~= types.object_mt then
    json(tostring(value), out)
  elseif t == "table" and (#value > 0 or getmetatable(value) == types.array_mt) then
    out[#out + 1] = "["
    for i, v in ipairs(value) do
      if i > 1 then out[#out + 1] = "," end
      json(v, out)
    end
    out[#out + 1] = "]"
  elseif t == "table" then
    local keys = {}
    for k in pairs(value) do
      if type(k) == "string" then keys[#keys + 1] = k end
    end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      json(k, out)
      out[#out + 1] = ":"
      json(value[k], out)
    end
    out[#out + 1] = "}"
  else
    json(tostring(value), out)
  end
end

--- A status (or any result of the runner) as JSON text, without the internal fields (`migration`, `record`).
-- Empty tables are written as `[]`; values of SurrealDB types as their SurrealQL text.
-- @tparam table value
-- @treturn string
-- @usage print(migrate.json(runner:status()))
function migrate.json(value)
  local function clean(v)
    if type(v) ~= "table" or getmetatable(v) ~= nil then return v end
    local copy = {}
    for k, x in pairs(v) do
      if k ~= "migration" and k ~= "record" then copy[k] = clean(x) end
    end
    if next(copy) == nil then return types.array() end
    return copy
  end
  local out = {}
  json(clean(value), out)
  return table.concat(out)
end

migrate.Runner = Runner

return migrate
