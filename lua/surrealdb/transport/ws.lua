--- The WebSocket transport: one connection (one server session), many calls in flight on it.
--
-- Requests carry an id; answers may come back in any order and are matched to their waiter by it.
-- Frames without an id are live-query notifications, handed to `on_notification`.
-- @module surrealdb.transport.ws
local cbor = require("surrealdb.cbor")
local errors = require("surrealdb.errors")
local rpc = require("surrealdb.rpc")
local runtime = require("surrealdb.runtime")

local Ws = {}
Ws.__index = Ws

--- Seconds between pings, and how long a pong may take before the connection is presumed dead
-- (a half-open socket, where writes succeed but nothing comes back, is only found this way).
Ws.DEFAULT_PING_INTERVAL = 10
Ws.DEFAULT_PONG_TIMEOUT = 5

--- Open a WebSocket to `base_url`'s `/rpc` (blocks, or yields inside a task, until it is open).
-- @tparam string base_url `ws://host:port` or `wss://...` (a trailing `/rpc` is accepted)
-- @tparam table options `connect_timeout`, `tls`, `max_message`, `ping_interval`, `pong_timeout`,
--   `on_notification(result)`, `on_drop(err)` (called once when the connection is lost, not closed)
-- @usage local ws = Ws.new("ws://127.0.0.1:8000", { connect_timeout = 10 })
function Ws.new(base_url, options)
  local self = setmetatable({
    url = base_url:gsub("/+$", ""):gsub("/rpc$", "") .. "/rpc",
    options = options,
    pending = {},
    next_id = 0,
    closed = false,
    on_notification = options.on_notification,
    ping_interval = options.ping_interval or Ws.DEFAULT_PING_INTERVAL,
    pong_timeout = options.pong_timeout or Ws.DEFAULT_PONG_TIMEOUT,
  }, Ws)
  local opened = runtime.waiter(options.connect_timeout, "connecting to " .. self.url)
  self.opened = opened
  self.conn = runtime.loop():ws_connect({
    url = self.url,
    protocols = "cbor",
    connect_timeout = options.connect_timeout,
    max_message = options.max_message,
    tls = options.tls,
  })
  self.key = "ws:" .. tostring(self.conn:id())
  runtime.on(self.key, function(event) self:handle(event) end)
  local ok, err = pcall(opened.wait, opened)
  if not ok then
    self:close()
    error(err, 2)
  end
  -- Only an open connection can be lost; a failed open raises instead.
  self.on_drop = options.on_drop
  return self
end

-- Handle one event of the loop for this connection.
function Ws:handle(event)
  if event.type == "ws_open" then
    self.opened:complete(true)
    self:schedule_ping()
  elseif event.type == "ws_pong" then
    if self.pong_timer then
      self.pong_timer.cancel()
      self.pong_timer = nil
    end
    self:schedule_ping()
  elseif event.type == "ws_message" then
    local ok, message = pcall(cbor.decode, event.data)
    if not ok then
      -- An answer we cannot read: we cannot know whose it is, so the connection cannot be trusted.
      self:fail_all(errors.new("ProtocolError", "the server sent a frame that is not valid CBOR",
        { cause = message }))
      return
    end
    local id = type(message) == "table" and message.id or nil
    if id == nil then
      if self.on_notification and type(message) == "table" then self.on_notification(message.result) end
      return
    end
    local waiter = self.pending[id]
    if waiter then
      self.pending[id] = nil
      waiter:complete(message)
    end
  elseif event.type == "ws_close" then
    local reason = event.error and event.error.message or event.reason
    local message = ("the WebSocket connection to %s closed"):format(self.url)
    if event.code then message = message .. (" (code %d)"):format(event.code) end
    if reason and reason ~= "" then message = message .. ": " .. reason end
    self:drop(errors.new("ConnectionError", message, { code = event.code, kind = event.error and event.error.kind }))
  end
end

-- Ping after `ping_interval`; without a pong within `pong_timeout` the connection is dropped.
function Ws:schedule_ping()
  if self.ping_timer then self.ping_timer.cancel() end
  self.ping_timer = runtime.after(self.ping_interval, function()
    self.ping_timer = nil
    if self.closed then return end
    local ok = pcall(self.conn.ping, self.conn)
    if not ok then return end -- the close event follows
    self.pong_timer = runtime.after(self.pong_timeout, function()
      self.pong_timer = nil
      self:drop(errors.new("ConnectionError",
        ("no pong from %s within %g s: the connection is presumed dead"):format(self.url, self.pong_timeout),
        { kind = "pong_timeout" }))
    end)
  end)
end

-- The connection is lost (not closed by us): fail everything in flight, tell the owner once.
function Ws:drop(err)
  if self.dropped then return end
  self.dropped = true
  local was_closed = self.closed
  self.closed = true
  runtime.on(self.key, nil)
  self:stop_timers()
  pcall(self.conn.close, self.conn, 1001, "")
  self.opened:fail(err)
  self:fail_all(err)
  if not was_closed and self.on_drop then self.on_drop(err) end
end

function Ws:stop_timers()
  if self.ping_timer then self.ping_timer.cancel() end
  if self.pong_timer then self.pong_timer.cancel() end
  self.ping_timer, self.pong_timer = nil, nil
end

function Ws:fail_all(err)
  local pending = self.pending
  self.pending = {}
  for _, waiter in pairs(pending) do waiter:fail(err) end
end

--- Call an RPC method on this connection.
-- @tparam string method the RPC method
-- @tparam table params its parameters
-- @tparam[opt] table state ignored: the connection's session holds the state
-- @tparam number timeout seconds
-- @tparam[opt] table extra more request fields (`session`, `txn`)
-- @return the result
-- @usage local result = ws:call("query", { "RETURN 1" }, nil, 30)
function Ws:call(method, params, _, timeout, extra)
  if self.closed then
    errors.raise("ConnectionError", ("the WebSocket connection to %s is closed"):format(self.url),
      { method = method, sent = false }, 2)
  end
  self.next_id = self.next_id + 1
  local id = self.next_id
  local waiter = runtime.waiter(timeout, method)
  self.pending[id] = waiter
  -- A late answer to a timed-out request finds no waiter and is dropped.
  waiter.on_done = function() self.pending[id] = nil end
  local bytes = rpc.encode_request(id, method, params, extra)
  local ok, err = pcall(self.conn.send, self.conn, bytes)
  if not ok then
    self.pending[id] = nil
    -- The core raises `{ kind, message }` (closed, not_open, busy): a connection failure.
    local message = type(err) == "table" and err.message or tostring(err)
    errors.raise("ConnectionError", ("could not send %s to %s: %s"):format(method, self.url, message),
      { method = method, kind = type(err) == "table" and err.kind or nil, sent = false }, 2)
  end
  return rpc.result_of(waiter:wait(), method)
end

--- Close the connection (idempotent); calls still in flight fail with a ConnectionError.
-- @usage ws:close()
function Ws:close()
  self:stop_timers()
  if not self.closed then
    self.closed = true
    self.conn:close(1000, "")
    self:fail_all(errors.new("ConnectionError", ("the WebSocket connection to %s was closed"):format(self.url)))
  end
  runtime.on(self.key, nil)
end

return Ws
