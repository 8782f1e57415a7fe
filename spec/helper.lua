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

package.loaded["spec.helper"] = helper
return helper
