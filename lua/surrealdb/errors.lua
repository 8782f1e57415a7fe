--- Structured errors of surrealdb-lua.
--
-- Every failure the library raises is an error object (a table), never a bare string. Each object
-- belongs to a class of this hierarchy and carries `name` (its class), `message`, and where known
-- `kind` (the server's error kind, such as `"NotAllowed"`), `code` (the JSON-RPC code), `details`
-- and `cause` (the error that led to it).
--
--     SurrealError
--     ├── ConnectionError
--     ├── TimeoutError
--     ├── AuthError
--     ├── QueryError
--     ├── ValidationError
--     │   └── EncodeError        a Lua value that CBOR cannot carry
--     ├── ModelError
--     ├── BulkOperationError
--     ├── MigrationError         a migration failed, changed after it was applied, or was stopped
--     │   └── LockError          another runner holds the migrations lock
--     ├── ProtocolError
--     │   └── DecodeError        bytes that are not valid CBOR of a SurrealDB value
--     └── ServerError
--
-- @module surrealdb.errors
-- @usage
-- local errors = require("surrealdb.errors")
-- local ok, err = pcall(db.query, db, "SELECT * FROM person")
-- if not ok and errors.is(err, "QueryError") then print(err.message) end
local errors = {}

local parents = {
  SurrealError = false,
  ConnectionError = "SurrealError",
  TimeoutError = "SurrealError",
  AuthError = "SurrealError",
  QueryError = "SurrealError",
  ValidationError = "SurrealError",
  EncodeError = "ValidationError",
  ModelError = "SurrealError",
  BulkOperationError = "SurrealError",
  MigrationError = "SurrealError",
  LockError = "MigrationError",
  ProtocolError = "SurrealError",
  DecodeError = "ProtocolError",
  ServerError = "SurrealError",
}

--- The metatable shared by all error objects.
local Error = { __name = "surrealdb.Error" }
Error.__index = Error

--- Render an error as one line: `Name: message [kind, code N]`.
function Error.__tostring(err)
  local extra = {}
  if err.kind ~= nil then extra[#extra + 1] = tostring(err.kind) end
  if err.code ~= nil then extra[#extra + 1] = "code " .. tostring(err.code) end
  local text = err.name .. ": " .. tostring(err.message)
  if #extra > 0 then text = text .. " [" .. table.concat(extra, ", ") .. "]" end
  if err.cause ~= nil then text = text .. "; caused by " .. tostring(err.cause) end
  return text
end

--- Whether `err` is an error object of class `name` or of one of its subclasses.
-- @param err any value (a caught error)
-- @tparam string name a class name such as `"QueryError"`
-- @treturn boolean
-- @usage if errors.is(err, "ConnectionError") then reconnect() end
function errors.is(err, name)
  if getmetatable(err) ~= Error then return false end
  local class = err.name
  while class do
    if class == name then return true end
    class = parents[class]
  end
  return false
end

--- Make an error object of class `name`.
-- @tparam string name a class of the hierarchy
-- @tparam string message what went wrong, in words a user can act on
-- @tparam[opt] table fields more fields: `kind`, `code`, `details`, `cause`, or any other
-- @return the error object
-- @usage local err = errors.new("ValidationError", "age must be an integer", { details = { field = "age" } })
function errors.new(name, message, fields)
  if parents[name] == nil then
    error(errors.new("ValidationError", "unknown error class " .. tostring(name)), 2)
  end
  local err = {}
  if fields then
    for k, v in pairs(fields) do err[k] = v end
  end
  err.name = name
  err.message = message
  return setmetatable(err, Error)
end

--- Raise an error object of class `name` (see `errors.new`).
-- @tparam string name a class of the hierarchy
-- @tparam string message what went wrong
-- @tparam[opt] table fields more fields
-- @tparam[opt=1] integer level as for Lua's `error`, counted from the caller of `raise`
-- @usage errors.raise("ValidationError", "table name must be a non-empty string")
function errors.raise(name, message, fields, level)
  error(errors.new(name, message, fields), (level or 1) + 1)
end

-- JSON-RPC codes of SurrealDB's RPC layer and the class each maps to.
local class_of_code = {
  [-32700] = "ProtocolError", -- parse error
  [-32600] = "ProtocolError", -- invalid request
  [-32601] = "ProtocolError", -- method not found
  [-32602] = "AuthError", -- method not allowed
  [-32603] = "ProtocolError", -- invalid params
  [-32000] = "ServerError", -- internal error
  [-32002] = "AuthError", -- invalid authentication
  [-32003] = "QueryError", -- query not executed
  [-32004] = "TimeoutError", -- query timed out
  [-32005] = "QueryError", -- query cancelled
  [-32006] = "QueryError", -- thrown by the query
  [-32009] = "QueryError", -- transaction conflict
}

local class_of_kind = {
  NotAllowed = "AuthError",
  Auth = "AuthError",
  Query = "QueryError",
  Thrown = "QueryError",
  Validation = "QueryError",
  NotFound = "QueryError",
  AlreadyExists = "QueryError",
  Connection = "ConnectionError",
  Internal = "ServerError",
}

--- Whether a server error says the transaction may be retried (a write conflict).
-- @tparam table err an error object
-- @treturn boolean
-- @usage if errors.is_retryable_conflict(err) then retry() end
function errors.is_retryable_conflict(err)
  if type(err) ~= "table" then return false end
  if err.code == -32009 then return true end
  local message = type(err.message) == "string" and err.message or ""
  return message:find("can be retried", 1, true) ~= nil
end

--- Turn an error as the server sends it into an error object.
-- Reads SurrealDB 2.x's `{code, message}` and 3.x's `{code, message, kind, details, cause}`.
-- @tparam table server_error the `error` field of an RPC response (decoded)
-- @tparam[opt] table fields more fields to set (for example `method`)
-- @return the error object
-- @usage local err = errors.from_server({ code = -32002, message = "There was a problem with authentication" })
function errors.from_server(server_error, fields)
  if type(server_error) ~= "table" then
    local message = "the server sent an error that is not an object: " .. tostring(server_error)
    return errors.new("ProtocolError", message, fields)
  end
  local code, kind = server_error.code, server_error.kind
  if type(kind) ~= "string" then kind = nil end
  local name = (kind and class_of_kind[kind]) or class_of_code[code] or "ServerError"
  local all = { code = code, kind = kind, details = server_error.details }
  -- 3.x sends `cause` as an error object, a string, or NONE/NULL (sentinel tables) when there is none.
  local cause = server_error.cause
  if type(cause) == "table" and getmetatable(cause) == nil then
    all.cause = errors.from_server(cause)
  elseif type(cause) == "string" then
    all.cause = cause
  end
  if fields then
    for k, v in pairs(fields) do all[k] = v end
  end
  local message = server_error.message
  if type(message) ~= "string" then message = "the server reported an error without a message" end
  local err = errors.new(name, message, all)
  err.retryable = errors.is_retryable_conflict(err)
  return err
end

return errors
