--- The connections of one client: a pool of WebSocket or HTTP connections to one or more servers.
--
-- A call goes to the least busy open, healthy connection. Over WebSocket every connection is its own
-- server session, so the session state the client keeps (namespace, database, token, variables) is
-- replayed on each connection when it opens or reopens, and changes are sent to every open one.
-- Over HTTP a connection is a slot for requests to one URL (the core keeps the sockets alive).
--
-- A lost connection is reopened in the background with backoff; a server that fails a health check
-- is left out until it answers again. Calls that find no connection ready wait for one, within
-- their timeout. Several URLs (the nodes of a cluster sharing one storage) get the connections in
-- turn, so the load spreads over them and a node that goes down is routed around.
-- @module surrealdb.pool
local errors = require("surrealdb.errors")
local log = require("surrealdb.log")
local runtime = require("surrealdb.runtime")
local types = require("surrealdb.types")

local Pool = {}
Pool.__index = Pool

local Member = {}
Member.__index = Member

--- Make the pool of a client and open its first `min` connections (blocking, or yielding in a task).
-- @param client the client (its `state`, `notify` and `lives` are used)
-- @tparam table urls the servers' base URLs (`ws://host:port`, ...), all WebSocket or all HTTP
-- @tparam table options `size`, `min`, `idle_timeout`, `health_interval`, `transport` (the transport's
--   options), `reconnect` (`{ delay, max_delay, jitter, attempts }` or false), `stateful` (WebSocket)
-- @return the pool
-- @raise ConnectionError when no connection could be opened
-- @usage local pool = Pool.new(client, { "ws://127.0.0.1:8000" }, { size = 4, transport = {}, stateful = true })
function Pool.new(client, urls, options)
  local self = setmetatable({
    client = client,
    urls = urls,
    size = options.size,
    min = options.min,
    idle_timeout = options.idle_timeout,
    health_interval = options.health_interval,
    transport_options = options.transport,
    reconnect = options.reconnect,
    stateful = options.stateful,
    members = {},
    waiters = {}, -- calls waiting for a connection
    next_url = 0,
    version = 0, -- bumped whenever the session state changes (see `changed`)
    reconnects = 0,
  }, Pool)
  local first_err
  for _ = 1, self.min do
    local member = self:add_member()
    local ok, err = pcall(member.open, member)
    if not ok then
      first_err = first_err or err
      member:lost_connection(err)
    end
  end
  if self:count("open") == 0 then
    self:close()
    error(first_err, 0)
  end
  if self.health_interval or self.idle_timeout then self:schedule_upkeep() end
  return self
end

-- A new member for the next URL in turn (not opened yet).
function Pool:add_member()
  self.next_url = self.next_url % #self.urls + 1
  local member = setmetatable({
    pool = self,
    url = self.urls[self.next_url],
    state = "new",
    in_flight = 0,
    last_used = runtime.now(),
    lives = {},
    txns = 0,
    version = -1,
  }, Member)
  self.members[#self.members + 1] = member
  return member
end

--- How many members are in `state` ("open", "opening", "recovering", "failed").
function Pool:count(state)
  local n = 0
  for _, member in ipairs(self.members) do
    if member.state == state then n = n + 1 end
  end
  return n
end

-- Wake the calls waiting for a connection: one opened, or the pool was closed or lost.
function Pool:wake()
  local waiters = self.waiters
  self.waiters = {}
  for _, waiter in ipairs(waiters) do waiter:complete(true) end
end

-- Open one more connection in the background when all are busy and the pool may grow.
function Pool:grow()
  if #self.members >= self.size or self.growing or self.closed then return end
  self.growing = true
  local member = self:add_member()
  runtime.spawn(function()
    local ok, err = pcall(member.open, member)
    self.growing = nil
    if not ok then member:lost_connection(err) end
  end)
end

-- The least busy open member, or nil. Over HTTP, when no server answered lately, the least busy of
-- those being re-checked: the call itself is the check, so it fails fast instead of waiting.
function Pool:least_busy()
  local best, fallback
  for _, member in ipairs(self.members) do
    if member.state == "open" then
      if best == nil or member.in_flight < best.in_flight then best = member end
    elseif not self.stateful and member.state == "recovering"
      and (fallback == nil or member.in_flight < fallback.in_flight) then
      fallback = member
    end
  end
  return best or fallback
end

--- Take the least busy open connection, waiting (at most `timeout` seconds) when none is ready.
-- @tparam number timeout seconds
-- @tparam string method the call, for the error message
-- @return a member
-- @raise ConnectionError when the pool is closed or lost; TimeoutError when no connection came back
-- @usage local member = pool:acquire(30, "query")
function Pool:acquire(timeout, method)
  local deadline = runtime.now() + timeout
  while true do
    if self.closed then
      errors.raise("ConnectionError", "the client is closed", { method = method, sent = false, final = true }, 3)
    end
    if self.lost then
      errors.raise("ConnectionError", "the connection was lost and could not be restored: " .. self.lost.message,
        { method = method, cause = self.lost, sent = false, final = true }, 3)
    end
    local member = self:least_busy()
    if member then
      if member.in_flight > 0 then self:grow() end
      return member
    end
    if self:count("opening") == 0 then self:grow() end
    local left = deadline - runtime.now()
    if left <= 0 then
      errors.raise("TimeoutError", ("no connection to %s was available within %g s"):format(
        table.concat(self.urls, ", "), timeout), { method = method, sent = false, cause = self.last_error }, 3)
    end
    local waiter = runtime.waiter(left, method .. " (waiting for a connection)")
    self.waiters[#self.waiters + 1] = waiter
    local ok, err = pcall(waiter.wait, waiter)
    if not ok and errors.is(err, "TimeoutError") then
      errors.raise("TimeoutError", ("no connection to %s was available within %g s"):format(
        table.concat(self.urls, ", "), timeout), { method = method, sent = false, cause = self.last_error }, 3)
    elseif not ok then
      error(err, 0)
    end
  end
end

--- Call an RPC method on a connection of the pool (or on `member`, for calls tied to a session).
-- @tparam string method
-- @tparam table params
-- @tparam number timeout seconds, for waiting for a connection and for the answer together
-- @tparam[opt] table extra more request fields (`txn`)
-- @tparam[opt] table member the connection to use (a transaction's or a live query's)
-- @return the result, and the member that answered
-- @usage local result = pool:call("query", { "RETURN 1" }, 30)
function Pool:call(method, params, timeout, extra, member)
  local started = runtime.now()
  if member then
    if member.state ~= "open" then
      errors.raise("ConnectionError", ("%s belongs to a connection to %s that was lost"):format(method, member.url),
        { method = method, sent = false, final = true }, 2)
    end
  else
    member = self:acquire(timeout, method)
  end
  local left = math.max(timeout - (runtime.now() - started), 0.001)
  member.in_flight = member.in_flight + 1
  member.last_used = started
  local ok, result = pcall(member.transport.call, member.transport, method, params, self.client.state, left, extra)
  member.in_flight = member.in_flight - 1
  -- Over HTTP an answer proves the server is back; over WebSocket the transport may have dropped
  -- after this answer came, and its recovery must go on.
  if ok and member.state == "recovering" and not self.stateful then
    member.state = "open"
    self:wake()
  end
  if not ok then
    -- An HTTP request that could not reach its server: leave that server out until it answers.
    if not self.stateful and errors.is(result, "ConnectionError") and result.sent == false then
      member:lost_connection(result)
    end
    error(result, 0)
  end
  return result, member
end

-- A session call on one connection. A retryable transaction conflict (several sessions creating a
-- brand-new namespace or database at once) is sent again: a session call changes nothing else.
local function session_call(transport, method, params, timeout)
  for attempt = 1, 5 do
    local ok, result = pcall(transport.call, transport, method, params, nil, timeout)
    if ok then return result end
    if attempt == 5 or not (type(result) == "table" and result.retryable) then error(result, 0) end
    runtime.sleep(runtime.backoff(attempt, 0.02, 0.32, 1))
  end
end

--- Send a session change (`use`, `let`, `authenticate`, ...) to every open WebSocket connection at once.
-- Connections opening or reopening get it through the replay, and so does one that is lost while it is
-- sent. Raises the first refusal of the server.
-- @tparam string method
-- @tparam table params
-- @tparam number timeout seconds
-- @tparam[opt] table except a member that already has it
-- @usage pool:broadcast("let", { "x", 1 }, 30)
function Pool:broadcast(method, params, timeout, except)
  self.version = self.version + 1
  local calls, refused = {}, nil
  for _, member in ipairs(self.members) do
    if member.state == "open" and member ~= except then
      calls[#calls + 1] = function()
        local ok, err = pcall(session_call, member.transport, method, params, timeout)
        if ok then return end
        if errors.is(err, "ConnectionError") or errors.is(err, "TimeoutError") then
          member:lost_connection(err)
        else
          refused = refused or err
        end
      end
    end
  end
  if #calls == 1 then
    calls[1]()
  elseif #calls > 1 then
    runtime.gather(calls)
  end
  if refused then error(refused, 0) end
end

--- Note that the session state changed without a call (HTTP keeps it in the client only).
function Pool:changed()
  self.version = self.version + 1
end

-- Periodic upkeep: health checks and closing idle connections above `min`.
function Pool:schedule_upkeep()
  local every = math.min(self.health_interval or math.huge, self.idle_timeout or math.huge)
  self.upkeep = runtime.after(every, function()
    self.upkeep = nil
    if self.closed then return end
    runtime.spawn(function()
      self:check_health()
      self:close_idle()
      if not self.closed then self:schedule_upkeep() end
    end)
  end)
end

-- Ping every open connection; one that does not answer is dropped and recovered in the background.
function Pool:check_health()
  if not self.health_interval then return end
  local checks = {}
  for _, member in ipairs(self.members) do
    if member.state == "open" then
      checks[#checks + 1] = function()
        local ok, err = pcall(member.check, member, math.min(self.health_interval, 5))
        if not ok and member.state == "open" then
          log.write("debug", ("health check of %s failed: %s"):format(member.url, tostring(err)))
          member:lost_connection(err)
        end
      end
    end
  end
  if #checks > 0 then runtime.gather(checks) end
end

-- Close connections above `min` that were idle for `idle_timeout` seconds and hold no session use.
function Pool:close_idle()
  if not self.idle_timeout then return end
  local now = runtime.now()
  for i = #self.members, 1, -1 do
    local member = self.members[i]
    if #self.members <= self.min then break end
    if member.state == "open" and member.in_flight == 0 and member.txns == 0 and next(member.lives) == nil
      and now - member.last_used >= self.idle_timeout then
      member:close()
      table.remove(self.members, i)
    end
  end
end

-- Every member failed for good: the pool is lost; calls fail with `err`.
function Pool:give_up(err)
  self.lost = err
  self:wake()
  self.client:connection_lost(err)
end

--- The pool's connections as plain data: `{ { url =, state =, in_flight = }, ... }` and the number of
-- reconnections so far.
-- @usage for _, c in ipairs(db:pool_status().connections) do print(c.url, c.state) end
function Pool:status()
  local connections = {}
  for i, member in ipairs(self.members) do
    connections[i] = { url = member.url, state = member.state, in_flight = member.in_flight }
  end
  return { connections = connections, reconnects = self.reconnects }
end

--- Close every connection (idempotent); waiting calls fail.
function Pool:close()
  if self.closed then return end
  self.closed = true
  if self.upkeep then self.upkeep.cancel() end
  for _, member in ipairs(self.members) do member:close() end
  self:wake()
end

-- ---- one connection ----

-- Open the connection and, over WebSocket, replay the session on it.
function Member:open()
  local pool = self.pool
  self.state = "opening"
  if pool.stateful then
    local options = {}
    for k, v in pairs(pool.transport_options) do options[k] = v end
    options.on_notification = function(note) pool.client:notify(note, self) end
    options.on_drop = function(err) self:lost_connection(err) end
    local transport = require("surrealdb.transport.ws").new(self.url, options)
    self.transport = transport
    self.version = -1 -- a new server session holds none of the state yet: replay all of it
    local ok, err = pcall(self.replay, self)
    if not ok then
      transport:close()
      error(err, 0)
    end
  else
    self.transport = self.transport or require("surrealdb.transport.http").new(self.url, pool.transport_options)
  end
  if pool.closed then
    self:close()
    return
  end
  self.state = "open"
  pool:wake()
end

-- Replay the session state on this connection until it is current (state may change meanwhile).
function Member:replay()
  local pool, client = self.pool, self.pool.client
  local transport, timeout = self.transport, client.timeout
  while self.version ~= pool.version do
    self.version = pool.version
    local state = client.state
    if state.namespace or state.database then
      session_call(transport, "use", { state.namespace or types.NONE, state.database or types.NONE }, timeout)
    end
    if state.token then transport:call("authenticate", { state.token }, nil, timeout) end
    for name, value in pairs(state.vars) do transport:call("let", { name, value }, nil, timeout) end
  end
  local lives = self.lives
  self.lives = {}
  for live in pairs(lives) do client:restart_live(live, self) end
end

-- Whether the server answers on this connection: a ping over WebSocket, `GET /health` over HTTP.
function Member:check(timeout)
  if self.pool.stateful then
    self.transport:call("ping", {}, nil, timeout)
    return
  end
  local status = self.transport:get("/health", timeout)
  if status ~= 200 then
    errors.raise("ConnectionError", ("%s/health answered HTTP %d"):format(self.url, status), { status = status })
  end
end

-- The connection was lost or its server does not answer: recover it in the background.
function Member:lost_connection(err)
  local pool = self.pool
  if pool.closed or self.state == "closed" or self.state == "recovering" or self.state == "failed" then return end
  pool.last_error = err
  local was_open = self.state == "open"
  self.state = "recovering"
  self.txns = 0
  for live in pairs(self.lives) do
    if not live.what then
      live:push({ action = "KILLED", reason = "the connection was lost; a LIVE SELECT run through query "
        .. "cannot be restarted" })
      self.lives[live] = nil
    end
  end
  if pool.stateful and self.transport then self.transport:close() end
  if not pool.reconnect then
    self:fail(err)
    return
  end
  if was_open then log.write("debug", ("connection to %s lost: %s"):format(self.url, tostring(err.message))) end
  -- One recovery at a time: a connection lost again while it is being reopened goes on with the same one.
  if not self.recovering then
    self.recovering = true
    runtime.spawn(function()
      self:recover(err)
      self.recovering = nil
    end)
  end
end

-- Reopen (WebSocket) or re-check (HTTP) with backoff until it works or the attempts run out.
function Member:recover(cause)
  local pool, options = self.pool, self.pool.reconnect
  local attempt, last = 0, cause
  while not pool.closed and self.state == "recovering" do
    attempt = attempt + 1
    runtime.sleep(runtime.backoff(attempt, options.delay, options.max_delay, options.jitter))
    if pool.closed or self.state ~= "recovering" then return end
    local ok, err
    if pool.stateful then
      ok, err = pcall(self.open, self)
    else
      ok, err = pcall(self.check, self, pool.transport_options.connect_timeout)
      if ok then
        self.state = "open"
        pool:wake()
      end
    end
    if ok and self.state == "open" then
      pool.reconnects = pool.reconnects + 1
      return
    elseif not ok then
      if self.state == "opening" then self.state = "recovering" end
      last = err
      if options.attempts and attempt >= options.attempts then break end
    end
  end
  if not pool.closed and self.state == "recovering" then
    self:fail(errors.new("ConnectionError",
      ("could not reconnect to %s after %d attempts"):format(self.url, attempt), { cause = last }))
  end
end

-- This connection is given up; when every connection is, the pool is lost.
function Member:fail(err)
  self.state = "failed"
  for live in pairs(self.lives) do live:disconnect(err) end
  self.lives = {}
  local pool = self.pool
  for _, member in ipairs(pool.members) do
    if member.state ~= "failed" then return end
  end
  pool:give_up(err)
end

function Member:close()
  self.state = "closed"
  if self.transport then self.transport:close() end
end

return Pool
