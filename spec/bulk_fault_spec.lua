-- Integration: db:bulk() under real faults, against the real dev server: connections cut mid-bulk
-- by a TCP proxy (spec/support/fault_proxy.js), a dev server killed with SIGKILL and restarted on its
-- surrealkv:// datastore in the middle of a 100,000-row import, and Ctrl-C in a child process.
-- Every check counts the rows in the database: exactly the rows the BulkResult says landed.
local helper = require("spec.helper")
local surrealdb = require("surrealdb")
local errors = surrealdb.errors
local runtime = require("surrealdb.runtime")

local FAST_RECONNECT = { delay = 0.05, max_delay = 0.25 }

-- Rows numbered 1..n (field `n`), without ids; an iterator, as a large import would give them.
local function numbered_rows(n)
  local i = 0
  return function()
    if i >= n then return nil end
    i = i + 1
    return { n = i, name = "row " .. i, group = i % 7, payload = ("x"):rep(20) }
  end
end

-- The numbers of the rows in the table, each with how often it is there; and the row count.
local function landed(db, tb)
  local counts, total = {}, 0
  local ns = db:query(("SELECT VALUE n FROM %s"):format(tb))
  for _, n in ipairs(ns) do
    counts[n] = (counts[n] or 0) + 1
    total = total + 1
  end
  return counts, total
end

-- Exactly rows 1..n, each once: the count, the distinct count, and the smallest and largest number.
local function assert_exactly(db, tb, n)
  local total, distinct, low, high = db:query(([[
    RETURN count(SELECT * FROM %s);
    RETURN array::len(array::distinct(SELECT VALUE n FROM %s));
    RETURN math::min(SELECT VALUE n FROM %s);
    RETURN math::max(SELECT VALUE n FROM %s);
  ]]):format(tb, tb, tb, tb))
  assert.are.equal(n, total, "rows in the table")
  assert.are.equal(n, distinct, "distinct rows (a duplicate or a loss shows here)")
  assert.are.equal(1, low)
  assert.are.equal(n, high)
end

-- Whether `n` lies in one of the ranges of `list` (`{ { first, last }, ... }`).
local function in_ranges(list, n)
  for _, range in ipairs(list) do
    if n >= range[1] and n <= range[2] then return true end
  end
  return false
end

describe("bulk under faults #integration", function()
  local direct = helper.server_url()

  -- Runs `fn(db, proxy, observer)`: `db` (2 connections) reaches a fresh database through a fault
  -- proxy in slow mode, which holds each answer `delay_ms`; `observer` reaches it directly and the table
  -- `row` is defined. The clients and the proxy are closed afterwards, also when `fn` fails.
  local function through_slow_proxy(scheme, prefix, delay_ms, fn)
    local proxy = helper.fault_proxy(nil, delay_ms)
    local database = helper.fresh_name(prefix)
    local observer = surrealdb.connect(direct, { namespace = "spec", database = database, timeout = 10 })
    local db
    local ok, err = pcall(function()
      observer:query("DEFINE TABLE row SCHEMALESS")
      db = surrealdb.connect(("%s://127.0.0.1:%d"):format(scheme, proxy.port), { namespace = "spec",
        database = database, timeout = 10, pool = { size = 2 }, reconnect = FAST_RECONNECT })
      db:query("RETURN 1")
      proxy.slow()
      fn(db, proxy, observer)
    end)
    if db then db:close() end
    observer:close()
    proxy.stop()
    if not ok then error(err, 0) end
  end

  for _, scheme in ipairs({ "ws", "http" }) do
    it("inserts every row exactly once through connections cut 4 times mid-bulk (" .. scheme .. ")", function()
      -- Answers are held 100 ms by the proxy, and each cut comes 50 ms after a batch was answered:
      -- both workers' batches have run on the server, and their answers are lost.
      through_slow_proxy(scheme, "bulk_cut", 100, function(db, proxy, observer)
        local n, cuts, next_cut, cutting = 10000, 0, 1500, false
        local result = db:bulk({ ids = "generate", batch_size = 250, parallel = 2, max_retries = 10,
          progress = function(done)
            if done >= next_cut and cuts < 4 and not cutting then
              cuts, next_cut, cutting = cuts + 1, next_cut + 2000, true
              surrealdb.spawn(function()
                runtime.sleep(0.05)
                proxy.cut()
                cutting = false
              end)
            end
          end }):insert("row", numbered_rows(n))
        helper.wait_until(function() return not cutting end, 5, "the last cut")
        proxy.up()
        assert.are.equal(4, cuts)
        assert.are.equal(n, result.success_count)
        assert.are.equal(0, result.error_count)
        assert.is_true(result.retries >= 4, ("%d batches were sent again after 4 cuts"):format(result.retries))
        assert_exactly(observer, "row", n)
      end)
    end)

    it("reports a batch without ids cut mid-flight as an unknown outcome, and what landed (" .. scheme .. ")",
      function()
        -- Answers are held 300 ms by the proxy: halfway through that, both workers' batches have
        -- run on the server and their answers are in the proxy when it cuts the connections.
        through_slow_proxy(scheme, "bulk_unknown", 300, function(db, proxy, observer)
          local cutter
          local call_ok, bulk_err = pcall(function()
            return db:bulk({ batch_size = 100, parallel = 2, progress = function()
              cutter = cutter or surrealdb.spawn(function()
                runtime.sleep(0.15)
                proxy.cut()
              end)
            end }):insert("row", numbered_rows(3000))
          end)
          if cutter then cutter.result() end
          proxy.up()
          assert.is_false(call_ok, "the bulk succeeded: a batch without ids was sent again after a lost answer")
          assert.is_true(errors.is(bulk_err, "BulkOperationError"), tostring(bulk_err))
          local result = bulk_err.result
          assert.is_table(result)
          local unknown, failed = {}, {}
          for _, entry in ipairs(result.errors) do
            if entry.error.outcome == "unknown" then
              unknown[#unknown + 1] = entry.rows
              assert.is_true(errors.is(entry.error, "ConnectionError"), tostring(entry.error))
            else
              failed[#failed + 1] = entry.rows
            end
          end
          assert.is_true(#unknown > 0, "no batch has an unknown outcome")
          -- Rows outside the batches of unknown outcome: exactly those counted as landed, once each.
          local counts = landed(observer, "row")
          local outside = 0
          for number, times in pairs(counts) do
            assert.are.equal(1, times, ("row %d is there %d times"):format(number, times))
            assert.is_false(in_ranges(failed, number), ("row %d of a failed batch landed"):format(number))
            if not in_ranges(unknown, number) then outside = outside + 1 end
          end
          assert.are.equal(result.success_count, outside)
          -- A batch is one statement: of each batch of unknown outcome, all rows landed or none.
          for _, range in ipairs(unknown) do
            local there = 0
            for number = range[1], range[2] do
              if counts[number] then there = there + 1 end
            end
            assert.is_true(there == 0 or there == range[2] - range[1] + 1,
              ("%d of rows %d-%d landed"):format(there, range[1], range[2]))
          end
        end)
      end)
  end

  it("imports 100,000 rows exactly once across a SIGKILL and restart of the server (surrealkv)", function()
    local dir = helper.temp_dir("bulk_fault")
    local port = helper.free_port()
    local server = helper.dev_server(port, "surrealkv://" .. dir .. "/data", dir .. "/server.log")
    local restarted
    local ok, err = pcall(function()
      local url = ("ws://127.0.0.1:%d"):format(port)
      local db = surrealdb.connect(url, { namespace = "spec", database = "import", timeout = 20,
        pool = { size = 2 }, reconnect = FAST_RECONNECT })
      db:query("DEFINE TABLE row SCHEMALESS")
      local n, killed_at = 100000, nil
      local result = db:bulk({ ids = "generate", batch_size = 500, parallel = 2, max_retries = 20,
        progress = function(done)
          if killed_at == nil and done >= 30000 then
            killed_at = done
            server.kill("KILL")
            -- Down for a while (calls meet refused connections), then up again on the same port and path.
            restarted = surrealdb.spawn(function()
              runtime.sleep(0.3)
              server.restart(true)
            end)
          end
        end }):insert("row", numbered_rows(n))
      db:close()
      assert.is_number(killed_at, "the import ended before the server was killed")
      restarted.result()
      assert.is_true(killed_at < n, "the server was killed after the import")
      assert.are.equal(n, result.success_count)
      assert.are.equal(0, result.error_count)
      assert.is_true(result.retries > 0)
      local observer = surrealdb.connect(server.url, { namespace = "spec", database = "import", timeout = 30 })
      assert_exactly(observer, "row", n)
      observer:close()
    end)
    if restarted then pcall(restarted.result) end
    server.kill("TERM")
    if not ok then
      local log = io.open(dir .. "/server.log")
      if log then
        io.stderr:write("dev server log:\n", log:read("a"), "\n")
        log:close()
      end
    end
    helper.remove_dir(dir)
    if not ok then error(err, 0) end
  end)

  it("stops on Ctrl-C in a child process: BulkOperationError with cancelled, and what it says landed did",
    function()
      local database = helper.fresh_name("bulk_sigint")
      local observer = surrealdb.connect(direct, { namespace = "spec", database = database, timeout = 10 })
      observer:query("DEFINE TABLE row SCHEMALESS")
      local script = os.tmpname()
      -- The child loads the same modules and core as this process (the sanitizer run's core too).
      helper.write_file(script, ("package.path = %q\npackage.cpath = %q\n"):format(package.path, package.cpath) .. [[
local surrealdb = require("surrealdb")
local db = surrealdb.connect(arg[1], { namespace = "spec", database = arg[2], timeout = 10 })
local i = 0
local rows = function()
  i = i + 1
  if i > 1000000 then return nil end
  return { n = i, name = "row " .. i }
end
local ok, err = pcall(function()
  return db:bulk({ batch_size = 100, parallel = 2, progress = function(done)
    io.write("progress ", done, "\n")
    io.flush()
  end }):insert("row", rows)
end)
if ok then
  print("result ok")
else
  local result = type(err) == "table" and err.result or {}
  print(("result %s %s %s %s"):format(tostring(err.name), tostring(err.cancelled),
    tostring(result.success_count), tostring(result.error_count)))
end
db:close()
]])
      -- env --default-signal: a shell starts background commands with SIGINT ignored, and the core
      -- leaves an ignored SIGINT alone; a user's Ctrl-C reaches a foreground process that has it.
      local preload = os.getenv("LD_PRELOAD")
      local command = ("echo $$; exec env --default-signal=INT %slua5.4 %s %s %s 2>&1"):format(
        preload and ("LD_PRELOAD=" .. helper.shell_quote(preload) .. " ") or "", helper.shell_quote(script),
        helper.shell_quote(direct), helper.shell_quote(database))
      local pipe = assert(io.popen(command))
      local pid = pipe:read("l")
      local sent, last_line, output = false, nil, {}
      for line in pipe:lines() do
        output[#output + 1] = line
        last_line = line
        local done = tonumber(line:match("^progress (%d+)$"))
        if done and done >= 2000 and not sent then
          sent = true
          os.execute("kill -INT " .. pid)
        end
        if line:find("^result ") then break end
      end
      pipe:close()
      os.remove(script)
      assert.is_true(sent, "the child never got far enough:\n" .. table.concat(output, "\n"))
      local name, cancelled, success, failed = (last_line or ""):match("^result (%S+) (%S+) (%S+) (%S+)$")
      assert.are.equal("BulkOperationError", name, table.concat(output, "\n", math.max(1, #output - 5)))
      assert.are.equal("true", cancelled)
      assert.are.equal("0", failed)
      local _, total = landed(observer, "row")
      assert.are.equal(tonumber(success), total, "rows in the database")
      assert.is_true(total >= 2000 and total < 1000000)
      observer:close()
    end)
end)
