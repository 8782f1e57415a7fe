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
}

-- The client: `surrealdb.connect(url, options)` is added here by the client's issue.

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
