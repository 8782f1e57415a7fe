--- surrealdb-lua: a SurrealDB client for Lua 5.4 with a C core.
--
-- The package entry. It exports the value types and their constructors (`surrealdb.types`), the
-- `null`/`NONE` sentinels, the array/object markers, the error classes, and loads `surrealdb.cbor`
-- (which needs the C core) only when first used.
--
-- @module surrealdb
-- @usage
-- local surrealdb = require("surrealdb")
-- local id = surrealdb.RecordID("person", "tobie")
-- local when = surrealdb.Datetime.now()
-- local bytes = surrealdb.cbor.encode({ id = id, at = when, nickname = surrealdb.null })
local types = require("surrealdb.types")

local surrealdb = {
  null = types.null,
  NONE = types.NONE,
  array = types.array,
  object = types.object,
  errors = require("surrealdb.errors"),

  RecordID = types.RecordID,
  Table = types.Table,
  Uuid = types.Uuid,
  Datetime = types.Datetime,
  Duration = types.Duration,
  Decimal = types.Decimal,
  Range = types.Range,
  Geometry = types.Geometry,
  Future = types.Future,
  File = types.File,
  Set = types.Set,
  Bytes = types.Bytes,
  Tagged = types.Tagged,
  types = types,
}

--- Connect to a SurrealDB server (see `surrealdb.client`).
-- @tparam string url `http://`, `https://`, `ws://` or `wss://`
-- @tparam[opt] table options `namespace`, `database`, `auth`, `timeout`, `connect_timeout`, `tls`
-- @return a connected client
-- @usage local db <close> = surrealdb.connect("ws://127.0.0.1:8000", { namespace = "app", database = "app" })
function surrealdb.connect(url, options)
  return require("surrealdb.client").connect(url, options)
end

--- Set the function that receives the library's log messages (nil: warnings to standard error).
-- @tparam[opt] function fn called as `fn(level, message)`
-- @usage surrealdb.set_logger(function(level, message) print(level, message) end)
function surrealdb.set_logger(fn)
  require("surrealdb.log").set(fn)
end

--- Run `fn(...)` as a task whose client calls yield instead of blocking (see `surrealdb.runtime`).
-- @usage local task = surrealdb.spawn(function() return db:query("RETURN 1") end); print(task.result())
function surrealdb.spawn(fn, ...)
  return require("surrealdb.runtime").spawn(fn, ...)
end

--- Run functions as concurrent tasks and return their first results in order.
-- @usage local counts = surrealdb.gather{ function() return db:query("RETURN 1") end }
function surrealdb.gather(fns)
  return require("surrealdb.runtime").gather(fns)
end

--- Run ready tasks and the loop once, waiting at most `timeout` seconds: for hosts with their own loop.
-- @usage while surrealdb.poll(0.01) do end
function surrealdb.poll(timeout)
  return require("surrealdb.runtime").poll(timeout)
end

-- Modules loaded on first use: `surrealdb.cbor` needs the C core (surrealdb.core).
local lazy = {
  cbor = "surrealdb.cbor",
}

return setmetatable(surrealdb, {
  __index = function(t, key)
    local name = lazy[key]
    if name == nil then return nil end
    local module = require(name)
    rawset(t, key, module)
    return module
  end,
})
