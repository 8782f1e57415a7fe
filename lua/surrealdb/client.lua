--- The SurrealDB client: every RPC method of the official SDKs, over HTTP or WebSocket.
--
-- Over WebSocket the server's session holds namespace, database, auth and variables. Over HTTP every
-- request stands alone, so the client keeps that state itself and sends it with each request
-- (headers for namespace, database and token; variables merged into each query): both schemes behave
-- the same to the caller.
-- @module surrealdb.client
local errors = require("surrealdb.errors")
local LiveQuery = require("surrealdb.live")
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

--- Connect to a SurrealDB server.
-- @tparam string url `http://`, `https://`, `ws://` or `wss://` with host and port (a trailing `/rpc` is accepted)
-- @tparam[opt] table options `namespace`, `database`, `auth` (`{ username =, password = }` or `{ token = }`),
--   `timeout` (seconds per request, default 30), `connect_timeout` (default 10), `tls` (`{ ca_file =, insecure = }`),
--   and for WebSocket `ping_interval` (default 10), `pong_timeout` (default 5), `reconnect`
--   (`{ delay = 1, max_delay = 60, jitter = 0.1, attempts = nil }`, or false to fail instead)
-- @return a connected client
-- @usage local db <close> = surrealdb.connect("ws://127.0.0.1:8000", { namespace = "app", database = "app" })
function Client.connect(url, options)
  if type(url) ~= "string" then
    errors.raise("ValidationError", "connect expects a URL string, got " .. type(url), nil, 2)
  end
  options = options or {}
  local scheme, rest = url:match("^(%a+)://(.+)$")
  scheme = scheme and scheme:lower()
  if not rest or not (scheme == "http" or scheme == "https" or scheme == "ws" or scheme == "wss") then
    errors.raise("ValidationError",
      ("the URL %q must start with http://, https://, ws:// or wss://"):format(url), nil, 2)
  end
  local self = setmetatable({
    url = url,
    scheme = scheme,
    timeout = check_timeout(options.timeout, "timeout") or DEFAULT_TIMEOUT,
    state = { vars = {} },
    lives = {},
    unclaimed = {},
  }, Client)
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
  local base = (scheme .. "://" .. rest):gsub("/+$", ""):gsub("/rpc$", "")
  self.base_url, self.transport_options = base, transport_options
  if scheme == "ws" or scheme == "wss" then
    if options.reconnect ~= false then
      local reconnect = {}
      for k, v in pairs(DEFAULT_RECONNECT) do reconnect[k] = v end
      for k, v in pairs(options.reconnect or {}) do reconnect[k] = v end
      self.reconnect_options = reconnect
    end
    transport_options.on_notification = function(note) self:notify(note) end
    transport_options.on_drop = function(err) self:on_drop(err) end
    self.transport = require("surrealdb.transport.ws").new(base, transport_options)
  else
    self.transport = require("surrealdb.transport.http").new(base, transport_options)
  end
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

--- Whether the client was closed, or its connection was lost for good (not while it reconnects).
function Client:is_closed()
  if self.closed or self.lost then return true end
  return self.transport.closed == true and self.reconnecting == nil
end

-- Send one RPC call; while the connection is being rebuilt, wait for it (within the call's timeout).
function Client:call(method, params, timeout, extra)
  timeout = timeout or self.timeout
  if self.reconnecting and not self.closed then
    local waiter = runtime.waiter(timeout, method .. " (waiting for the connection to come back)")
    table.insert(self.reconnecting, waiter)
    waiter:wait()
  end
  if self.closed then
    errors.raise("ConnectionError", "the client is closed", { method = method }, 3)
  end
  if self.lost then
    errors.raise("ConnectionError", "the connection was lost and could not be restored: " .. self.lost.message,
      { method = method, cause = self.lost }, 3)
  end
  return self.transport:call(method, params, self.state, timeout, extra)
end

--- A view of this client whose calls use another timeout (seconds); it shares the connection and state.
-- @usage local rows = db:with_timeout(2):select("person")
function Client:with_timeout(seconds)
  check_timeout(seconds, "timeout")
  local client = self
  return setmetatable({ timeout = seconds, close = function() client:close() end }, { __index = client })
end

-- The WebSocket was lost: rebuild it in the background (or give up when reconnection is off).
function Client:on_drop(err)
  if self.closed then return end
  if not self.reconnect_options then
    self:give_up(err)
    return
  end
  self.reconnecting = {}
  runtime.spawn(function() self:reconnect(err) end)
end

-- Stop trying: fail the calls waiting for the connection and the live queries' readers.
function Client:give_up(err)
  self.lost = err
  local waiting = self.reconnecting or {}
  self.reconnecting = nil
  for _, waiter in ipairs(waiting) do waiter:fail(err) end
  for _, live in pairs(self.lives) do live:disconnect(err) end
end

-- Reopen the connection with backoff and replay the session; wake the calls that waited.
function Client:reconnect(cause)
  local Ws = require("surrealdb.transport.ws")
  local opts = self.reconnect_options
  local delay, attempt, last = opts.delay, 0, cause
  while not self.closed do
    attempt = attempt + 1
    local ok, transport = pcall(Ws.new, self.base_url, self.transport_options)
    if ok and self.closed then
      transport:close()
      return
    elseif ok then
      self.transport = transport
      local replayed, err = pcall(self.replay, self)
      if replayed then
        local waiting = self.reconnecting
        self.reconnecting = nil
        self.reconnects = (self.reconnects or 0) + 1
        for _, waiter in ipairs(waiting) do waiter:complete(true) end
        return
      end
      last = err
      transport:close()
    else
      last = transport
    end
    if opts.attempts and attempt >= opts.attempts then break end
    runtime.sleep(delay * (1 + opts.jitter * (2 * math.random() - 1)))
    delay = math.min(delay * 2, opts.max_delay)
  end
  if not self.closed then
    self:give_up(errors.new("ConnectionError",
      ("could not reconnect to %s after %d attempts"):format(self.base_url, attempt), { cause = last }))
  end
end

-- Restore the session on a new connection: namespace and database, auth, variables, live queries.
function Client:replay()
  local transport, state, timeout = self.transport, self.state, self.timeout
  if state.namespace or state.database then
    transport:call("use", { state.namespace or types.NONE, state.database or types.NONE }, nil, timeout)
  end
  if state.token then transport:call("authenticate", { state.token }, nil, timeout) end
  for name, value in pairs(state.vars) do transport:call("let", { name, value }, nil, timeout) end
  local lives = self.lives
  self.lives = {}
  for _, live in pairs(lives) do
    if live.what then
      live.id = transport:call("live", { live.what, live.diff == true }, nil, timeout)
      self.lives[tostring(live.id)] = live
      -- What changed while the connection was down was not seen: say so instead of hiding it.
      live:push({ action = "RESYNC" })
    else
      live:push({ action = "KILLED", reason = "the connection was lost; a LIVE SELECT run through query "
        .. "cannot be restarted" })
    end
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
  if self:is_stateful() then
    self:call("use", { namespace == nil and types.NONE or namespace, database == nil and types.NONE or database })
  end
  if namespace ~= nil then self.state.namespace = namespace end
  if database ~= nil then self.state.database = database end
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
function Client:auth_call(method, params)
  local ok, result = pcall(self.call, self, method, params)
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
  local previous = self.state.token
  self.state.token = token
  local ok, err = pcall(self.auth_call, self, "authenticate", { token })
  if not ok then
    self.state.token = previous
    error(err, 0)
  end
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
  if self:is_stateful() then self:call("invalidate", {}) end
  self.state.token, self.state.refresh_token = nil, nil
end

--- Set a variable for later queries of this client (`$name`).
-- @tparam string name without the `$`
-- @param value any value
-- @usage db:let("min_age", 18); db:query("SELECT * FROM person WHERE age >= $min_age")
function Client:let(name, value)
  if type(name) ~= "string" or name == "" then
    errors.raise("ValidationError", "let expects a variable name, got " .. tostring(name), nil, 2)
  end
  if self:is_stateful() then self:call("let", { name, value }) end
  self.state.vars[name] = value
end

--- Remove a variable set with `let`.
-- @usage db:unset("min_age")
function Client:unset(name)
  if self:is_stateful() then self:call("unset", { name }) end
  self.state.vars[name] = nil
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
  local ok, status = pcall(self.transport.get, self.transport, "/health", self.timeout)
  return ok and status == 200
end

--- Run SurrealQL and return the raw statement results `{ { status =, result =, time = }, ... }`.
-- A failed statement does not raise here; failures of the call itself do.
-- @tparam string sql one or more statements
-- @tparam[opt] table vars bound variables (`$name`); values are never pasted into the text
-- @tparam[opt] table options `timeout` in seconds
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
  return self:call("query", params, timeout, options and options.txn and { txn = options.txn })
end

--- Run SurrealQL and return each statement's result, in order, as separate values.
-- Raises a QueryError naming the first failed statement; the error's `results` holds all of them.
-- @tparam string sql one or more statements
-- @tparam[opt] table vars bound variables
-- @tparam[opt] table options `timeout` in seconds
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
local function write(self, method, verb, what, data, clause)
  local t = target(what, method)
  local only = getmetatable(t) == types.RecordID and " ONLY" or ""
  local sql = verb .. only .. " $sdb_what"
  if data ~= nil then sql = sql .. " " .. clause .. " $sdb_data" end
  return (self:query(sql, { sdb_what = t, sdb_data = data }))
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
  return (self:query("INSERT INTO $sdb_what $sdb_data", { sdb_what = t, sdb_data = data }))
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
  local id = self:call("live", { table_target, options.diff == true })
  local live = self:subscribe(id, options.buffer)
  -- Kept so the live query can be started again after a reconnection.
  live.what, live.diff = table_target, options.diff == true
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

-- A notification from the transport: route it to its live query.
function Client:notify(note)
  if type(note) ~= "table" or note.id == nil then return end
  local key = tostring(note.id)
  local live = self.lives[key]
  local notification = { action = note.action, record = note.record, result = note.result, id = note.id }
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
  if live then live.finished = true end
  if not self:is_closed() then self:call("kill", { id }) end
end

local Transaction = { __name = "surrealdb.Transaction" }

--- Begin a transaction (SurrealDB 3.x, WebSocket only); returns its id.
-- @usage local txn = db:begin(); db:query("CREATE a", nil, { txn = txn }); db:commit(txn)
function Client:begin()
  self:need_session("begin")
  return self:call("begin", {})
end

--- Commit a transaction begun with `begin`.
function Client:commit(txn)
  return self:call("commit", { txn })
end

--- Cancel a transaction begun with `begin`.
function Client:cancel(txn)
  return self:call("cancel", { txn })
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
  if getmetatable(self.transport) == Http then return self.transport, Http end
  if not self.http_transport then
    self.http_transport = Http.new((self.base_url:gsub("^ws", "http")), self.transport_options)
  end
  return self.http_transport, Http
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

--- Close the client and its connection (idempotent; also `__close`).
-- @usage db:close()
function Client:close()
  if self.closed then return end
  self.closed = true
  self.transport:close()
  local err = errors.new("ConnectionError", "the client was closed")
  for _, waiter in ipairs(self.reconnecting or {}) do waiter:fail(err) end
  self.reconnecting = nil
  for _, live in pairs(self.lives) do live:disconnect(err) end
end

Client.__close = Client.close

return Client
