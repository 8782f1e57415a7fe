--- The HTTP transport: one `POST /rpc` per call, through libcurl's multi interface in the core.
--
-- HTTP is stateless: namespace, database and the token travel as headers with every request; the
-- client keeps that state (see `surrealdb.client`). Connections are kept alive and reused by the core.
-- @module surrealdb.transport.http
local cbor = require("surrealdb.cbor")
local errors = require("surrealdb.errors")
local rpc = require("surrealdb.rpc")
local runtime = require("surrealdb.runtime")

local Http = {}
Http.__index = Http

local error_class = { timeout = "TimeoutError" }
-- Failures that happen before a request's bytes leave: the server cannot have seen it.
local not_sent = { connect = true, tls = true }

--- Open an HTTP transport to the server at `base_url` (`http://host:port` or `https://...`).
-- @tparam string base_url the server's URL without `/rpc`
-- @tparam table options `timeout`, `connect_timeout`, `tls`
-- @usage local http = Http.new("http://127.0.0.1:8000", { timeout = 30 })
function Http.new(base_url, options)
  return setmetatable({
    base_url = base_url:gsub("/+$", ""),
    options = options,
    next_id = 0,
  }, Http)
end

--- The headers that carry a session's state: namespace, database, token, and CBOR content types.
-- @tparam table state `{ namespace =, database =, token = }`
-- @tparam[opt] string content_type the request body's type
-- @usage local headers = Http.session_headers(db.state, "application/cbor")
function Http.session_headers(state, content_type)
  local headers = { ["Accept"] = "application/cbor" }
  if content_type then headers["Content-Type"] = content_type end
  if state.namespace then headers["surreal-ns"] = state.namespace end
  if state.database then headers["surreal-db"] = state.database end
  if state.token then headers["Authorization"] = "Bearer " .. state.token end
  return headers
end

-- Send one HTTP request; returns the waiter that completes with the response event.
function Http:send(method, path, headers, body, timeout, what)
  local waiter = runtime.waiter(nil, what)
  local id = runtime.loop():http_request({
    url = self.base_url .. path,
    method = method,
    headers = headers,
    body = body,
    timeout = timeout,
    connect_timeout = self.options.connect_timeout,
    tls = self.options.tls,
  })
  local key = "http:" .. id
  runtime.on(key, function(event)
    runtime.on(key, nil)
    waiter:complete(event)
  end)
  local event = waiter:wait()
  if event.error then
    local kind = event.error.kind
    local fields = { kind = kind, method = what }
    if not_sent[kind] then fields.sent = false end
    errors.raise(error_class[kind] or "ConnectionError",
      ("%s %s failed: %s"):format(method, self.base_url .. path, event.error.message), fields, 2)
  end
  return event
end

--- Call an RPC method; `state` gives the headers (`namespace`, `database`, `token`).
-- @tparam string method the RPC method
-- @tparam table params its parameters
-- @tparam table state `{ namespace =, database =, token = }`
-- @tparam number timeout seconds
-- @return the result
-- @usage local result = http:call("ping", {}, {}, 30)
function Http:call(method, params, state, timeout)
  self.next_id = self.next_id + 1
  local headers = Http.session_headers(state, "application/cbor")
  local event = self:send("POST", "/rpc", headers, rpc.encode_request(self.next_id, method, params), timeout, method)
  local ok, response = pcall(cbor.decode, event.body or "")
  if not ok then
    errors.raise(event.status == 200 and "ProtocolError" or "ServerError",
      ("the answer to %s (HTTP %d) is not CBOR: %s"):format(method, event.status, tostring(response)),
      { status = event.status, method = method, cause = response }, 2)
  end
  return rpc.result_of(response, method)
end

--- `GET path`, returning the status and the body.
-- @usage local status, body = http:get("/version", 5)
function Http:get(path, timeout)
  local event = self:send("GET", path, {}, nil, timeout, "GET " .. path)
  return event.status, event.body
end

--- Nothing to release: connections belong to the core's pool of keep-alive connections.
function Http.close() end

return Http
