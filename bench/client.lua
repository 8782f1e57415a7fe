-- Benchmark: the client over one WebSocket against the official JS SDK (`surrealdb` npm 2.0.8), on the
-- same server in the same run.
--
-- Each side gets a fresh database (namespace `bench`), defines the table `item`, creates `probe:1`, then
--   1. selects `probe:1` by record id SELECTS times, one call after another: round-trip p50/p99;
--   2. creates CREATES small records `{ n, name, ok }` in `item` from 64 concurrent tasks (coroutines
--      started with `surrealdb.gather`; promises on the JS side) sharing one connection: creates/s.
-- The JS side runs first, in node (bench/support/client_js.mjs), then ours in this process: once with
-- the client's own `select` and `create` (SurrealDB's RPC methods of those names), once through `query`
-- with the SurrealQL the JS SDK sends for them (`SELECT * FROM ONLY $what`, `CREATE $what CONTENT
-- $data`), that one with the first 20,000 creates only; the rate over each side's first 20,000 creates
-- compares it. Besides wall-clock figures it prints each client's own CPU time per create: the server
-- does most of the work (about ten times the client's CPU per create) and shares the machine's cores
-- with the client under test, so wall-clock figures are bounded by it and drift with other load.
-- Run from the project root (as `make bench` does):
--
--     LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--       scripts/with-dev-server lua5.4 bench/client.lua [creates [selects]]
--
-- Defaults: 100,000 creates and 2,000 selects per side: about a minute and a half in all on a quiet
-- 2-core machine (the `load average` it prints tells how quiet the machine was).
-- It reports; it asserts nothing about timing, but it fails when a call returns the wrong record or
-- a count is off.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local surrealdb = require("surrealdb")
local runtime = require("surrealdb.runtime")

local CREATES = math.tointeger(tonumber(arg and arg[1]) or 100000)
local SELECTS = math.tointeger(tonumber(arg and arg[2]) or 2000)
local CONCURRENCY = 64
local WARMUP = math.min(200, SELECTS)
local PARTIAL = math.min(CREATES, 20000) -- also timed: when this many creates have completed
local JS_SCRIPT = "bench/support/client_js.mjs"
assert(CREATES and CREATES > 0 and SELECTS and SELECTS > 0,
  "usage: lua5.4 bench/client.lua [creates [selects]] (positive integers)")

local base = os.getenv("SURREAL_URL")
assert(base and base ~= "", "SURREAL_URL is not set: run under scripts/with-dev-server (or make bench)")
local ws_url = base:gsub("^http", "ws"):gsub("/+$", ""):gsub("/rpc$", "")
local clock = runtime.now

-- Fresh database names for this run, one per side.
local stamp = ("%d_%d"):format(os.time(), math.random(1, 1e9))
local NAMESPACE = "bench"
local DB_JS = "js_" .. stamp

local function percentile(sorted, p)
  return sorted[math.min(#sorted, math.max(1, math.ceil(p / 100 * #sorted)))]
end

local function shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

-- The JS side: run node, read its `key<TAB>value` lines.
local function run_js()
  local args = { "node", JS_SCRIPT, ws_url .. "/rpc", NAMESPACE, DB_JS, CREATES, SELECTS, CONCURRENCY }
  for i, a in ipairs(args) do args[i] = shell_quote(a) end
  local pipe = assert(io.popen(table.concat(args, " ") .. " 2>&1"))
  local out = pipe:read("a")
  local ok = pipe:close()
  assert(ok, "the JS side failed:\n" .. out)
  local figures = {}
  for key, value in out:gmatch("([%w_]+)\t([^\n]*)") do figures[key] = tonumber(value) end
  assert(figures.creates_per_s, "the JS side printed no figures:\n" .. out)
  return figures
end

-- The calls of our side: the client's own methods (the `select` and `create` RPC methods), or the
-- SurrealQL the JS SDK sends for the same calls, through `query`.
local calls = {
  rpc = {
    select = function(db, id) return db:select(id) end,
    create = function(db, tb, data) return db:create(tb, data) end,
  },
  query = {
    select = function(db, id) return db:query("SELECT * FROM ONLY $what", { what = id }) end,
    create = function(db, tb, data) return db:query("CREATE $what CONTENT $data", { what = tb, data = data }) end,
  },
}

-- Our side, in this process, in a fresh database of its own.
local function run_ours(mode, creates)
  local select, create = calls[mode].select, calls[mode].create
  local database = ("lua_%s_%s"):format(mode, stamp)
  local db <close> = surrealdb.connect(ws_url, { namespace = NAMESPACE, database = database })
  db:query("DEFINE TABLE item SCHEMALESS; CREATE probe:1 CONTENT { n: 1, name: 'probe', ok: true }")

  -- 1. Round-trip latency of select by record id, one call at a time.
  local probe = surrealdb.RecordID("probe", 1)
  for _ = 1, WARMUP do select(db, probe) end
  local times, total = {}, 0
  for i = 1, SELECTS do
    local t0 = clock()
    local record = select(db, probe)
    local dt = (clock() - t0) * 1e6
    times[i], total = dt, total + dt
    assert(type(record) == "table" and record.name == "probe", "select returned something else")
  end
  table.sort(times)

  -- 2. Throughput of small creates from CONCURRENCY tasks on the one connection.
  local item = surrealdb.Table("item")
  local next_n, done, partial_seconds = 0, 0, nil
  local t0
  local function worker()
    while next_n < creates do
      next_n = next_n + 1
      local n = next_n
      local created = create(db, item, { n = n, name = "item " .. n, ok = n % 2 == 0 })
      -- CREATE on a table answers with an array of the one record created.
      assert(created[1] and created[1].n == n, "create returned something else")
      done = done + 1
      if done == PARTIAL then partial_seconds = clock() - t0 end
    end
  end
  local workers = {}
  for i = 1, CONCURRENCY do workers[i] = worker end
  collectgarbage("collect")
  local cpu0 = os.clock()
  t0 = clock()
  surrealdb.gather(workers)
  local seconds, cpu = clock() - t0, os.clock() - cpu0
  local counted = db:query("RETURN count(SELECT id FROM item)")
  assert(counted == creates, ("%s records in item, expected %d"):format(tostring(counted), creates))

  return {
    select_p50_us = percentile(times, 50),
    select_p99_us = percentile(times, 99),
    select_mean_us = total / SELECTS,
    create_seconds = seconds,
    creates_per_s = creates / seconds,
    partial_creates_per_s = PARTIAL / partial_seconds,
    create_cpu_us = cpu / creates * 1e6,
  }
end

local version
do
  local db <close> = surrealdb.connect(ws_url)
  version = db:version()
end

local loadavg = require("bench.support.machine").loadavg

local started, load_before = clock(), loadavg()
local js = run_js()
local ours = run_ours("rpc", CREATES)
-- The SurrealQL variant creates PARTIAL records only (to keep the default run short); its rate is
-- compared with each side's rate over its first PARTIAL creates.
local ours_query = run_ours("query", PARTIAL)

print(("surrealdb-lua vs surrealdb.js 2.0.8 (node %s) over one WebSocket each, server %s at %s")
  :format(io.popen("node --version"):read("l") or "?", version, ws_url))
print(("%d selects by record id (one at a time, after %d warm-up calls); %d creates from %d concurrent tasks")
  :format(SELECTS, WARMUP, CREATES, CONCURRENCY))
print("note: the dev server (node + the SurrealDB engine) runs on this machine and shares its CPU cores with")
print("      the client under test; wall-clock figures are end-to-end and mostly the server's time.")
print(("load average %s at the start, %s at the end; %.0f s in all"):format(load_before, loadavg(),
  clock() - started))
print(("%-34s %12s %12s %8s"):format("", "ours", "JS", "ours/JS"))
local function row(label, a, b, fmt, note)
  print(("%-34s %12s %12s %7.2fx%s"):format(label, fmt:format(a), fmt:format(b), a / b, note or ""))
end
row("select p50 (us)", ours.select_p50_us, js.select_p50_us, "%.0f", "  (lower is better)")
row("select p99 (us)", ours.select_p99_us, js.select_p99_us, "%.0f", "  (lower is better)")
row("select mean (us)", ours.select_mean_us, js.select_mean_us, "%.0f", "  (lower is better)")
row("creates/s, 64 concurrent", ours.creates_per_s, js.creates_per_s, "%.0f", "  (higher is better)")
row(("creates/s, first %d"):format(PARTIAL), ours.partial_creates_per_s, js.partial_creates_per_s, "%.0f",
  "  (higher is better)")
row("client CPU per create (us)", ours.create_cpu_us, js.create_cpu_us, "%.1f", "  (lower is better)")
print(("ours through query, sending the SurrealQL the JS SDK sends (SELECT * FROM ONLY $what;"
  .. " CREATE $what CONTENT $data), %d creates:"):format(PARTIAL))
row("select p50 (us)", ours_query.select_p50_us, js.select_p50_us, "%.0f", "  (lower is better)")
row("select p99 (us)", ours_query.select_p99_us, js.select_p99_us, "%.0f", "  (lower is better)")
row("select mean (us)", ours_query.select_mean_us, js.select_mean_us, "%.0f", "  (lower is better)")
row(("creates/s, first %d"):format(PARTIAL), ours_query.partial_creates_per_s, js.partial_creates_per_s, "%.0f",
  "  (higher is better)")
row("client CPU per create (us)", ours_query.create_cpu_us, js.create_cpu_us, "%.1f",
  ("  (%d creates here)"):format(PARTIAL))
