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
-- Each phase runs in ORM_BENCH_ROUNDS rounds (default 4) that take turns at going first, so neither
-- side is favoured by going first (a warmer server, a smaller heap for the collector to walk); the
-- scan runs once per round.
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
local ROUNDS = math.tointeger(tonumber(os.getenv("ORM_BENCH_ROUNDS") or "4"))
assert(ROUNDS and ROUNDS > 0 and ROUNDS % 2 == 0, "ORM_BENCH_ROUNDS must be a positive even integer")
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

-- Run `work(i)` for i = first..last from CONCURRENCY tasks; return wall seconds and client CPU seconds.
local function concurrently(first, last, work)
  local next_i = first - 1
  local function worker()
    while next_i < last do
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

print(("bench/orm.lua: %d rows, %d tasks, %d rounds, one WebSocket per side, server %s"):format(ROWS, CONCURRENCY,
  ROUNDS, base))
print("load average: " .. require("bench.support.machine").loadavg())

-- Run one phase in ROUNDS rounds that take turns at going first: `direct(first, last)` and
-- `model(first, last)` each do the rows first..last and return wall and CPU seconds (a whole-table
-- phase ignores the range). Report the sums; `ops` is the operations per side in all.
local function phase(name, whole, direct, model, ops)
  local per_round = whole and ROWS or ROWS // ROUNDS
  local d_s, d_cpu, o_s, o_cpu = 0, 0, 0, 0
  for round = 1, ROUNDS do
    local first = whole and 1 or (round - 1) * per_round + 1
    local last = (whole or round == ROUNDS) and ROWS or round * per_round
    local function run_direct()
      local s, cpu = direct(first, last)
      d_s, d_cpu = d_s + s, d_cpu + cpu
    end
    local function run_model()
      local s, cpu = model(first, last)
      o_s, o_cpu = o_s + s, o_cpu + cpu
    end
    if round % 2 == 1 then
      run_direct()
      run_model()
    else
      run_model()
      run_direct()
    end
  end
  report(name, d_s, d_cpu, o_s, o_cpu, ops)
end

-- 1. Creates.
local direct_ids, orm_ids = {}, {}
phase("create", false, function(first, last)
  return concurrently(first, last, function(i)
    local created = direct_db:query("CREATE ONLY item CONTENT $data", { data = row(i) })
    assert(created.n == i, "direct create returned something else")
    direct_ids[i] = created.id
  end)
end, function(first, last)
  return concurrently(first, last, function(i)
    local created = Item:create(row(i))
    assert(created.n == i, "orm create returned something else")
    orm_ids[i] = created.id
  end)
end, ROWS)

-- 2. Gets by id.
phase("get", false, function(first, last)
  return concurrently(first, last, function(i)
    local got = direct_db:query("SELECT * FROM $id LIMIT $limit", { id = direct_ids[i], limit = 1 })
    assert(got[1].n == i, "direct get returned something else")
  end)
end, function(first, last)
  return concurrently(first, last, function(i)
    assert(Item:get(orm_ids[i]).n == i, "orm get returned something else")
  end)
end, ROWS)

-- 3. A where scan over every row, once per round.
local function check_scan(rows, side)
  assert(#rows == ROWS, ("%s scan counted %d rows, expected %d"):format(side, #rows, ROWS))
end
phase("scan", true, function()
  return timed(function() check_scan(direct_db:query("SELECT * FROM item WHERE n >= $p1", { p1 = 0 }), "direct") end)
end, function()
  return timed(function() check_scan(Item:where{ n__gte = 0 }:all(), "orm") end)
end, ROWS * ROUNDS)

local total_direct, total_orm = 0, 0
for _, r in ipairs(results) do
  total_direct, total_orm = total_direct + r.direct, total_orm + r.orm
end
print(("all     direct %7.2f s  orm %7.2f s  ratio orm/direct %.3f (target <= 1.05)"):format(total_direct, total_orm,
  total_orm / total_direct))

direct_db:close()
orm_db:close()
