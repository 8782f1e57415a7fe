--- The library's logger: one function that receives every message, settable by the user.
--
-- By default warnings and errors go to standard error and debug and info messages are dropped.
-- Messages never contain passwords or tokens.
-- @module surrealdb.log
-- @usage
-- require("surrealdb").set_logger(function(level, message) print(level, message) end)
local log = {}

local function to_stderr(level, message)
  if level == "warn" or level == "error" then
    io.stderr:write("surrealdb: ", level, ": ", message, "\n")
  end
end

local handler = to_stderr
local said_once = {}

--- Replace the logger; nil restores the default (warnings and errors to standard error).
-- @tparam[opt] function fn called as `fn(level, message)`, level one of "debug", "info", "warn", "error"
-- @usage log.set(function(level, message) my_logger[level](message) end)
function log.set(fn)
  if fn ~= nil and type(fn) ~= "function" then
    require("surrealdb.errors").raise("ValidationError", "the logger must be a function, got " .. type(fn), nil, 2)
  end
  handler = fn or to_stderr
end

--- Log a message at `level`.
-- @usage log.write("debug", "retrying query (attempt 2 of 3)")
function log.write(level, message)
  handler(level, message)
end

--- Log a message at `level` once per process for a given `key`.
-- @usage log.once("tls-insecure", "warn", "TLS certificate checks are off")
function log.once(key, level, message)
  if said_once[key] then return end
  said_once[key] = true
  handler(level, message)
end

return log
