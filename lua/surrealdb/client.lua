--- The SurrealDB client: every RPC method of the official SDKs, over HTTP or WebSocket.
--
-- Over WebSocket the server's session holds namespace, database, auth and variables. Over HTTP every
-- request stands alone, so the client keeps that state itself and sends it with each request
-- (headers for namespace, database and token; variables merged into each query): both schemes behave
-- the same to the caller.
-- @module surrealdb.client
local errors = require("surrealdb.errors")
local LiveQuery = require("surrealdb.live")
local log = require("surrealdb.log")
local runtime = require("surrealdb.runtime")
local types = require("surrealdb.types")

local Client = { __name = "surrealdb.Client" }
Client.__index = Client

local DEFAULT_TIMEOUT = 30
local DEFAULT_CONNECT_TIMEOUT = 10
-- Reconnection of a dropped WebSocket, as the official JS SDK does it: 1 s doubling to 60 s, 10% jitter.
local DEFAULT_RECONNECT = { delay = 1, max_delay = 60, jitter = 0.1, attempts = nil }

local function check_timeout(value, name)
  if value ~= nil and (type(value) ~= "number" or value <= 0) then
    errors.raise("ValidationError", ("%s must be a positive number of seconds, got %s"):format(name, tostring(value)),
      nil, 3)
  end
  return value
end

-- A table or record given as a string ("person" or "person:tobie"), Table or RecordID.
local function target(what, method)
  if type(what) == "string" then
    if what:find(":", 1, true) then return types.RecordID.parse(what) end
    return types.Table(what)
  end
  local mt = getmetatable(what)
  if mt == types.RecordID or mt == types.Table then return what end
  errors.raise("ValidationError",
    ("%s expects a table name, a record id string, a Table or a RecordID; got %s"):format(method, type(what)), nil, 3)
end

local DEFAULT_RETRY = { max_retries = 3, base_delay = 0.05, max_delay = 2, jitter = true }
local DEFAULT_POOL = { size = 1, min = 1 }

-- Methods that change nothing on the server, and methods that change it the same way however
-- often they run: both may be sent again when their first answer was lost.
local SAFE_TO_REPEAT = {
  ping = true, version = true, info = true, select = true, use = true, let = true, unset = true,
  authenticate = true, signin = true, invalidate = true, kill = true, delete = true,
}

-- Options that count something (whole numbers).
local COUNT_OPTIONS = { max_retries = true, attempts = true, size = true, min = true }

-- What an option's value must be, when `value` is not that (nil when it is): true or false where the
-- default is a boolean, else a number >= 0: a whole one for a count, at most 1 for a jitter fraction.
local function option_problem(key, value, default)
  if type(default) == "boolean" then return type(value) ~= "boolean" and "true or false" or nil end
  if COUNT_OPTIONS[key] then return (math.type(value) ~= "integer" or value < 0) and "an integer >= 0" or nil end
  local number = type(value) == "number" and value >= 0 -- false for NaN too
  if key == "jitter" then return not (number and value <= 1) and "a number from 0 to 1" or nil end
  return not number and "a number >= 0" or nil
end

local function merged(defaults, given, name)
  if given ~= nil and type(given) ~= "table" then
    errors.raise("ValidationError", ("%s must be a table, got %s"):format(name, type(given)), nil, 4)
  end
  local result = {}
  for k, v in pairs(defaults) do result[k] = v end
  for k, v in pairs(given or {}) do
    if defaults[k] == nil and k ~= "attempts" and k ~= "idle_timeout" and k ~= "health_interval" then
      errors.raise("ValidationError", ("%s has no option %q"):format(name, tostring(k)), nil, 4)
    end
    result[k] = v
  end
  for k, v in pairs(result) do
    local want = option_problem(k, v, defaults[k])
    if want then
      errors.raise("ValidationError", ("%s.%s must be %s, got %s"):format(name, k, want, tostring(v)), nil, 4)
    end
  end
  return result
end

-- The servers' base URLs (scheme://host:port, no /rpc) of `connect`'s first argument, one scheme kind.
local function base_urls(given)
  local list = type(given) == "table" and given or { given }
  if type(given) ~= "string" and (type(given) ~= "table" or #given == 0) then
    errors.raise("ValidationError", "connect expects a URL string or an array of them, got " .. type(given), nil, 3)
  end
  local urls, stateful = {}, nil
  for i, url in ipairs(list) do
    if type(url) ~= "string" then
      errors.raise("ValidationError", ("connect: URL %d is a %s, not a string"):format(i, type(url)), nil, 3)
    end
    local scheme, rest = url:match("^(%a+)://(.+)$")
    scheme = scheme and scheme:lower()
    if not rest or not (scheme == "http" or scheme == "https" or scheme == "ws" or scheme == "wss") then
      errors.raise("ValidationError",
        ("the URL %q must start with http://, https://, ws:// or wss://"):format(url), nil, 3)
    end
    local is_ws = scheme == "ws" or scheme == "wss"
    if stateful ~= nil and stateful ~= is_ws then
      errors.raise("ValidationError", "connect: the URLs must all be WebSocket (ws://, wss://) or all HTTP", nil, 3)
    end
    stateful = is_ws
    urls[i] = (scheme .. "://" .. rest):gsub("/+$", ""):gsub("/rpc$", "")
  end
  return urls, stateful
end

local function check_count(value, name, minimum)
  if value ~= nil and (math.type(value) ~= "integer" or value < minimum) then
    errors.raise("ValidationError", ("%s must be an integer of at least %d, got %s"):format(name, minimum,
      tostring(value)), nil, 4)
  end
  return value
end

--- Connect to a SurrealDB server, or to several nodes of a cluster.
-- @param url `http://`, `https://`, `ws://` or `wss://` with host and port (a trailing `/rpc` is accepted),
--   or an array of such URLs of one kind (the nodes of a cluster: the pool's connections are spread over them)
-- @tparam[opt] table options `namespace`, `database`, `auth` (`{ username =, password = }` or `{ token = }`),
--   `timeout` (seconds per request, default 30), `connect_timeout` (default 10), `tls` (`{ ca_file =, insecure = }`),
--   `pool` (`{ size = 1, min = 1, idle_timeout = s, health_interval = s }`, with several URLs size and min default
--   to their number: up to `size` connections, opened as
--   calls need them; those above `min` close after `idle_timeout` idle seconds; every `health_interval` seconds
--   each is pinged and one that fails is reopened in the background),
--   `retry` (`{ max_retries = 3, base_delay = 0.05, max_delay = 2, jitter = true }`, or false: see `Client:call`),
--   `reconnect` (`{ delay = 1, max_delay = 60, jitter = 0.1, attempts = nil }`, or false to fail instead),
--   and for WebSocket `ping_interval` (default 10), `pong_timeout` (default 5)
-- @return a connected client
-- @usage local db <close> = surrealdb.connect("ws://127.0.0.1:8000", { namespace = "app", database = "app" })
-- local cluster = surrealdb.connect({ "ws://10.0.0.1:8000", "ws://10.0.0.2:8000" }, { pool = { size = 8 } })
function Client.connect(url, options)
  local urls, stateful = base_urls(url)
  options = options or {}
  local pool_options = merged(DEFAULT_POOL, options.pool, "pool")
  -- Several URLs: at least one connection to each unless the pool is told otherwise.
  if options.pool == nil or options.pool.size == nil then pool_options.size = math.max(pool_options.size, #urls) end
  check_count(pool_options.size, "pool.size", 1)
  if options.pool == nil or options.pool.min == nil then pool_options.min = math.min(#urls, pool_options.size) end
  check_count(pool_options.min, "pool.min", 1)
  if pool_options.min > pool_options.size then
    errors.raise("ValidationError", ("pool.min (%d) is larger than pool.size (%d)"):format(pool_options.min,
      pool_options.size), nil, 2)
  end
  check_timeout(pool_options.idle_timeout, "pool.idle_timeout")
  check_timeout(pool_options.health_interval, "pool.health_interval")
  local self = setmetatable({
    url = type(url) == "string" and url or url[1],
    urls = urls,
    scheme = urls[1]:match("^(%a+)"),
    timeout = check_timeout(options.timeout, "timeout") or DEFAULT_TIMEOUT,
    retry = options.retry ~= false and merged(DEFAULT_RETRY, options.retry, "retry") or nil,
    state = { vars = {} },
    lives = {},
    unclaimed = {},
    txn_members = {},
  }, Client)
  if self.retry then check_count(self.retry.max_retries, "retry.max_retries", 0) end
  local transport_options = {
    connect_timeout = check_timeout(options.connect_timeout, "connect_timeout") or DEFAULT_CONNECT_TIMEOUT,
    tls = options.tls,
    max_message = options.max_message,
    ping_interval = check_timeout(options.ping_interval, "ping_interval"),
    pong_timeout = check_timeout(options.pong_timeout, "pong_timeout"),
  }
  if type(options.tls) == "table" and options.tls.insecure == true then
    require("surrealdb.log").once("tls-insecure", "warn",
      "TLS certificate and host name checks are off (tls.insecure): use this only for local testing")
  end
  self.base_url, self.transport_options = urls[1], transport_options
  pool_options.transport = transport_options
  pool_options.stateful = stateful
  pool_options.reconnect = options.reconnect ~= false and merged(DEFAULT_RECONNECT, options.reconnect, "reconnect")
    or nil
  self.pool = require("surrealdb.pool").new(self, urls, pool_options)
  if options.namespace or options.database then self:use(options.namespace, options.database) end
  if options.auth then
    if options.auth.token then
      self:authenticate(options.auth.token)
    else
      self:signin(options.auth)
    end
  end
  return self
end

--- Whether the client talks over a WebSocket (sessions, live queries, transactions).
function Client:is_stateful()
  return self.scheme == "ws" or self.scheme == "wss"
end

--- Whether the client was closed, or its connections were lost for good (not while they reconnect).
function Client:is_closed()
  return self.closed or self.pool.lost ~= nil
end

--- The pool's connections (`{ connections = { { url =, state =, in_flight = }, ... }, reconnects = n }`).
-- @usage print(db:pool_status().reconnects)
function Client:pool_status()
  return self.pool:status()
end

-- Why a failed call may be sent again, or nil. `safe` says repeating it changes nothing more.
local function retry_reason(err, safe)
  if type(err) ~= "table" or err.final then return nil end
  if err.retryable then return "a retryable transaction conflict" end
  if errors.is(err, "ConnectionError") then
    if err.sent == false then return "the request could not be sent" end
    if safe then return "the connection was lost before the answer" end
  elseif errors.is(err, "TimeoutError") and safe and err.sent ~= false then
    return "no answer in time"
  end
  return nil
end

-- A query whose statements all failed with a retryable transaction conflict ran nothing: it may be
-- sent again like an RPC-level conflict. Returns that conflict as an error object, or nil.
local function statement_conflict(raw)
  if type(raw) ~= "table" or #raw == 0 then return nil end
  local first
  for i, statement in ipairs(raw) do
    if type(statement) ~= "table" or statement.status == "OK" then return nil end
    local err = errors.new("QueryError", ("statement %d failed: %s"):format(i, tostring(statement.result)),
      { kind = statement.kind, details = statement.details, statement = i, results = raw })
    if not errors.is_retryable_conflict(err) then return nil end
    err.retryable = true
    first = first or err
  end
  return first
end

-- The error a call ends with after `attempts` tries: the last one, with the earlier ones as its cause.
local function final_error(err, attempts, previous, method, safe, retrying)
  if type(err) ~= "table" or getmetatable(err) == nil then return err end
  local fields = {}
  for k, v in pairs(err) do fields[k] = v end
  fields.name, fields.message = nil, nil
  fields.attempts = attempts
  if fields.cause == nil then fields.cause = previous end
  local message = err.message
  if not safe and err.sent ~= false and (errors.is(err, "ConnectionError") or errors.is(err, "TimeoutError"))
    and not err.final then
    fields.outcome = "unknown"
    message = message .. (": %s was sent, so it may or may not have been applied"):format(method)
    if retrying then
      message = message .. "; it was not sent again because it is not idempotent (mark a query idempotent = true "
        .. "to allow that)"
    end
  end
  if attempts > 1 then message = ("%s (after %d attempts)"):format(message, attempts) end
  return errors.new(err.name, message, fields)
end

--- Send one RPC call through the pool, retrying what is safe to retry.
-- A call is retried (up to `retry.max_retries` times, with exponential backoff and jitter) when the
-- server reports a retryable transaction conflict, when it could not be sent at all, and, for calls
-- that are safe to repeat (reads, session changes, deletes, writes of the content of given records, and
-- queries marked `idempotent = true`), when the connection was lost or no answer came in time. A call
-- that may already have been applied and is not safe to repeat fails with a ConnectionError whose
-- `outcome` is `"unknown"`. The final error carries `attempts` and the earlier failures as `cause`.
-- @tparam string method
-- @tparam table params
-- @tparam[opt] number timeout seconds (default: the client's)
-- @tparam[opt] table extra more request fields (`txn`)
-- @tparam[opt] table flags `idempotent = true`: repeating the call changes nothing more;
--   `retry = false`: no retries for this call
-- @return the result
-- @usage local result = db:call("ping", {})
function Client:call(method, params, timeout, extra, flags)
  timeout = timeout or self.timeout
  if self.closed then
    errors.raise("ConnectionError", "the client is closed", { method = method }, 3)
  end
  local member
  if extra and extra.txn ~= nil then
    member = self.txn_members[tostring(extra.txn)]
  end
  local safe = (flags and flags.idempotent) or SAFE_TO_REPEAT[method] or false
  local retry = self.retry
  if flags and flags.retry == false then retry = nil end
  local attempt, previous = 0, nil
  while true do
    attempt = attempt + 1
    local ok, result = pcall(self.pool.call, self.pool, method, params, timeout, extra, member)
    if ok and method == "query" then
      local conflict = statement_conflict(result)
      if conflict then ok, result = false, conflict end
    end
    if ok then return result end
    local reason = retry and member == nil and not self.closed and retry_reason(result, safe)
    if not reason or attempt > retry.max_retries then
      error(final_error(result, attempt, previous, method, safe, retry ~= nil), 0)
    end
    local delay = runtime.backoff(attempt, retry.base_delay, retry.max_delay, retry.jitter and 0.5 or 0)
    log.write("debug", ("retrying %s in %.3f s (attempt %d of %d): %s: %s"):format(method, delay, attempt + 1,
      retry.max_retries + 1, reason, tostring(result.message)))
    previous = final_error(result, attempt, previous, method, true, true)
    runtime.sleep(delay)
  end
end

--- A view of this client whose calls use another timeout (seconds); it shares the connection and state.
-- @usage local rows = db:with_timeout(2):select("person")
function Client:with_timeout(seconds)
  check_timeout(seconds, "timeout")
  local client = self
  return setmetatable({ timeout = seconds, close = function() client:close() end }, { __index = client })
end

-- Every connection is lost for good: wake the live queries' readers.
function Client:connection_lost(err)
  for _, live in pairs(self.lives) do live:disconnect(err) end
end

-- Start a live query again on a reopened connection; what was missed is reported as one RESYNC note.
function Client:restart_live(live, member)
  self.lives[tostring(live.id)] = nil
  live.id = member.transport:call("live", { live.what, live.diff == true }, nil, self.timeout)
  live.member = member
  member.lives[live] = true
  self.lives[tostring(live.id)] = live
  live:push({ action = "RESYNC" })
end

-- A session change: `apply(state)` changes the state the client keeps, and over WebSocket `method`
-- is sent on every open connection (the others get it through the replay). When the server refuses
-- it, the state is put back and the error raised.
function Client:change_session(method, params, apply)
  local state = self.state
  local saved = { vars = {} }
  for k, v in pairs(state) do saved[k] = v end
  for k, v in pairs(state.vars) do saved.vars[k] = v end
  apply(state)
  if not self:is_stateful() then
    self.pool:changed()
    return
  end
  local ok, err = pcall(self.pool.broadcast, self.pool, method, params, self.timeout)
  if not ok then
    for k in pairs(state) do state[k] = nil end
    for k, v in pairs(saved) do state[k] = v end
    self.pool:changed()
    error(err, 0)
  end
end

-- The HTTP-only check for methods that need a session.
function Client:need_session(method)
  if not self:is_stateful() then
    errors.raise("ValidationError", ("%s needs a WebSocket connection (ws:// or wss://); this client uses %s")
      :format(method, self.scheme), nil, 3)
  end
end

--- Select the namespace and database. nil leaves one as it is.
-- @tparam[opt] string namespace
-- @tparam[opt] string database
-- @return `{ namespace =, database = }` as now in use
-- @usage db:use("app", "app")
function Client:use(namespace, database)
  if self.closed then errors.raise("ConnectionError", "the client is closed", { method = "use" }, 2) end
  local params = { namespace == nil and types.NONE or namespace, database == nil and types.NONE or database }
  self:change_session("use", params, function(state)
    if namespace ~= nil then state.namespace = namespace end
    if database ~= nil then state.database = database end
  end)
  return { namespace = self.state.namespace, database = self.state.database }
end

local credential_names = {
  username = "user", user = "user", password = "pass", pass = "pass",
  namespace = "ns", ns = "ns", database = "db", db = "db", access = "ac", ac = "ac",
}

local function credentials(given, method)
  if type(given) ~= "table" then
    errors.raise("ValidationError", method .. " expects a table of credentials, got " .. type(given), nil, 3)
  end
  local wire = {}
  for k, v in pairs(given) do
    if k == "variables" then
      for vk, vv in pairs(v) do wire[vk] = vv end
    else
      wire[credential_names[k] or k] = v
    end
  end
  return wire
end

-- Call an authentication method. Its failure is an AuthError whatever code the server used (a failed
-- record sign-in comes back as an Internal error in 3.0); connection, timeout and protocol failures
-- stay what they are.
function Client:auth_call(method, params, send)
  local ok, result = pcall(send or self.call, self, method, params)
  if ok then return result end
  if errors.is(result, "AuthError") or not (errors.is(result, "QueryError") or errors.is(result, "ServerError")) then
    error(result, 0)
  end
  local fields = {}
  for k, v in pairs(result) do fields[k] = v end
  fields.name, fields.message, fields.cause = nil, nil, result
  error(errors.new("AuthError", method .. " failed: " .. result.message, fields), 0)
end

-- The token of a signin/signup answer: a string (2.x) or `{ access, refresh }` (3.x).
function Client:take_tokens(result, method)
  local access = result
  if type(result) == "table" then
    access = result.access or result.token
    self.state.refresh_token = result.refresh
  end
  if type(access) ~= "string" then
    errors.raise("ProtocolError", method .. " answered without a token", { method = method }, 3)
  end
  self.state.token = access
  -- The other connections of the pool take the session's new identity through its token.
  if self:is_stateful() and #self.pool.members > 1 then
    self.pool:broadcast("authenticate", { access }, self.timeout)
  else
    self.pool:changed()
  end
  return access
end

--- Sign in as a root, namespace, database or record user.
-- Passwords and tokens never appear in error messages.
-- @tparam table creds `{ username =, password = }`, optionally `namespace`, `database`, `access`,
--   and for record access any variables (or a `variables` table)
-- @treturn string the access token
-- @usage db:signin{ username = "root", password = "root" }
function Client:signin(creds)
  local result = self:auth_call("signin", { credentials(creds, "signin") })
  return self:take_tokens(result, "signin")
end

--- Sign up a record user through a record access method.
-- @tparam table vars `{ namespace =, database =, access =, ... }` and the access method's variables
-- @treturn string the access token
-- @usage db:signup{ namespace = "app", database = "app", access = "user", email = "a@b.c", pass = "x" }
function Client:signup(vars)
  local result = self:auth_call("signup", { credentials(vars, "signup") })
  return self:take_tokens(result, "signup")
end

--- Authenticate with a token.
-- @tparam string token
-- @usage db:authenticate(token)
function Client:authenticate(token)
  if type(token) ~= "string" then
    errors.raise("ValidationError", "authenticate expects a token string, got " .. type(token), nil, 2)
  end
  self:auth_call("authenticate", { token }, function(client, method, params)
    client:change_session(method, params, function(state) state.token = token end)
  end)
end

--- Exchange the refresh token of a 3.x sign-in for new tokens (SurrealDB 3.x with refresh tokens).
-- @tparam[opt] table tokens `{ access =, refresh = }` (default: the tokens of the last sign-in)
-- @treturn table `{ access =, refresh = }`
-- @usage local tokens = db:refresh()
function Client:refresh(tokens)
  tokens = tokens or { access = self.state.token, refresh = self.state.refresh_token }
  if type(tokens.refresh) ~= "string" then
    errors.raise("ValidationError", "refresh needs a refresh token: sign in through an access method "
      .. "WITH REFRESH, or pass { access =, refresh = }", nil, 2)
  end
  local result = self:call("refresh", { tokens })
  self:take_tokens(result, "refresh")
  return result
end

--- Revoke a refresh token (default: the one of the last sign-in).
-- @usage db:revoke()
function Client:revoke(tokens)
  tokens = tokens or { access = self.state.token, refresh = self.state.refresh_token }
  self:call("revoke", { tokens })
  if tokens.refresh == self.state.refresh_token then self.state.refresh_token = nil end
end

--- Drop the session's authentication.
-- @usage db:invalidate()
function Client:invalidate()
  self:change_session("invalidate", {}, function(state) state.token, state.refresh_token = nil, nil end)
end

--- Set a variable for later queries of this client (`$name`).
-- @tparam string name without the `$`
-- @param value any value
-- @usage db:let("min_age", 18); db:query("SELECT * FROM person WHERE age >= $min_age")
function Client:let(name, value)
  if type(name) ~= "string" or name == "" then
    errors.raise("ValidationError", "let expects a variable name, got " .. tostring(name), nil, 2)
  end
  self:change_session("let", { name, value }, function(state) state.vars[name] = value end)
end

--- Remove a variable set with `let`.
-- @usage db:unset("min_age")
function Client:unset(name)
  self:change_session("unset", { name }, function(state) state.vars[name] = nil end)
end

--- The record of the signed-in user (or NONE).
-- @usage local me = db:info()
function Client:info()
  return self:call("info", {})
end

--- The server's version string, such as `surrealdb-3.0.2`.
-- @usage print(db:version())
function Client:version()
  return self:call("version", {})
end

--- Whether the server answers: `GET /health` over HTTP, `ping` over WebSocket.
-- @treturn boolean
-- @usage assert(db:health())
function Client:health()
  if self:is_stateful() then
    return pcall(self.call, self, "ping", {}) and true or false
  end
  return pcall(function() self.pool:acquire(self.timeout, "health"):check(self.timeout) end) and true or false
end

--- Run SurrealQL and return the raw statement results `{ { status =, result =, time = }, ... }`.
-- A failed statement does not raise here; failures of the call itself do.
-- @tparam string sql one or more statements
-- @tparam[opt] table vars bound variables (`$name`); values are never pasted into the text
-- @tparam[opt] table options `timeout` in seconds; `idempotent = true` when running it twice changes nothing
--   more than running it once (then it is retried after a lost connection, see `Client:call`); `retry = false`
--   for no retries; `txn`
-- @usage local raw = db:query_raw("SELECT * FROM person; RETURN 1")
function Client:query_raw(sql, vars, options)
  if type(sql) ~= "string" then
    errors.raise("ValidationError", "query expects a SurrealQL string, got " .. type(sql), nil, 2)
  end
  local bound = vars
  if not self:is_stateful() and next(self.state.vars) ~= nil then
    bound = {}
    for k, v in pairs(self.state.vars) do bound[k] = v end
    for k, v in pairs(vars or {}) do bound[k] = v end
  end
  local params = { sql }
  if bound ~= nil and next(bound) ~= nil then params[2] = bound end
  local timeout = options and check_timeout(options.timeout, "timeout")
  return self:call("query", params, timeout, options and options.txn and { txn = options.txn }, options)
end

--- Run SurrealQL and return each statement's result, in order, as separate values.
-- Raises a QueryError naming the first failed statement; the error's `results` holds all of them.
-- @tparam string sql one or more statements
-- @tparam[opt] table vars bound variables
-- @tparam[opt] table options `timeout` in seconds, `idempotent` (see `Client:query_raw`), `txn`
-- @return the result of each statement
-- @usage local people = db:query("SELECT * FROM person WHERE age >= $min", { min = 18 })
function Client:query(sql, vars, options)
  local raw = self:query_raw(sql, vars, options)
  if type(raw) ~= "table" then
    errors.raise("ProtocolError", "the answer to query is not a list of statement results")
  end
  local values = {}
  for i, statement in ipairs(raw) do
    if statement.status ~= "OK" then
      local message = statement.result
      if type(message) ~= "string" then message = tostring(message) end
      error(errors.new("QueryError", ("statement %d failed: %s"):format(i, message), {
        kind = statement.kind,
        details = statement.details,
        statement = i,
        results = raw,
      }), 2)
    end
    values[i] = statement.result
  end
  return table.unpack(values, 1, #raw)
end

--- Select all records of a table, or one record.
-- @param what a table name, a record id string (`"person:tobie"`), a Table or a RecordID
-- @usage local everyone = db:select("person"); local tobie = db:select("person:tobie")
function Client:select(what)
  return self:call("select", { target(what, "select") })
end

-- Writes go through `query` as parameterized SurrealQL, as the official SDKs send them: SurrealDB
-- 3.0's create/insert/update/upsert/merge RPC methods turn sets into arrays and lose range bounds,
-- while the same values bound to a query are stored as sent. A record target answers with the record
-- (`ONLY`), a table target with the array of records, as the RPC methods do.
-- Each of them may be sent again after a lost answer (see `Client:call`): they write the content of
-- given records, and a CREATE of a given record cannot create a second one.
local function write(self, method, verb, what, data, clause)
  local t = target(what, method)
  local is_record = getmetatable(t) == types.RecordID
  local sql = verb .. (is_record and " ONLY" or "") .. " $sdb_what"
  if data ~= nil then sql = sql .. " " .. clause .. " $sdb_data" end
  local idempotent = verb ~= "CREATE" or is_record
  return (self:query(sql, { sdb_what = t, sdb_data = data }, { idempotent = idempotent }))
end

-- Whether every row to insert has its id (then inserting it again cannot make a second record).
local function all_have_ids(data)
  if type(data) ~= "table" then return false end
  if data.id ~= nil then return true end
  if #data == 0 then return false end
  for _, row in ipairs(data) do
    if type(row) ~= "table" or row.id == nil then return false end
  end
  return true
end

--- Create a record (with a random id when `what` is a table; then the answer is an array).
-- @usage local p = db:create("person:ann", { name = "Ann" })
function Client:create(what, data)
  return write(self, "create", "CREATE", what, data, "CONTENT")
end

--- Insert one record or an array of records into a table.
-- @usage db:insert("person", { { name = "A" }, { name = "B" } })
function Client:insert(what, data)
  local t = target(what, "insert")
  if getmetatable(t) ~= types.Table then
    errors.raise("ValidationError", "insert expects a table, got the record id " .. tostring(t), nil, 2)
  end
  return (self:query("INSERT INTO $sdb_what $sdb_data", { sdb_what = t, sdb_data = data },
    { idempotent = all_have_ids(data) }))
end

--- Insert relation records (each with `in` and `out`) into an edge table.
-- @usage db:insert_relation("likes", { ["in"] = ann.id, out = post.id })
function Client:insert_relation(what, data)
  return self:call("insert_relation", { target(what, "insert_relation"), data })
end

--- Replace the content of a record or of every record of a table.
-- @usage db:update("person:ann", { name = "Ann", age = 31 })
function Client:update(what, data)
  return write(self, "update", "UPDATE", what, data, "CONTENT")
end

--- Create or replace a record.
-- @usage db:upsert("person:ann", { name = "Ann" })
function Client:upsert(what, data)
  return write(self, "upsert", "UPSERT", what, data, "CONTENT")
end

--- Merge fields into a record or into every record of a table.
-- @usage db:merge("person:ann", { age = 32 })
function Client:merge(what, data)
  return write(self, "merge", "UPDATE", what, data, "MERGE")
end

--- Apply JSON Patch operations; with `diff` true the answer is the patches applied.
-- @usage db:patch("person:ann", { { op = "replace", path = "/age", value = 33 } })
function Client:patch(what, patches, diff)
  return self:call("patch", { target(what, "patch"), patches, diff == true })
end

--- Delete a record or every record of a table.
-- @usage db:delete("person:ann")
function Client:delete(what)
  return self:call("delete", { target(what, "delete") })
end

--- Relate two records through an edge table.
-- @usage db:relate("person:ann", "likes", "post:1", { at = surrealdb.Datetime.now() })
function Client:relate(from, edge, to, data)
  local function record(v)
    if type(v) == "string" then return types.RecordID.parse(v) end
    return v
  end
  return self:call("relate", { record(from), target(edge, "relate"), record(to), data })
end

--- Run a function (`fn::name` or a built-in such as `string::len`).
-- @usage local n = db:run("string::len", nil, { "hello" })
function Client:run(name, version, args)
  return self:call("run", { name, version == nil and types.null or version, args or types.array() })
end

--- Start a live query on a table; returns a LiveQuery stream (WebSocket only).
-- @param what a table name or Table
-- @tparam[opt] table options `diff` (JSON Patch notifications), `buffer` (most unread notifications)
-- @usage local live = db:live("person"); local note = live:next(5)
function Client:live(what, options)
  self:need_session("live")
  options = options or {}
  local table_target = target(what, "live")
  -- Its notifications come on the connection that started it, so it stays tied to that one.
  local member = self.pool:acquire(self.timeout, "live")
  local id = self:call_on(member, "live", { table_target, options.diff == true })
  local live = self:subscribe(id, options.buffer)
  -- Kept so the live query can be started again after a reconnection.
  live.what, live.diff, live.member = table_target, options.diff == true, member
  member.lives[live] = true
  return live
end

--- Receive the notifications of a live query started with `LIVE SELECT` through `query`.
-- @param id the live query's Uuid
-- @usage local id = db:query("LIVE SELECT * FROM person"); local live = db:subscribe(id)
function Client:subscribe(id, buffer)
  self:need_session("subscribe")
  local live = LiveQuery.new(self, id, buffer)
  local key = tostring(id)
  self.lives[key] = live
  for _, note in ipairs(self.unclaimed[key] or {}) do live:push(note) end
  self.unclaimed[key] = nil
  return live
end

local UNCLAIMED_LIMIT = 1000

-- A notification from the connection `member`: route it to its live query.
function Client:notify(note, member)
  if type(note) ~= "table" or note.id == nil then return end
  local key = tostring(note.id)
  local live = self.lives[key]
  local notification = { action = note.action, record = note.record, result = note.result, id = note.id }
  if live and member and live.member == nil then
    live.member = member
    member.lives[live] = true
  end
  if live then
    live:push(notification)
    if note.action == "KILLED" then self.lives[key] = nil end
  else
    local list = self.unclaimed[key] or {}
    if #list < UNCLAIMED_LIMIT then list[#list + 1] = notification end
    self.unclaimed[key] = list
  end
end

--- Stop a live query.
-- @param id the live query's Uuid
-- @usage db:kill(live.id)
function Client:kill(id)
  local key = tostring(id)
  local live = self.lives[key]
  self.lives[key] = nil
  local member = live and live.member
  if live then
    live.finished = true
    if member then member.lives[live] = nil end
  end
  if self:is_closed() then return end
  if member then
    self:call_on(member, "kill", { id })
  else
    self:call("kill", { id })
  end
end

-- Call a method on one connection of the pool (a live query's or a transaction's), without retries.
function Client:call_on(member, method, params)
  if self.closed then errors.raise("ConnectionError", "the client is closed", { method = method }, 3) end
  return (self.pool:call(method, params, self.timeout, nil, member))
end

local Transaction = { __name = "surrealdb.Transaction" }

--- Begin a transaction (SurrealDB 3.x, WebSocket only); returns its id.
-- @usage local txn = db:begin(); db:query("CREATE a", nil, { txn = txn }); db:commit(txn)
function Client:begin()
  self:need_session("begin")
  -- A transaction lives in one server session: every call of it goes to the connection that began it.
  local member = self.pool:acquire(self.timeout, "begin")
  local txn = self:call_on(member, "begin", {})
  self.txn_members[tostring(txn)] = member
  member.txns = member.txns + 1
  return txn
end

-- End a transaction with `commit` or `cancel` on its connection.
function Client:end_transaction(method, txn)
  local key = tostring(txn)
  local member = self.txn_members[key]
  if member == nil then return self:call(method, { txn }) end
  self.txn_members[key] = nil
  member.txns = math.max(member.txns - 1, 0)
  return self:call_on(member, method, { txn })
end

--- Commit a transaction begun with `begin`.
-- @usage db:commit(txn)
function Client:commit(txn)
  return self:end_transaction("commit", txn)
end

--- Cancel a transaction begun with `begin`.
-- @usage db:cancel(txn)
function Client:cancel(txn)
  return self:end_transaction("cancel", txn)
end

--- Run `fn(tx)` in a transaction: commit when it returns, cancel when it raises (and re-raise).
-- `tx:query(sql, vars)` runs inside the transaction.
-- @usage db:transaction(function(tx) tx:query("CREATE account:a SET balance = 10") end)
function Client:transaction(fn)
  local txn = self:begin()
  local tx = setmetatable({ client = self, txn = txn }, Transaction)
  local results = table.pack(pcall(fn, tx))
  if not results[1] then
    pcall(self.cancel, self, txn)
    error(results[2], 0)
  end
  self:commit(txn)
  return table.unpack(results, 2, results.n)
end

Transaction.__index = Transaction

--- Run SurrealQL inside the transaction (see `Client:query`).
function Transaction:query(sql, vars, options)
  local opts = { txn = self.txn }
  for k, v in pairs(options or {}) do opts[k] = v end
  return self.client:query(sql, vars, opts)
end

-- The server's HTTP side, for the routes only HTTP has (export and import).
function Client:http_routes()
  local Http = require("surrealdb.transport.http")
  local member = self.pool:acquire(self.timeout, "export")
  if not self:is_stateful() then return member.transport, Http end
  self.http_transports = self.http_transports or {}
  local http = self.http_transports[member.url]
  if not http then
    http = Http.new((member.url:gsub("^ws", "http")), self.transport_options)
    self.http_transports[member.url] = http
  end
  return http, Http
end

-- An HTTP answer other than 200 from export/import as an error object.
local function route_error(route, event)
  local body = (event.body or ""):sub(1, 300)
  local name = (event.status == 401 or event.status == 403) and "AuthError" or "ServerError"
  return errors.new(name, ("%s answered HTTP %d: %s"):format(route, event.status, body), { status = event.status })
end

--- Export the selected database as SurrealQL text (over HTTP, also for a WebSocket client).
-- @tparam[opt] table options the server's export options (`tables`, `records`, `functions`, ...)
-- @treturn string the SurrealQL
-- @usage local sql = db:export(); db2:import(sql)
function Client:export(options)
  local http, Http = self:http_routes()
  local event
  if options == nil then
    event = http:send("GET", "/export", Http.session_headers(self.state), nil, self.timeout, "export")
  else
    event = http:send("POST", "/export", Http.session_headers(self.state, "application/cbor"),
      require("surrealdb.cbor").encode(options), self.timeout, "export")
  end
  if event.status ~= 200 then error(route_error("export", event), 2) end
  return event.body or ""
end

--- Import SurrealQL text (such as an export) into the selected database.
-- Raises a QueryError naming the first failed statement; its `results` holds what the server said.
-- @tparam string sql
-- @usage db:import(io.open("backup.surql"):read("a"))
function Client:import(sql)
  if type(sql) ~= "string" then
    errors.raise("ValidationError", "import expects SurrealQL text, got " .. type(sql), nil, 2)
  end
  local http, Http = self:http_routes()
  local event = http:send("POST", "/import", Http.session_headers(self.state, "text/plain"), sql, self.timeout,
    "import")
  if event.status ~= 200 then error(route_error("import", event), 2) end
  local results = require("surrealdb.cbor").decode(event.body)
  for i, entry in ipairs(results) do
    if entry.status ~= "OK" then
      error(errors.new("QueryError", ("import failed at entry %d: %s"):format(i, tostring(entry.result)),
        { kind = entry.kind, details = entry.details, results = results }), 2)
    end
  end
  return results
end

--- A runner of bulk operations on this client (see `surrealdb.bulk`).
-- @tparam[opt] table options `batch_size`, `parallel`, `max_retries`, `ignore_errors`, `returning`, `ids`,
--   `progress`, `max_batch_bytes`, `timeout`
-- @return a Bulk: `:insert(table, rows)`, `:upsert`, `:update`, `:delete`, `:relate`, `:cancel()`
-- @usage local result = db:bulk{ ids = "generate" }:insert("person", rows)
function Client:bulk(options)
  return require("surrealdb.bulk").new(self, options)
end

--- Close the client and its connection (idempotent; also `__close`).
-- @usage db:close()
function Client:close()
  if self.closed then return end
  self.closed = true
  self.pool:close()
  local err = errors.new("ConnectionError", "the client was closed")
  for _, live in pairs(self.lives) do live:disconnect(err) end
end

Client.__close = Client.close

return Client
