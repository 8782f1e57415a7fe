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

--- Open a WebSocket to `base_url`'s `/rpc` (blocks, or yields inside a task, until it is open).
-- @tparam string base_url `ws://host:port` or `wss://...` (a trailing `/rpc` is accepted)
-- @tparam table options `connect_timeout`, `tls`, `max_message`, `on_notification(result)`
-- @usage local ws = Ws.new("ws://127.0.0.1:8000", { connect_timeout = 10 })
function Ws.new(base_url, options)
  local self = setmetatable({
    url = base_url:gsub("/+$", ""):gsub("/rpc$", "") .. "/rpc",
    options = options,
    pending = {},
    next_id = 0,
    closed = false,
    on_notification = options.on_notification,
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
  return self
end

-- Handle one event of the loop for this connection.
function Ws:handle(event)
  if event.type == "ws_open" then
    self.opened:complete(true)
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
    self.closed = true
    runtime.on(self.key, nil)
    local err = errors.new("ConnectionError", message, { code = event.code, kind = event.error and event.error.kind })
    self.opened:fail(err)
    self:fail_all(err)
  end
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
      { method = method }, 2)
  end
  self.next_id = self.next_id + 1
  local id = self.next_id
  local waiter = runtime.waiter(timeout, method)
  self.pending[id] = waiter
  -- A late answer to a timed-out request finds no waiter and is dropped.
  waiter.on_done = function() self.pending[id] = nil end
  local ok, err = pcall(self.conn.send, self.conn, rpc.encode_request(id, method, params, extra))
  if not ok then
    self.pending[id] = nil
    error(err, 2)
  end
  return rpc.result_of(waiter:wait(), method)
end

--- Close the connection (idempotent); calls still in flight fail with a ConnectionError.
-- @usage ws:close()
function Ws:close()
  if not self.closed then
    self.closed = true
    self.conn:close(1000, "")
    self:fail_all(errors.new("ConnectionError", ("the WebSocket connection to %s was closed"):format(self.url)))
  end
  runtime.on(self.key, nil)
end

return Ws
