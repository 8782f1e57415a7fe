-- Loaded by busted before the specs (see .busted): shared fixtures for all specs.
-- Integration specs reach the server named by SURREAL_URL: `make test` starts the dev server and sets
-- it (scripts/dev-server.sh); a user with a real `surreal` server sets it to that server.
local helper = {}

local stats = os.getenv("SURREALDB_LUA_COVERAGE")
if stats and stats ~= "" then
  require("support.coverage").start(stats, "lua/surrealdb/")
end

-- In the sanitizer run (scripts/test) the Lua process has libasan preloaded. The programs the specs
-- start (node, cc, openssl, the OOM harness) must not inherit it: LeakSanitizer would judge their
-- leaks, and node does not run under it. So every shell command of the specs drops LD_PRELOAD.
local preload = os.getenv("LD_PRELOAD")
if preload and preload:find("libasan", 1, true) then
  local popen, execute = io.popen, os.execute
  io.popen = function(command, mode) return popen("env -u LD_PRELOAD " .. command, mode) end -- luacheck: ignore 122
  os.execute = function(command) -- luacheck: ignore 122
    if command == nil then return execute() end
    return execute("env -u LD_PRELOAD " .. command)
  end
end

--- The URL of the SurrealDB server the integration specs use.
function helper.server_url()
  local url = os.getenv("SURREAL_URL")
  if url == nil or url == "" then
    error("SURREAL_URL is not set: run the specs with `make test`, which starts the dev server", 2)
  end
  return url
end

local fresh_count = 0

--- A name no other test or run uses (for a database): `prefix`, the time, a random number and a count.
function helper.fresh_name(prefix)
  fresh_count = fresh_count + 1
  return ("%s_%d_%d_%d"):format(prefix, os.time(), math.random(1, 1000000), fresh_count)
end

--- Switch `db` to a fresh database (named by `helper.fresh_name(prefix)`) of the namespace "spec" and
-- create it with one request: many first requests at once (over HTTP) race to create the namespace and
-- database, and one may get a retryable write conflict. Returns the database's name.
function helper.use_fresh_database(db, prefix)
  local name = helper.fresh_name(prefix)
  db:use("spec", name)
  db:query("RETURN 1")
  return name
end

--- In a describe block: one client connected for the whole block, switched to a fresh database before
-- each test (`helper.use_fresh_database`); then `each(db)` runs, before the block's own before_each.
function helper.client_per_block(prefix, each)
  local busted = require("busted")
  local db
  busted.setup(function()
    db = require("surrealdb").connect(helper.server_url(), { timeout = 10 })
  end)
  busted.teardown(function()
    if db then db:close() end
  end)
  busted.before_each(function()
    helper.use_fresh_database(db, prefix)
    each(db)
  end)
end

--- A stand-in client for unit specs: records every query in `calls` (`{ sql =, vars = }`) and
-- answers with the next of `answers`.
function helper.fake_db(answers)
  local db = { calls = {}, answers = answers or {} }
  function db:query(sql, vars)
    self.calls[#self.calls + 1] = { sql = sql, vars = vars }
    return table.remove(self.answers, 1)
  end
  return db
end

--- The contents of the file at `path`.
function helper.read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

--- Write `text` to the file at `path`, replacing what it held.
function helper.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- Quote a string for the shell.
function helper.shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

--- The shell command that runs node with `args` (strings).
function helper.node_command(args)
  local parts = { "node" }
  for _, arg in ipairs(args) do parts[#parts + 1] = helper.shell_quote(arg) end
  return table.concat(parts, " ")
end

--- Call `fn`, expect it to raise an error object of `class` (default ValidationError) whose message
-- contains `text` (plain); return the error.
function helper.raises(fn, text, class)
  class = class or "ValidationError"
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  assert(require("surrealdb.errors").is(err, class), "expected a " .. class .. ", got " .. tostring(err))
  if text then
    assert(err.message:find(text, 1, true),
      ("message %q does not contain %q"):format(err.message, text))
  end
  return err
end

--- Start a node program (`script` is its source, run with `node -e`) that prints its port on its
-- first line; returns `{ port =, pid =, stop = function, signal = function(name) }`.
function helper.spawn_node(script, ...)
  local args = { "-e", script, ... }
  local f = assert(io.popen(helper.node_command(args) .. " & echo $!"))
  local pid = f:read("l")
  local port = tonumber(f:read("l"))
  assert(port, "the node fixture did not start")
  local fixture = { port = port, pid = pid }
  function fixture.signal(name)
    os.execute("kill -" .. name .. " " .. pid .. " 2>/dev/null")
  end
  function fixture.stop()
    if f then
      os.execute("kill " .. pid .. " 2>/dev/null")
      f:close()
      f = nil
    end
  end
  return fixture
end

--- Run node with `args`; fail with its output when it fails, else return its output's lines as
-- arrays of tab-separated fields.
function helper.node_rows(args)
  local pipe = assert(io.popen(helper.node_command(args) .. " 2>&1"))
  local out = pipe:read("a")
  local ok = pipe:close()
  assert(ok, "node " .. table.concat(args, " ") .. " failed:\n" .. out)
  local rows = {}
  for row in out:gmatch("[^\n]+") do
    local fields = {}
    for field in (row .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = field end
    rows[#rows + 1] = fields
  end
  return rows
end

--- Poll the client loop until `done()` returns true; fail after `seconds` (default 10).
function helper.wait_until(done, seconds, what)
  local runtime = require("surrealdb.runtime")
  local deadline = runtime.now() + (seconds or 10)
  while not done() do
    assert(runtime.now() < deadline, "timed out waiting" .. (what and (" for " .. what) or ""))
    runtime.poll(0.02)
  end
end

--- A free TCP port on 127.0.0.1 (free when asked: a spec binds it soon after).
function helper.free_port()
  local pipe = assert(io.popen(helper.node_command({ "-e",
    "const s = require('net').createServer(); s.listen(0, '127.0.0.1', () => { "
      .. "console.log(s.address().port); s.close(); });" })))
  local port = tonumber(pipe:read("l"))
  pipe:close()
  assert(port, "no free port")
  return port
end

--- Start spec/support/fault_proxy.js in front of the server on `target_port` (default: the one of
-- SURREAL_URL). Returns `{ port =, pid =, cut(), freeze(), down(), up(), slow(), stop() }`: each fault
-- function signals the proxy and returns once the proxy has put the fault in place.
-- @tparam[opt] number target_port
-- @tparam[opt] number delay_ms the delay of the slow mode (default 300)
function helper.fault_proxy(target_port, delay_ms)
  target_port = target_port or tonumber(helper.server_url():match(":(%d+)"))
  local args = { "-e", helper.read_file("spec/support/fault_proxy.js"), tostring(target_port),
    tostring(delay_ms or 300) }
  local pipe = assert(io.popen(helper.node_command(args) .. " & echo $!"))
  local proxy = { pid = assert(pipe:read("l")) }
  proxy.port = tonumber(pipe:read("l"))
  assert(proxy.port, "the fault proxy did not start")
  local function signal(name)
    return function()
      assert(pipe, "the fault proxy was stopped")
      os.execute("kill -" .. name .. " " .. proxy.pid)
      local ack = pipe:read("l")
      assert(ack == name, ("the fault proxy answered %s to SIG%s"):format(tostring(ack), name))
    end
  end
  proxy.cut, proxy.freeze, proxy.down = signal("USR1"), signal("USR2"), signal("HUP")
  proxy.up, proxy.slow = signal("WINCH"), signal("ALRM")
  function proxy.stop()
    if pipe then
      os.execute("kill " .. proxy.pid .. " 2>/dev/null")
      pipe:close()
      pipe = nil
    end
  end
  return proxy
end

--- Whether the process `pid` runs (a zombie does not).
function helper.process_alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return false end
  local stat = f:read("a")
  f:close()
  return stat:match("%) (%a)") ~= "Z"
end

--- Start a dev server of its own (scripts/surreal-dev-server) on `port` with the datastore `path`
-- (such as `surrealkv:///tmp/dir`), its standard error appended to `log_file` (default: dropped).
-- Returns `{ port =, pid =, url =, kill(signal), restart(no_wait) }`: `kill` signals it (default KILL)
-- and waits until it is gone, `restart` starts it again on the same port and path (and with `no_wait`
-- returns at once instead of when it listens).
function helper.dev_server(port, path, log_file)
  local server = { port = port, url = ("http://127.0.0.1:%d"):format(port) }
  local pipe
  function server.restart(no_wait)
    assert(pipe == nil, "the dev server is running")
    local command = helper.node_command({ "scripts/surreal-dev-server", "--bind", "127.0.0.1:" .. port,
      "--path", path })
    pipe = assert(io.popen(("%s 2>>%s & echo $!"):format(command, helper.shell_quote(log_file or "/dev/null"))))
    server.pid = assert(pipe:read("l"))
    if no_wait then return end
    local line = pipe:read("l")
    while line and not line:find("^listening on ") do line = pipe:read("l") end
    assert(line, "the dev server on port " .. port .. " did not start")
  end
  function server.kill(signal)
    if pipe == nil then return end
    os.execute(("kill -%s %s 2>/dev/null"):format(signal or "KILL", server.pid))
    -- Wait until the process is gone (its datastore lock and port are free then).
    for _ = 1, 200 do
      if not helper.process_alive(server.pid) then break end
      os.execute("sleep 0.05")
    end
    assert(not helper.process_alive(server.pid), "the dev server " .. server.pid .. " did not stop")
    pipe:close()
    pipe = nil
  end
  server.restart()
  return server
end

--- A fresh directory under /tmp; removed by `helper.remove_dir`.
function helper.temp_dir(prefix)
  local pipe = assert(io.popen("mktemp -d -t " .. helper.shell_quote((prefix or "spec") .. ".XXXXXX")))
  local dir = pipe:read("l")
  pipe:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  return dir
end

function helper.remove_dir(dir)
  if dir and dir:find("^/tmp/") then os.execute("rm -rf " .. helper.shell_quote(dir)) end
end

package.loaded["spec.helper"] = helper
return helper
