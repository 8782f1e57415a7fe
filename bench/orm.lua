-- Benchmark: the ORM's models against the direct client, on the same server in the same run.
--
-- Three phases, each run first through the direct client and then through a model, each side in a
-- fresh database of its own (namespace `bench`) over its own WebSocket, with 64 concurrent tasks
-- (coroutines started by `surrealdb.gather`) where calls are many:
--   1. create ROWS records `{ n, name, ok }`: `db:query("CREATE ONLY item CONTENT $data", ...)` against
--      `Item:create{...}` (which checks the three fields, then sends that same statement);
--   2. get each of them by id: `db:query("SELECT * FROM $id LIMIT $limit", ...)` against
--      `Item:get(id)` (the statement orm.query writes for a record);
--   3. scan them all with one filter: `db:query("SELECT * FROM item WHERE n >= $p1", ...)` against
--      `Item:where{ n__gte = 0 }:all()` (which makes each row a record of the model).
-- The direct side sends the same SurrealQL as the model, so the difference is the ORM's own work.
-- For each phase it prints both sides' wall-clock time, the ratio ORM/direct (the target is at most
-- 1.05) and each side's client CPU time per operation; the server does most of the work and shares
-- the machine with the client, so wall-clock ratios drift a few percent with other load.
-- Run from the project root (as `make bench` does):
--
--     LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--       scripts/with-dev-server lua5.4 bench/orm.lua
--
-- ORM_BENCH_ROWS=5000 makes a quick run (default 100,000 rows). It asserts nothing about timing; it
-- fails when a call returns the wrong record or a count is off.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local surrealdb = require("surrealdb")
local runtime = require("surrealdb.runtime")
local orm = require("surrealdb.orm")
local f = require("surrealdb.orm.fields")

local ROWS = math.tointeger(tonumber(os.getenv("ORM_BENCH_ROWS") or "100000"))
assert(ROWS and ROWS > 0, "ORM_BENCH_ROWS must be a positive integer")
local CONCURRENCY = 64

local base = os.getenv("SURREAL_URL")
assert(base and base ~= "", "SURREAL_URL is not set: run under scripts/with-dev-server (or make bench)")
local ws_url = base:gsub("^http", "ws"):gsub("/+$", ""):gsub("/rpc$", "")
local clock = runtime.now
local stamp = ("%d_%d"):format(os.time(), math.random(1, 1e9))

local function connect(name)
  local db = surrealdb.connect(ws_url, { namespace = "bench", database = name .. "_" .. stamp, timeout = 120 })
  db:query("DEFINE TABLE item TYPE NORMAL SCHEMALESS")
  return db
end

-- Run `work(i)` for i = 1..n from CONCURRENCY tasks; return wall seconds and client CPU seconds.
local function concurrently(n, work)
  local next_i = 0
  local function worker()
    while next_i < n do
      next_i = next_i + 1
      work(next_i)
    end
  end
  local workers = {}
  for i = 1, CONCURRENCY do workers[i] = worker end
  collectgarbage("collect")
  local cpu0, t0 = os.clock(), clock()
  surrealdb.gather(workers)
  return clock() - t0, os.clock() - cpu0
end

local function timed(fn)
  collectgarbage("collect")
  local cpu0, t0 = os.clock(), clock()
  fn()
  return clock() - t0, os.clock() - cpu0
end

local function row(i)
  return { n = i, name = "item " .. i, ok = i % 2 == 0 }
end

local direct_db, orm_db = connect("direct"), connect("orm")
local Item = orm.model("item", {
  n = f.Int{ required = true, min = 0 },
  name = f.String{ max_length = 100 },
  ok = f.Bool(),
}, { db = orm_db })

local results = {}
local function report(phase, direct_s, direct_cpu, orm_s, orm_cpu, ops)
  results[#results + 1] = { phase = phase, direct = direct_s, orm = orm_s }
  print(("%-7s direct %7.2f s  orm %7.2f s  ratio orm/direct %.3f   client CPU per op: direct %6.1f us, "
    .. "orm %6.1f us"):format(phase, direct_s, orm_s, orm_s / direct_s, direct_cpu / ops * 1e6, orm_cpu / ops * 1e6))
end

print(("bench/orm.lua: %d rows, %d tasks, one WebSocket per side, server %s"):format(ROWS, CONCURRENCY, base))
print("load average: " .. require("bench.support.machine").loadavg())

-- 1. Creates.
local direct_ids, orm_ids = {}, {}
local d_s, d_cpu = concurrently(ROWS, function(i)
  local created = direct_db:query("CREATE ONLY item CONTENT $data", { data = row(i) })
  assert(created.n == i, "direct create returned something else")
  direct_ids[i] = created.id
end)
local o_s, o_cpu = concurrently(ROWS, function(i)
  local created = Item:create(row(i))
  assert(created.n == i, "orm create returned something else")
  orm_ids[i] = created.id
end)
report("create", d_s, d_cpu, o_s, o_cpu, ROWS)

-- 2. Gets by id.
d_s, d_cpu = concurrently(ROWS, function(i)
  local got = direct_db:query("SELECT * FROM $id LIMIT $limit", { id = direct_ids[i], limit = 1 })
  assert(got[1].n == i, "direct get returned something else")
end)
o_s, o_cpu = concurrently(ROWS, function(i)
  assert(Item:get(orm_ids[i]).n == i, "orm get returned something else")
end)
report("get", d_s, d_cpu, o_s, o_cpu, ROWS)

-- 3. One where scan over every row.
local direct_rows, orm_rows
d_s, d_cpu = timed(function()
  direct_rows = direct_db:query("SELECT * FROM item WHERE n >= $p1", { p1 = 0 })
end)
o_s, o_cpu = timed(function()
  orm_rows = Item:where{ n__gte = 0 }:all()
end)
assert(#direct_rows == ROWS and #orm_rows == ROWS, ("scan counts %d and %d, expected %d"):format(#direct_rows,
  #orm_rows, ROWS))
report("scan", d_s, d_cpu, o_s, o_cpu, ROWS)

local total_direct, total_orm = 0, 0
for _, r in ipairs(results) do
  total_direct, total_orm = total_direct + r.direct, total_orm + r.orm
end
print(("all     direct %7.2f s  orm %7.2f s  ratio orm/direct %.3f (target <= 1.05)"):format(total_direct, total_orm,
  total_orm / total_direct))

direct_db:close()
orm_db:close()
