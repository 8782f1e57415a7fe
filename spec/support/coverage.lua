--- Line coverage of the Lua modules, without luacov (Debian packages none).
--
-- `coverage.start(stats_path, prefix)` installs a line hook on the main thread and on every coroutine
-- created afterwards, counting the lines run in files whose path starts with `prefix`; the counts are
-- written to `stats_path` when the Lua state closes (busted exits with `os.exit(code, true)`).
-- `coverage.report(stats_path, files)` compares them with the lines that hold code, as `luac5.4 -l -l`
-- lists them, and prints a table and the total.
-- @module spec.support.coverage
local coverage = {}

local hits = {}

local function hook(_, line)
  local source = debug.getinfo(2, "S").source
  local lines = hits[source]
  if lines then lines[line] = true end
end

local function is_tracked(source, prefix)
  return source:sub(1, #prefix + 1) == "@" .. prefix
end

--- Start counting lines of the files under `prefix`; write the counts to `stats_path` at exit.
-- @usage coverage.start("coverage/lua.stats", "lua/surrealdb/")
function coverage.start(stats_path, prefix)
  setmetatable(hits, {
    __index = function(t, source)
      if type(source) ~= "string" or not is_tracked(source, prefix) then return nil end
      local lines = {}
      rawset(t, source, lines)
      return lines
    end,
  })
  debug.sethook(hook, "l")
  local create, wrap = coroutine.create, coroutine.wrap
  local function hooked(fn)
    return function(...)
      debug.sethook(hook, "l")
      return fn(...)
    end
  end
  coroutine.create = function(fn) -- luacheck: ignore 122
    local co = create(hooked(fn))
    return co
  end
  coroutine.wrap = function(fn) -- luacheck: ignore 122
    return wrap(hooked(fn))
  end
  coverage.keeper = setmetatable({}, {
    __gc = function()
      local out = assert(io.open(stats_path, "a"))
      for source, lines in pairs(hits) do
        for line in pairs(lines) do out:write(source:sub(2), "\t", line, "\n") end
      end
      out:close()
    end,
  })
end

local function code_lines(path)
  local lines = {}
  local listing = assert(io.popen("luac5.4 -l -l -p " .. ("%q"):format(path)))
  local last_line, last_op
  for text in listing:lines() do
    local line, op = text:match("^%s+%d+%s+%[(%d+)%]%s+(%u+)")
    if line then
      lines[tonumber(line)] = true
      last_line, last_op = tonumber(line), op
    elseif text:match("^constants") and last_op and last_op:match("^RETURN") then
      -- The implicit return at a function's end: counted only where it runs.
      lines[last_line] = lines[last_line] and "end" or nil
      last_op = nil
    end
  end
  listing:close()
  return lines
end

--- Print per-file and total line coverage; returns the total percentage.
-- @usage coverage.report("coverage/lua.stats", { "lua/surrealdb/errors.lua" })
function coverage.report(stats_path, files)
  local run = {}
  local stats = io.open(stats_path, "r")
  if stats then
    for text in stats:lines() do
      local path, line = text:match("^(.-)\t(%d+)$")
      if path then
        run[path] = run[path] or {}
        run[path][tonumber(line)] = true
      end
    end
    stats:close()
  end
  local total, covered = 0, 0
  table.sort(files)
  for _, path in ipairs(files) do
    local file_total, file_covered = 0, 0
    for line, kind in pairs(code_lines(path)) do
      local was_run = run[path] and run[path][line]
      if kind ~= "end" or was_run then
        file_total = file_total + 1
        if was_run then file_covered = file_covered + 1 end
      end
    end
    total, covered = total + file_total, covered + file_covered
    local pct = file_total > 0 and 100 * file_covered / file_total or 100
    print(("%-50s %5d / %5d  %6.1f%%"):format(path, file_covered, file_total, pct))
  end
  local pct = total > 0 and 100 * covered / total or 100
  print(("%-50s %5d / %5d  %6.1f%%"):format("Lua total", covered, total, pct))
  return pct
end

return coverage
