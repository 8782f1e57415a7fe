-- Benchmark: `db:bulk():insert` against the official JS SDK and against the engine alone.
--
-- For each row count N (BULK_ROWS, a comma list, default "100000,1000000"), rows of 8 fields (name, age,
-- email, score (a float), active, city, tags (2 strings), n; row i is the same in Lua and in node, see
-- make_row here and makeRow in bench/support/bulk_js.mjs) go into a fresh table `row` (DEFINE TABLE ...
-- SCHEMALESS, a fresh database each run, removed afterwards) of the server at SURREAL_URL:
--   1. Lua auto: `db:bulk{ batch_size = "auto", parallel = P }:insert("row", iterator)` over one
--      WebSocket client; the iterator makes each row when the bulk asks for it. Prints the batch size
--      it chose and what it measured on the way (result.tuning).
--   2. Lua fixed: the same with fixed batch sizes (BULK_FIXED, default "100,200,500,1000"), all of them
--      once at the first N to find the best, then the best of them beside the others.
--   3. JS SDK: surrealdb.js inserting the same rows into the same server, `insert(table, rows)` per
--      batch of the size auto chose, P calls in flight, with `.output("none")` so the server runs the
--      same statement as ours (bench/support/bulk_js.mjs).
--   4. Ceiling: the same statement (`Bulk.statement("insert")`, with the variable names the Lua bulk was
--      seen to bind), batches of the size auto chose, P in flight, executed by the engine in a node
--      process (@surrealdb/node on mem://, no server, no client: bench/support/bulk_engine.mjs engine).
--   5. Bare WebSocket: the same requests, encoded beforehand, sent by node over one WebSocket to the
--      server (bulk_engine.mjs ws): the server's own share, without a client library's.
-- 1, 2 (the best fixed size), 3 and 5 share one server, which slows down a little as it has held more
-- rows (even in databases since removed), so they run in mirrored rounds, 1 2 3 5 then 5 3 2 1, and
-- each side's rows/s is over the total time of its runs: drift weighs on every side alike.
-- Each Lua run is a child process of this one (`bulk.lua --run ...`), so its peak RSS (VmHWM) belongs to
-- its row count alone. Besides rows/s it prints each side's CPU time per row and, when the server is
-- a local process that `ss` can name, the server's CPU time per row over the same timed section: the
-- client and the server share this machine's cores, and the `load average` it prints says how quiet
-- the machine was.
-- Then the ratios: auto/ceiling (target >= 0.85), auto/JS (target >= 1.5), auto/best fixed, and Lua
-- auto's peak RSS from the first N to the last (target: within 20%).
-- Run from the project root (as `make bench` does):
--
--     LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--       scripts/with-dev-server lua5.4 bench/bulk.lua
--
-- Environment: BULK_ROWS (default "100000,1000000"; "20000" is a quick run), BULK_PARALLEL (default 2),
-- BULK_FIXED (default "100,200,500,1000"), BULK_REPEAT (default 1: pairs of mirrored rounds). The default
-- run takes about fifteen minutes on a 2-core machine.
-- It reports; it asserts nothing about timing, but it fails when a table does not hold N rows after a run.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local surrealdb = require("surrealdb")
local Bulk = require("surrealdb.bulk")
local runtime = require("surrealdb.runtime")
local types = require("surrealdb.types")

local TABLE = "row"
local NAMESPACE = "bench"
local JS_SCRIPT = "bench/support/bulk_js.mjs"
local ENGINE_SCRIPT = "bench/support/bulk_engine.mjs"
local clock = runtime.now

local base = os.getenv("SURREAL_URL")
assert(base and base ~= "", "SURREAL_URL is not set: run under scripts/with-dev-server (or make bench)")
local ws_url = base:gsub("^http", "ws"):gsub("/+$", ""):gsub("/rpc$", "")

local function integers(text, what)
  local list = {}
  for item in text:gmatch("[^,%s]+") do
    local n = math.tointeger(tonumber(item))
    assert(n and n > 0, ("%s: %q is not a positive integer"):format(what, item))
    list[#list + 1] = n
  end
  assert(#list > 0, what .. " is empty")
  return list
end

-- ---- the rows ----

local CITIES = { "Lisbon", "Osaka", "Lagos", "Lima", "Oslo", "Perth", "Quito", "Seoul" }
local TAGS = { "red", "green", "blue", "amber", "violet", "teal", "coral", "olive" }

-- Row number i (from 1): the same as makeRow in bench/support/bulk_js.mjs.
local function make_row(i)
  return {
    name = "user " .. i,
    age = 18 + i % 60,
    email = "user" .. i .. "@example.com",
    score = i % 1000 + 0.5, -- never a whole number, so a float on both sides
    active = i % 3 ~= 0,
    city = CITIES[i % 8 + 1],
    tags = { TAGS[i % 8 + 1], TAGS[(i * 3 + 1) % 8 + 1] },
    n = i,
  }
end

-- An iterator over rows 1..n, made one at a time as they are asked for.
local function row_iterator(n)
  local i = 0
  return function()
    if i >= n then return nil end
    i = i + 1
    return make_row(i)
  end
end

-- ---- this process ----

local function proc_status_kb(field)
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return math.tointeger(tonumber(text:match(field .. ":%s*(%d+)"))) or 0
end

-- The server's CPU seconds so far, when the parent named its /proc/PID/stat (BULK_SERVER_STAT, with
-- BULK_CLK_TCK): utime and stime, the 12th and 13th fields after the command name's parenthesis.
local function server_cpu()
  local path, ticks = os.getenv("BULK_SERVER_STAT"), tonumber(os.getenv("BULK_CLK_TCK"))
  local f = path and ticks and io.open(path)
  if not f then return nil end
  local stat = f:read("a")
  f:close()
  local fields = {}
  for field in (stat:match("%) (.*)$") or ""):gmatch("%S+") do fields[#fields + 1] = field end
  return (tonumber(fields[12]) + tonumber(fields[13])) / ticks
end

local function emit(figures)
  for key, value in pairs(figures) do io.write(key, "\t", tostring(value), "\n") end
  io.flush()
end

-- ---- child: one Lua run ----

-- `bulk.lua --run ROWS BATCH PARALLEL DATABASE`: inserts ROWS rows with db:bulk into DATABASE.`row`
-- (BATCH is "auto" or a number) and prints its figures as `key<TAB>value` lines.
local function run_child(rows, batch, parallel, database)
  local db <close> = surrealdb.connect(ws_url, { namespace = NAMESPACE, database = database })
  db:query(("DEFINE TABLE %s SCHEMALESS"):format(TABLE))

  -- What the bulk sends, seen on its way out: the statement of each batch (it must be
  -- Bulk.statement("insert"), which the ceiling runs) and the names of the variables holding the
  -- Table and the rows (the ceiling binds the same).
  local seen = {}
  local query_raw = db.query_raw
  db.query_raw = function(self, sql, vars, options)
    if seen[sql] == nil then
      seen[sql] = true
      seen[#seen + 1] = sql
      for name, value in pairs(vars or {}) do
        if getmetatable(value) == types.Table then seen.table_var = name else seen.rows_var = name end
      end
    end
    return query_raw(self, sql, vars, options)
  end

  collectgarbage("collect")
  local rss_before = proc_status_kb("VmRSS")
  local size = batch == "auto" and "auto" or math.tointeger(tonumber(batch))
  local bulk = db:bulk{ batch_size = size, parallel = parallel }
  local server0, cpu0, t0 = server_cpu(), os.clock(), clock()
  local result = bulk:insert(TABLE, row_iterator(rows))
  local seconds, cpu, server1 = clock() - t0, os.clock() - cpu0, server_cpu()
  local rss_peak = proc_status_kb("VmHWM")
  db.query_raw = nil

  assert(result.success_count == rows and result.error_count == 0,
    ("bulk insert: %d landed, %d failed"):format(result.success_count, result.error_count))
  local counted = db:query(("SELECT count() FROM %s GROUP ALL"):format(TABLE))
  counted = counted[1] and counted[1].count
  assert(counted == rows, ("%s rows in the table, expected %d"):format(tostring(counted), rows))
  -- One row read back must be the row that was made.
  local sample = db:query(("SELECT * FROM %s LIMIT 1"):format(TABLE))[1]
  local expected = make_row(sample.n)
  for k, v in pairs(expected) do
    local got = sample[k]
    if k == "tags" then assert(got[1] == v[1] and got[2] == v[2] and #got == 2, "tags differ")
    else assert(got == v and math.type(got) == math.type(v), ("field %s: %s, expected %s"):format(k,
      tostring(got), tostring(v))) end
  end

  local tuning = {}
  for _, t in ipairs(result.tuning or {}) do tuning[#tuning + 1] = ("%d:%.0f"):format(t.size, t.rows_per_s) end
  assert(#seen == 1 and seen[1] == Bulk.statement("insert"), ("the bulk sent %q, not Bulk.statement(\"insert\")")
    :format(table.concat(seen, "; ")))
  emit{
    rows = rows,
    seconds = ("%.3f"):format(seconds),
    rows_per_s = ("%.0f"):format(rows / seconds),
    cpu_us_per_row = ("%.2f"):format(cpu / rows * 1e6),
    server_cpu_us_per_row = server1 and ("%.2f"):format((server1 - server0) / rows * 1e6) or nil,
    batch_size = result.batch_size,
    batches = result.batches,
    retries = result.retries,
    tuning = #tuning > 0 and table.concat(tuning, ",") or "-",
    rss_before_kb = rss_before,
    rss_peak_kb = rss_peak,
    statement = seen[1],
    table_var = seen.table_var,
    rows_var = seen.rows_var,
  }
end

if arg and arg[1] == "--run" then
  run_child(math.tointeger(tonumber(arg[2])), arg[3], math.tointeger(tonumber(arg[4])), arg[5])
  return
end

-- ---- parent ----

local ROW_COUNTS = integers(os.getenv("BULK_ROWS") or "100000,1000000", "BULK_ROWS")
local PARALLEL = integers(os.getenv("BULK_PARALLEL") or "2", "BULK_PARALLEL")[1]
local FIXED = integers(os.getenv("BULK_FIXED") or "100,200,500,1000", "BULK_FIXED")
local REPEAT = integers(os.getenv("BULK_REPEAT") or "1", "BULK_REPEAT")[1]
local LUA = arg and arg[-1] or "lua5.4"
local SCRIPT = arg and arg[0] or "bench/bulk.lua"
local stamp = ("%d_%d"):format(os.time(), math.random(1, 1e9))
local run_number = 0

local function shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

-- The server's process, when it is a local one `ss` can name (the dev server is): each run measures
-- the server's CPU time over its own timed section from /proc/PID/stat (see server_cpu).
local server_env = ""
do
  local port = base:match("^%a+://[^/]-:(%d+)")
  local host = base:match("^%a+://([^/:]+)")
  if port and (host == "127.0.0.1" or host == "localhost") then
    local ss = io.popen(("ss -ltnpH 'sport = :%s' 2>/dev/null"):format(port))
    local pid = ss and (ss:read("a") or ""):match("pid=(%d+)")
    if ss then ss:close() end
    local getconf = io.popen("getconf CLK_TCK 2>/dev/null")
    local ticks = tonumber(getconf:read("l"))
    getconf:close()
    if pid and ticks then
      server_env = ("BULK_SERVER_STAT=/proc/%s/stat BULK_CLK_TCK=%d "):format(pid, ticks)
    end
  end
end

-- Run a command; returns its `key<TAB>value` lines as a table (numbers where they are numbers).
local function run_figures(args, what)
  for i, a in ipairs(args) do args[i] = shell_quote(a) end
  local pipe = assert(io.popen(server_env .. table.concat(args, " ") .. " 2>&1"))
  local out = pipe:read("a")
  local ok = pipe:close()
  assert(ok, what .. " failed:\n" .. out)
  local figures = {}
  for key, value in out:gmatch("([%w_]+)\t([^\n]*)") do figures[key] = tonumber(value) or value end
  assert(figures.rows_per_s, what .. " printed no figures:\n" .. out)
  return figures
end

local function fresh_database(label)
  run_number = run_number + 1
  return ("bulk_%s_%s_%d"):format(label, stamp, run_number)
end

-- The figures of several runs of the same side taken as one: rows/s over their total time, CPU
-- per row averaged, the highest peak RSS; the rest (the batch size, the tuning) of the first run.
local function combined(runs)
  local out = {}
  for k, v in pairs(runs[1]) do out[k] = v end
  local seconds, cpu, server = 0, 0, 0
  for _, f in ipairs(runs) do
    seconds = seconds + 1 / f.rows_per_s
    cpu = cpu + (f.cpu_us_per_row or 0)
    server = server + (f.server_cpu_us_per_row or 0)
    if f.rss_peak_kb and (out.rss_peak_kb == nil or f.rss_peak_kb > out.rss_peak_kb) then
      out.rss_peak_kb = f.rss_peak_kb
    end
  end
  out.rows_per_s = #runs / seconds
  out.cpu_us_per_row = runs[1].cpu_us_per_row and cpu / #runs
  out.server_cpu_us_per_row = runs[1].server_cpu_us_per_row and server / #runs
  return out
end

local admin = surrealdb.connect(ws_url, { namespace = NAMESPACE })
local function remove_database(database)
  admin:query(("REMOVE DATABASE IF EXISTS %s"):format(database))
end

local function lua_run(rows, batch)
  local database = fresh_database("lua")
  local figures = run_figures({ LUA, SCRIPT, "--run", rows, batch, PARALLEL, database },
    ("the Lua run (%d rows, batch size %s)"):format(rows, batch))
  remove_database(database)
  return figures
end

local function js_run(rows, batch)
  local database = fresh_database("js")
  local figures = run_figures({ "node", JS_SCRIPT, ws_url .. "/rpc", NAMESPACE, database, TABLE, rows, batch,
    PARALLEL }, "the JS side")
  remove_database(database)
  assert(figures.counted == rows, ("the JS side left %s rows, expected %d"):format(tostring(figures.counted),
    rows))
  return figures
end

local function engine_run(mode, rows, batch, seen)
  local database = fresh_database("raw")
  local args = { "node", ENGINE_SCRIPT, mode, rows, batch, PARALLEL, TABLE, Bulk.statement("insert"),
    seen.table_var, seen.rows_var }
  if mode == "ws" then
    for _, a in ipairs{ ws_url .. "/rpc", NAMESPACE, database } do args[#args + 1] = a end
  end
  local f = run_figures(args, "bulk_engine.mjs " .. mode)
  if mode == "ws" then remove_database(database) end
  assert(f.counted == rows, ("%s left %s rows, expected %d"):format(mode, tostring(f.counted), rows))
  return f
end

-- Run each side (a function returning figures) REPEAT times in mirrored rounds, A B C then C B A, so
-- that a server that slows down as it holds more (it does, a little, run after run) weighs on every
-- side alike; returns each side's combined figures. The first round starts with the first side.
local function mirrored(sides)
  local runs = {}
  for i = 1, #sides do runs[i] = {} end
  for round = 1, 2 * REPEAT do
    local forward = round % 2 == 1
    for step = 1, #sides do
      local i = forward and step or #sides + 1 - step
      local list = runs[i]
      list[#list + 1] = sides[i]()
    end
  end
  local out = {}
  for i = 1, #sides do out[i] = combined(runs[i]) end
  return table.unpack(out)
end

local loadavg = require("bench.support.machine").loadavg

local version = admin:version()
local node_version = io.popen("node --version"):read("l") or "?"
print(("db:bulk():insert vs surrealdb.js 2.0.8 (node %s) vs the engine in-process; server %s at %s")
  :format(node_version, version, ws_url))
print(("rows of 8 fields into a fresh table; parallel %d; row counts %s; fixed batch sizes tried %s; %d mirrored "
  .. "round pair(s)")
  :format(PARALLEL, table.concat(ROW_COUNTS, ", "), table.concat(FIXED, ", "), REPEAT))
print("note: the server, the client under test and the ceiling's engine all run on this machine's cores.")
print("client us/r: CPU time per row of the process that sent the rows (for the ceiling: node and the engine);")
print("server us/r: the server's CPU time per row over the same seconds; peak RSS: of the process that sent them.")
io.flush()

local started, load_before = clock(), loadavg()
local best_fixed -- chosen at the first row count
local summary = {}

local function fmt_cpu(v) return v and ("%.1f"):format(v) or "-" end
local function line(label, f, batch)
  print(("  %-40s %10.0f %7s %11s %11s %10s"):format(label, f.rows_per_s, batch or f.batch_size or "",
    fmt_cpu(f.cpu_us_per_row), fmt_cpu(f.server_cpu_us_per_row),
    f.rss_peak_kb and ("%.1f MB"):format(f.rss_peak_kb / 1024) or "-"))
  io.flush()
end

-- The dev server is a node process: its first seconds run slower while V8 compiles its hot paths, and
-- whichever measurement came first paid for that. A warm-up run (not counted) puts every measurement
-- on a warm server.
local WARMUP_ROWS = 100000
lua_run(WARMUP_ROWS, 200)
print(("warm-up: %d rows went to the server first (not counted)"):format(WARMUP_ROWS))

for index, rows in ipairs(ROW_COUNTS) do
  print(("\n%d rows (load average %s)"):format(rows, loadavg()))
  print(("  %-40s %10s %7s %11s %11s %10s"):format("", "rows/s", "batch", "client us/r", "server us/r",
    "peak RSS"))
  if index == 1 then -- the best fixed size, once, at the first row count
    local best
    for _, size in ipairs(FIXED) do
      local f = lua_run(rows, size)
      line(("Lua bulk, batch_size = %d, trying"):format(size), f)
      if best == nil or f.rows_per_s > best.rows_per_s then best = f end
    end
    best_fixed = best.batch_size
  end

  local first_auto -- the first auto run: its batch size is the one the others use
  local auto, best, js, ws = mirrored({
    function()
      local f = lua_run(rows, "auto")
      first_auto = first_auto or f
      return f
    end,
    function() return lua_run(rows, best_fixed) end,
    function() return js_run(rows, first_auto.batch_size) end,
    function() return engine_run("ws", rows, first_auto.batch_size, first_auto) end,
  })
  local batch = first_auto.batch_size
  line("Lua bulk, batch_size = \"auto\"", auto)
  print(("    auto chose %d after trying (size:rows/s as the tuner estimated it) %s; %d batches, %d retries;"
    .. " statement %q")
    :format(auto.batch_size, auto.tuning, auto.batches, auto.retries, auto.statement))
  line(("Lua bulk, batch_size = %d, the best fixed"):format(best_fixed), best)
  line("JS SDK insert(...).output(\"none\")", js, batch)
  line("node, bare WebSocket, pre-encoded", ws, batch)
  local ceiling = engine_run("engine", rows, batch, first_auto)
  line("engine in-process, pre-encoded (ceiling)", ceiling, batch)

  print(("  auto/ceiling %.2f (target >= 0.85)   auto/JS %.2f (target >= 1.5)   auto/best fixed (%d) %.2f")
    :format(auto.rows_per_s / ceiling.rows_per_s, auto.rows_per_s / js.rows_per_s, best_fixed,
      auto.rows_per_s / best.rows_per_s))
  print(("  bare WebSocket/ceiling %.2f (the server's share);  auto/bare WebSocket %.2f (the client's share)")
    :format(ws.rows_per_s / ceiling.rows_per_s, auto.rows_per_s / ws.rows_per_s))
  io.flush()
  summary[#summary + 1] = { rows = rows, auto = auto }
end

print(("\nLua peak RSS (VmHWM of the child running batch_size = \"auto\"; RSS before the insert in brackets):"))
for _, s in ipairs(summary) do
  print(("  %9d rows: %.1f MB (%.1f MB)"):format(s.rows, s.auto.rss_peak_kb / 1024, s.auto.rss_before_kb / 1024))
end
if #summary > 1 then
  print(("  last/first %.2f (target <= 1.20)"):format(summary[#summary].auto.rss_peak_kb / summary[1].auto.rss_peak_kb))
end
print(("load average %s at the start, %s at the end; %.0f s in all"):format(load_before, loadavg(), clock() - started))
admin:close()
