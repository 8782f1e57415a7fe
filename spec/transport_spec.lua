-- The transport of the C core: loop objects, HTTP through libcurl's multi interface, WebSocket
-- connections, events, timeouts, cancellation and every way a connection can fail.
-- Integration parts run against the server at SURREAL_URL (the dev server under `make test`); the
-- fixtures that misbehave on purpose (a listener that never answers, a TLS proxy) are small node
-- programs started here.
local helper = require("spec.helper")
local core = require("surrealdb.core")
local cbor = require("surrealdb.cbor")

local clock = core.clock_monotonic

-- Polls until an event satisfies `pred`; returns it and every event seen. Fails after `timeout`.
local function wait_for(loop, pred, timeout)
  local deadline = clock() + (timeout or 10)
  local seen = {}
  while clock() < deadline do
    for _, ev in ipairs(loop:poll(math.max(0, math.min(0.5, deadline - clock())))) do
      seen[#seen + 1] = ev
      if pred(ev) then return ev, seen end
    end
  end
  error("no matching event within " .. tostring(timeout or 10) .. " s", 2)
end

-- Polls for `seconds` and returns every event.
local function drain(loop, seconds)
  local deadline = clock() + seconds
  local seen = {}
  repeat
    for _, ev in ipairs(loop:poll(math.max(0, deadline - clock()))) do seen[#seen + 1] = ev end
  until clock() >= deadline
  return seen
end

local function http_event(id)
  return function(ev) return ev.type == "http" and ev.id == id end
end

local function conn_event(conn, kind)
  local id = conn:id()
  return function(ev) return ev.conn == id and (kind == nil or ev.type == kind) end
end

-- Raises with a { kind, message } table whose kind is `kind`.
local function raises_kind(kind, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.are.equal("table", type(err), tostring(err))
  assert.are.equal(kind, err.kind)
  return err
end

local spawn_node = helper.spawn_node

-- The live C objects of the transport once the collector has run all finalizers.
local function settled_stats()
  collectgarbage()
  collectgarbage()
  return core.transport_stats()
end

-- Accepts connections and never answers (nor closes them).
local SILENT = [[
const net = require("net");
const sockets = [];
const server = net.createServer((s) => { s.on("error", () => {}); sockets.push(s); });
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
setTimeout(() => process.exit(0), 120000);
]]

-- Terminates TLS and forwards the bytes to a plain TCP port (the dev server).
local TLS_PROXY = [[
const net = require("net"), tls = require("tls"), fs = require("fs");
const [target, cert, key] = process.argv.slice(1);
const server = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (s) => {
  const c = net.connect(Number(target), "127.0.0.1");
  s.on("error", () => c.destroy()); c.on("error", () => s.destroy());
  s.pipe(c); c.pipe(s);
});
server.on("tlsClientError", () => {});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
setTimeout(() => process.exit(0), 120000);
]]

local function rpc_body(id, method, params)
  return cbor.encode({ id = id, method = method, params = params })
end

local CBOR_HEADERS = { ["Content-Type"] = "application/cbor", Accept = "application/cbor" }

describe("transport loop", function()
  it("is created, closed twice, and then refuses to work", function()
    local loop = core.loop_new()
    assert.matches("surrealdb.core.loop %(open%)", tostring(loop))
    assert.are.same({ 0, 0 }, { loop:active() })
    loop:close()
    loop:close()
    assert.matches("%(closed%)", tostring(loop))
    raises_kind("closed", function() loop:poll(0) end)
    raises_kind("closed", function() loop:http_request({ url = "http://127.0.0.1:1/" }) end)
    raises_kind("closed", function() loop:ws_connect({ url = "ws://127.0.0.1:1/" }) end)
  end)

  it("closes as a to-be-closed variable and when collected", function()
    do
      local loop <close> = core.loop_new()
      loop:http_request({ url = "http://127.0.0.1:1/" })
    end
    local loop = core.loop_new()
    loop:http_request({ url = "http://127.0.0.1:1/" })
    loop = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
  end)

  it("does not block on poll(0) nor when nothing is in flight", function()
    local loop <close> = core.loop_new()
    local t0 = clock()
    assert.are.same({}, loop:poll(0))
    assert.are.same({}, loop:poll())
    -- Blocking would mean waiting forever: any bound far below that proves it returned at once.
    assert.is_true(clock() - t0 < 1)
  end)

  it("waits the timeout on an idle loop, and not much longer", function()
    local loop <close> = core.loop_new()
    local t0 = clock()
    assert.are.same({}, loop:poll(0.2))
    local elapsed = clock() - t0
    assert.is_true(elapsed >= 0.19 and elapsed < 2, "poll waited " .. elapsed .. " s")
  end)

  it("lives beside other loops: two loops do not see each other's events", function()
    local a <close> = core.loop_new()
    local b <close> = core.loop_new()
    local id = a:http_request({ url = "http://127.0.0.1:1/" })
    wait_for(a, http_event(id))
    assert.are.same({}, b:poll(0))
  end)

  it("checks its arguments", function()
    local loop <close> = core.loop_new()
    assert.has_error(function() loop:http_request() end)
    assert.has_error(function() loop:http_request({}) end, "bad option 'url' (string expected, got nil)")
    assert.has_error(function() loop:http_request({ url = "ftp://x/" }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", method = "BREW" }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", body = 5 }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", max_response = -1 }) end,
      "bad option 'max_response' (a byte count >= 0 expected)")
    assert.has_error(function() loop:ws_connect({ url = "ws://x/", max_message = 0 }) end,
      "bad option 'max_message' (a byte count >= 1 expected)")
    assert.has_error(function() loop:ws_connect({ url = "ftp://x/" }) end,
      "bad option 'url' (a ws:// or wss:// URL expected, got ftp://x/)")
    assert.has_error(function() loop:http_request({ url = "http://x/", headers = { A = "b\r\nc: d" } }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", headers = { ["A B"] = "c" } }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", headers = { 1 } }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", timeout = -1 }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", timeout = "soon" }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", max_response = 1.5 }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", tls = { ca_file = 1 } }) end)
    assert.has_error(function() loop:http_request({ url = "http://x/", tls = { insecure = "yes" } }) end)
    assert.has_error(function() loop:ws_connect({ url = "http://x/" }) end)
    assert.has_error(function() loop:ws_connect({ url = "ws://x/", protocols = "a b" }) end)
    assert.has_error(function() loop:ws_connect({ url = "ws://x/", protocols = { "ok", "" } }) end)
    assert.has_error(function() loop:ws_connect({ url = "ws://x/", protocols = "" }) end)
    assert.has_error(function() loop:ws_connect({ url = "ws://x/", max_message = 0 }) end)
    assert.has_error(function() loop:poll(-1) end)
    assert.has_error(function() loop:cancel("x") end)
    assert.are.same({ 0, 0 }, { loop:active() })
  end)

  it("reports a refused HTTP connection as kind connect", function()
    local loop <close> = core.loop_new()
    local id = loop:http_request({ url = "http://127.0.0.1:1/" })
    assert.are.same({ 1, 0 }, { loop:active() })
    local ev = wait_for(loop, http_event(id))
    assert.are.equal("connect", ev.error.kind)
    assert.matches("onnect", ev.error.message)
    assert.is_nil(ev.status)
    assert.are.same({ 0, 0 }, { loop:active() })
  end)

  it("reports a refused WebSocket connection with a ws_close of kind connect", function()
    local loop <close> = core.loop_new()
    local conn = loop:ws_connect({ url = "ws://127.0.0.1:1/rpc", protocols = "cbor" })
    assert.are.equal("connecting", conn:state())
    local ev = wait_for(loop, conn_event(conn))
    assert.are.equal("ws_close", ev.type)
    assert.are.equal(1006, ev.code)
    assert.are.equal("connect", ev.error.kind)
    assert.are.equal("closed", conn:state())
    raises_kind("closed", function() conn:send("x") end)
    assert.is_false(conn:close())
  end)

  it("cancels a request: its answer never surfaces", function()
    local loop <close> = core.loop_new()
    local id = loop:http_request({ url = "http://127.0.0.1:1/" })
    assert.is_true(loop:cancel(id))
    assert.is_false(loop:cancel(id))
    assert.is_false(loop:cancel(123456))
    for _, ev in ipairs(drain(loop, 0.2)) do assert.are_not.equal(id, ev.id) end
  end)

  it("drops an answer that is already queued when its request is cancelled", function()
    local loop <close> = core.loop_new()
    local a = loop:http_request({ url = "http://127.0.0.1:1/" })
    local b = loop:http_request({ url = "http://127.0.0.1:1/" })
    -- Taking one event at a time leaves the other answer queued (both connects are refused in
    -- the same turn of the loop; if not, the request is cancelled in flight, which must hold too).
    local first
    repeat first = loop:poll(0.5, 1)[1] until first
    local other = first.id == a and b or a
    assert.is_true(loop:cancel(other))
    assert.is_false(loop:cancel(other))
    for _, ev in ipairs(drain(loop, 0.2)) do assert.are_not.equal(other, ev.id) end
  end)

  it("returns at most max_events events per poll and keeps the rest queued", function()
    local loop <close> = core.loop_new()
    local ids = {}
    for _ = 1, 3 do ids[loop:http_request({ url = "http://127.0.0.1:1/" })] = true end
    local got = {}
    local deadline = clock() + 5
    while #got < 3 and clock() < deadline do
      local events = loop:poll(0.5, 1)
      assert.is_true(#events <= 1)
      for _, ev in ipairs(events) do got[#got + 1] = ev.id end
    end
    assert.are.equal(3, #got)
    for _, id in ipairs(got) do assert.is_true(ids[id]) end
    assert.has_error(function() loop:poll(0, 0) end)
  end)
end)

describe("transport memory", function()
  it("gives back every C object: loops, requests, connections, events", function()
    local before = settled_stats()
    do
      local loop = core.loop_new()
      local ids = {}
      for i = 1, 5 do ids[i] = loop:http_request({ url = "http://127.0.0.1:1/" }) end
      loop:cancel(ids[1])
      local conn = loop:ws_connect({ url = "ws://127.0.0.1:1/", protocols = "cbor" }) -- luacheck: ignore 231
      local during = core.transport_stats()
      assert.are.equal(before.loops + 1, during.loops)
      assert.are.equal(before.requests + 4, during.requests)
      assert.are.equal(before.connections + 1, during.connections)
      loop:poll(0.2, 2) -- some events taken, some left queued
      conn = nil -- luacheck: ignore 311
      loop:ws_connect({ url = "ws://127.0.0.1:1/" }) -- dropped at once
      loop:close()
      local collected = core.loop_new() -- closed by the collector only
      collected:http_request({ url = "http://127.0.0.1:1/" })
      collected:ws_connect({ url = "ws://127.0.0.1:1/" })
    end
    assert.are.same(before, settled_stats())
  end)
end)

describe("transport under finalizers and metamethods that reenter the loop", function()
  -- Building Lua values may run the collector, hence finalizers: arbitrary code that may close,
  -- cancel or poll the loop while the C code is in the middle of a call on it.
  it("survives finalizers that close, cancel or poll while poll builds its events", function()
    collectgarbage("incremental", 0, 1000) -- a collector that never rests
    finally(function() collectgarbage("incremental", 200, 100) end) -- Lua's defaults
    local deferred_closes, refused = 0, 0
    -- When a finalizer runs depends on the collector's pace, which depends on how large the heap is
    -- (larger after other specs): go on past 90 rounds until the case happened, within a bound.
    local round = 0
    repeat
      round = round + 1
      local loop = core.loop_new()
      local ids = {}
      for i = 1, 20 do ids[i] = loop:http_request({ url = "http://127.0.0.1:1/" }) end
      local deadline = clock() + 5
      while loop:active() > 0 and clock() < deadline do loop:poll(0.05, 1) end
      local mode = round % 3
      for _ = 1, 30 do
        setmetatable({}, { __gc = function()
          if mode == 0 then
            pcall(loop.close, loop)
          elseif mode == 1 then
            for _, id in ipairs(ids) do pcall(loop.cancel, loop, id) end
          elseif not pcall(loop.poll, loop, 0) then
            refused = refused + 1
          end
        end })
      end
      local ok, events = pcall(loop.poll, loop, 0)
      if ok then
        assert.are.equal("table", type(events))
        if mode == 0 and not pcall(loop.active, loop) then deferred_closes = deferred_closes + 1 end
      else
        assert.are.equal("closed", events.kind) -- a finalizer closed it before poll began
      end
      pcall(loop.close, loop)
    until (round >= 90 and deferred_closes + refused > 0) or round >= 3000
    assert.is_true(deferred_closes + refused > 0, "no finalizer ran during a poll")
  end)

  it("notices a loop closed by an options table's metamethod", function()
    local loop = core.loop_new()
    local options = setmetatable({ url = "http://127.0.0.1:1/" }, {
      __index = function(_, key) if key == "tls" then loop:close() end end,
    })
    raises_kind("closed", function() loop:http_request(options) end)
    loop = core.loop_new()
    options = setmetatable({ url = "ws://127.0.0.1:1/" }, {
      __index = function(_, key) if key == "tls" then loop:close() end end,
    })
    raises_kind("closed", function() loop:ws_connect(options) end)
    collectgarbage()
  end)
end)

describe("transport inside a luv host #integration", function()
  local ok, uv = pcall(require, "luv")

  it("is driven by luv through loop:fd() and loop:timeout(), beside luv's own handles", function()
    if not ok then
      pending("luv is not installed (apt-get install lua-luv)")
      return
    end
    local base = helper.server_url()
    local loop <close> = core.loop_new()
    assert.is_nil(loop:timeout()) -- idle: nothing for the host to wait for
    assert.are.equal("number", math.type(loop:fd()) and "number")
    local conn = loop:ws_connect({ url = base:gsub("^http", "ws") .. "/rpc", protocols = "cbor" })
    for _ = 1, 20 do loop:http_request({ url = base .. "/version" }) end
    local http, messages, wakeups = 0, 0, 0
    local watcher, timer = uv.new_poll(loop:fd()), uv.new_timer()
    local function tick()
      wakeups = wakeups + 1
      for _, ev in ipairs(loop:poll(0)) do
        if ev.type == "http" then http = http + 1 end
        if ev.type == "ws_open" then
          for i = 1, 10 do conn:send(rpc_body(i, "ping", {})) end
        end
        if ev.type == "ws_message" then messages = messages + 1 end
      end
      if http == 20 and messages == 10 then
        watcher:stop()
        timer:stop()
        return
      end
      local t = loop:timeout()
      if t then timer:start(math.ceil(t * 1000), 0, tick) end
    end
    watcher:start("r", tick)
    local ticker = uv.new_timer() -- a handle of the host's own, unaffected by ours
    local host_ticks = 0
    ticker:start(1, 1, function() host_ticks = host_ticks + 1 end)
    local guard = uv.new_timer()
    guard:start(10000, 0, function() watcher:stop(); timer:stop(); ticker:stop() end)
    tick()
    while http < 20 or messages < 10 do
      if not uv.run("once") then break end
    end
    for _, h in ipairs({ watcher, timer, ticker, guard }) do h:close() end
    uv.run()
    assert.are.equal(20, http)
    assert.are.equal(10, messages)
    assert.is_true(host_ticks > 0)
    assert.is_true(wakeups < 500, wakeups .. " wakeups: the host should not spin")
    conn:close()
  end)
end)

describe("transport over HTTP #integration", function()
  local base, loop

  before_each(function()
    base = helper.server_url()
    loop = core.loop_new()
  end)

  after_each(function()
    loop:close()
  end)

  local function request(options)
    local id = loop:http_request(options)
    return wait_for(loop, http_event(id))
  end

  it("GETs /health and /version with status, headers and body", function()
    local health = request({ url = base .. "/health" })
    assert.are.equal(200, health.status)
    assert.are.equal("table", type(health.headers))
    local version = request({ url = base .. "/version", method = "GET" })
    assert.are.equal(200, version.status)
    assert.matches("^surrealdb%-", version.body)
    assert.matches("^text/plain", version.headers["content-type"])
    assert.are.equal(tostring(#version.body), version.headers["content-length"])
  end)

  it("POSTs a hand-made CBOR ping to /rpc", function()
    -- {"id": 1, "method": "ping"}
    local body = "\162\98id\1\102method\100ping"
    local ev = request({ url = base .. "/rpc", method = "POST", body = body, headers = CBOR_HEADERS })
    assert.are.equal(200, ev.status)
    assert.are.equal("application/cbor", ev.headers["content-type"])
    local answer = cbor.decode(ev.body)
    assert.are.equal(1, answer.id)
    assert.is_nil(answer.error)
  end)

  it("carries 100 requests in flight at once and answers each under its own id", function()
    local ids = {}
    for i = 1, 100 do
      local id = loop:http_request({ url = base .. "/rpc", body = rpc_body(i, "query", { "RETURN " .. i }),
        headers = CBOR_HEADERS, timeout = 20 })
      ids[id] = i
    end
    assert.are.equal(100, (loop:active()))
    local got = 0
    while got < 100 do
      for _, ev in ipairs(loop:poll(5)) do
        local i = assert(ids[ev.id], "unexpected event")
        ids[ev.id] = nil
        assert.are.equal(200, ev.status, ev.error and ev.error.message)
        local answer = cbor.decode(ev.body)
        assert.are.equal(i, answer.id)
        assert.are.equal(i, answer.result[1].result)
        got = got + 1
      end
    end
    assert.are.same({ 0, 0 }, { loop:active() })
  end)

  it("sends bodies of several MiB (no 100-continue round trip)", function()
    local big = ("x"):rep(3 * 1024 * 1024)
    local ev = request({ url = base .. "/rpc", body = rpc_body(1, "query", { "RETURN string::len($s)", { s = big } }),
      headers = CBOR_HEADERS, timeout = 20 })
    assert.are.equal(200, ev.status)
    assert.are.equal(#big, cbor.decode(ev.body).result[1].result)
  end)

  it("enforces the request timeout in C (kind timeout)", function()
    local t0 = clock()
    local ev = request({ url = base .. "/rpc", body = rpc_body(1, "query", { "SLEEP 2s" }),
      headers = CBOR_HEADERS, timeout = 0.5 })
    local elapsed = clock() - t0
    assert.are.equal("timeout", ev.error.kind)
    -- Without the timeout the answer would come after the 2 s sleep.
    assert.is_true(elapsed >= 0.45 and elapsed < 1.9, "took " .. elapsed .. " s")
  end)

  it("times out against a listener that never answers", function()
    local silent = spawn_node(SILENT)
    finally(silent.stop)
    local t0 = clock()
    local ev = request({ url = "http://127.0.0.1:" .. silent.port .. "/", timeout = 0.3 })
    assert.are.equal("timeout", ev.error.kind)
    assert.is_true(clock() - t0 < 5)
  end)

  it("ends a long poll as soon as a timer produces an event (no wait for the poll's timeout)", function()
    local silent = spawn_node(SILENT)
    finally(silent.stop)
    local id = loop:http_request({ url = "http://127.0.0.1:" .. silent.port .. "/", timeout = 0.2 })
    local conn = loop:ws_connect({ url = "ws://127.0.0.1:" .. silent.port .. "/", connect_timeout = 0.2 })
    local t0 = clock()
    local seen = {}
    while #seen < 2 and clock() - t0 < 10 do
      for _, ev in ipairs(loop:poll(5)) do seen[#seen + 1] = ev end
    end
    local elapsed = clock() - t0
    assert.are.equal(2, #seen)
    -- The bug this guards against made each poll wait its whole 5 s.
    assert.is_true(elapsed < 4, "the events came after " .. elapsed .. " s")
    for _, ev in ipairs(seen) do
      assert.is_true(ev.id == id or ev.conn == conn:id())
      assert.are.equal("timeout", ev.error.kind)
    end
  end)

  it("answers 300 sequential requests on one keep-alive connection without stalls", function()
    -- A stall is a poll that waits its whole 5 s timeout although the answer is there.
    for i = 1, 300 do
      local t0 = clock()
      local id = loop:http_request({ url = base .. "/rpc", body = rpc_body(i, "ping", {}), headers = CBOR_HEADERS })
      local events = loop:poll(5)
      assert.are.equal(1, #events)
      assert.are.equal(id, events[1].id)
      assert.are.equal(200, events[1].status)
      local elapsed = clock() - t0
      assert.is_true(elapsed < 4, ("request %d took %.2f s: poll stalled"):format(i, elapsed))
    end
  end)

  it("fails every request in flight on a connection that goes away (kind reset)", function()
    local silent = spawn_node(SILENT)
    local ids = {}
    for _ = 1, 5 do
      ids[loop:http_request({ url = "http://127.0.0.1:" .. silent.port .. "/", timeout = 10 })] = true
    end
    drain(loop, 0.3) -- connected and waiting
    silent.stop()
    local n = 0
    while n < 5 do
      for _, ev in ipairs(loop:poll(5)) do
        assert.is_true(ids[ev.id])
        assert.are.equal("reset", ev.error.kind, ev.error.message)
        n = n + 1
      end
    end
  end)

  it("cancels a request in flight: its answer never surfaces", function()
    local id = loop:http_request({ url = base .. "/rpc", body = rpc_body(1, "query", { "SLEEP 300ms" }),
      headers = CBOR_HEADERS })
    local other = loop:http_request({ url = base .. "/version" })
    assert.is_true(loop:cancel(id))
    local seen = {}
    for _, ev in ipairs(drain(loop, 0.6)) do seen[ev.id] = true end
    assert.is_nil(seen[id])
    assert.is_true(seen[other])
  end)

  it("guards memory with max_response (kind too_large)", function()
    local ev = request({ url = base .. "/version", max_response = 4 })
    assert.are.equal("too_large", ev.error.kind)
    local ok = request({ url = base .. "/version", max_response = 64 })
    assert.are.equal(200, ok.status)
  end)

  it("reports HTTP error statuses as responses, not errors", function()
    local ev = request({ url = base .. "/no/such/path" })
    assert.is_nil(ev.error)
    assert.is_true(ev.status >= 400)
  end)

  it("aborts requests in flight when the loop closes, and leaks nothing", function()
    loop:close()
    local before = settled_stats()
    loop = core.loop_new()
    for i = 1, 20 do
      loop:http_request({ url = base .. "/rpc", body = rpc_body(i, "query", { "SLEEP 100ms" }),
        headers = CBOR_HEADERS })
    end
    loop:poll(0.05)
    loop:close()
    assert.are.same(before, settled_stats())
    loop = core.loop_new() -- for after_each
  end)
end)

describe("transport over WebSocket #integration", function()
  local base, loop

  before_each(function()
    base = helper.server_url():gsub("^http", "ws")
    loop = core.loop_new()
  end)

  after_each(function()
    loop:close()
  end)

  local function open(options)
    options = options or {}
    options.url = options.url or base .. "/rpc"
    if options.protocols == nil then options.protocols = "cbor" end
    local conn = loop:ws_connect(options)
    local ev = wait_for(loop, conn_event(conn))
    assert.are.equal("ws_open", ev.type, ev.error and ev.error.message)
    return conn, ev
  end

  local function call(conn, id, method, params, timeout)
    conn:send(rpc_body(id, method, params))
    local ev = wait_for(loop, function(e)
      if e.conn ~= conn:id() then return false end
      assert.are.equal("ws_message", e.type, e.error and e.error.message)
      return true
    end, timeout)
    local answer = cbor.decode(ev.data)
    assert.are.equal(id, answer.id)
    return answer
  end

  it("opens with the cbor subprotocol, answers a ping RPC, and closes cleanly", function()
    local conn, opened = open()
    assert.are.equal("cbor", opened.protocol)
    assert.are.equal("open", conn:state())
    assert.are.equal("number", math.type(conn:id()) and "number")
    assert.matches("surrealdb.core.ws %d+ %(open%)", tostring(conn))
    local answer = call(conn, 1, "ping", {})
    assert.is_nil(answer.error)
    assert.is_true(conn:close(1000, "bye"))
    assert.is_false(conn:close())
    assert.are.equal("closing", conn:state())
    local closed = wait_for(loop, conn_event(conn, "ws_close"))
    assert.are.equal(1000, closed.code)
    assert.is_nil(closed.error)
    assert.are.equal("closed", conn:state())
    raises_kind("closed", function() conn:send("x") end)
    raises_kind("closed", function() conn:ping() end)
  end)

  it("answers pings with pongs", function()
    local conn = open()
    conn:ping("hello")
    local pong = wait_for(loop, conn_event(conn, "ws_pong"))
    assert.are.equal("hello", pong.data)
    conn:close()
  end)

  it("refuses to send before the connection is open (kind not_open)", function()
    local conn = loop:ws_connect({ url = base .. "/rpc", protocols = "cbor" })
    raises_kind("not_open", function() conn:send("x") end)
    wait_for(loop, conn_event(conn, "ws_open"))
    conn:close()
  end)

  it("carries a 10 MiB message each way", function()
    local conn = open()
    local big = ("0123456789abcdef"):rep(10 * 1024 * 1024 // 16)
    local answer = call(conn, 1, "query", { "RETURN $s", { s = big } }, 30)
    assert.are.equal(big, answer.result[1].result)
    conn:close()
  end)

  it("carries 200 requests in flight on one connection", function()
    local conn = open()
    for i = 1, 200 do conn:send(rpc_body(i, "query", { "RETURN " .. i })) end
    local seen = {}
    local n = 0
    while n < 200 do
      for _, ev in ipairs(loop:poll(5)) do
        assert.are.equal("ws_message", ev.type)
        local answer = cbor.decode(ev.data)
        assert.is_nil(seen[answer.id])
        seen[answer.id] = true
        assert.are.equal(answer.id, answer.result[1].result)
        n = n + 1
      end
    end
    assert.are.equal(0, conn:buffered())
    conn:close()
  end)

  it("closes with 1009 and kind too_large when a message exceeds max_message", function()
    local conn = open({ max_message = 1024 })
    conn:send(rpc_body(1, "query", { "RETURN $s", { s = ("x"):rep(4096) } }))
    local ev = wait_for(loop, conn_event(conn, "ws_close"))
    assert.are.equal(1009, ev.code)
    assert.are.equal("too_large", ev.error.kind)
  end)

  it("fails the handshake on a path that is not a WebSocket endpoint (kind handshake)", function()
    local conn = loop:ws_connect({ url = base .. "/health", protocols = "cbor" })
    local ev = wait_for(loop, conn_event(conn))
    assert.are.equal("ws_close", ev.type)
    assert.are.equal("handshake", ev.error.kind)
    assert.matches("HTTP %d+", ev.error.message)
  end)

  it("fails the handshake when the server accepts none of the subprotocols", function()
    local conn = loop:ws_connect({ url = base .. "/rpc", protocols = { "no-such-protocol" } })
    local ev = wait_for(loop, conn_event(conn))
    assert.are.equal("ws_close", ev.type)
    assert.are.equal("handshake", ev.error.kind)
  end)

  it("times out a handshake nobody answers (kind timeout)", function()
    local silent = spawn_node(SILENT)
    finally(silent.stop)
    local t0 = clock()
    local conn = loop:ws_connect({ url = "ws://127.0.0.1:" .. silent.port .. "/rpc", connect_timeout = 0.3 })
    local ev = wait_for(loop, conn_event(conn))
    assert.are.equal("ws_close", ev.type)
    assert.are.equal("timeout", ev.error.kind)
    assert.is_true(clock() - t0 < 5)
  end)

  it("closes during requests in flight: the close event still comes", function()
    local conn = open({ close_timeout = 3 })
    for i = 1, 5 do conn:send(rpc_body(i, "query", { "SLEEP 200ms" })) end
    conn:close()
    local ev = wait_for(loop, conn_event(conn, "ws_close"), 5)
    assert.is_true(ev.code == 1000 or (ev.error and ev.error.kind == "timeout"))
  end)

  it("closes a to-be-closed connection, and drops a collected one with an event", function()
    local id
    do
      local conn <close> = open()
      id = conn:id()
    end
    local ev = wait_for(loop, function(e) return e.conn == id and e.type == "ws_close" end)
    assert.are.equal(1000, ev.code)

    local conn = open()
    id = conn:id()
    conn = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    ev = wait_for(loop, function(e) return e.conn == id and e.type == "ws_close" end)
    assert.are.equal("closed", ev.error.kind)
  end)

  it("gives back every C object after open, collected-while-open and failed connections", function()
    loop:close()
    local before = settled_stats()
    loop = core.loop_new()
    local conn = open()
    call(conn, 1, "ping", {})
    conn:close()
    wait_for(loop, conn_event(conn, "ws_close"))
    local dropped = open()
    local id = dropped:id()
    dropped = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    wait_for(loop, function(e) return e.conn == id and e.type == "ws_close" end)
    local small = open({ max_message = 16 })
    small:send(rpc_body(1, "query", { "RETURN $s", { s = ("x"):rep(100) } }))
    wait_for(loop, conn_event(small, "ws_close"))
    local busy = open()
    busy:send(rpc_body(1, "query", { "SLEEP 50ms" }))
    loop:close() -- with the connection open and a request in flight
    conn, small, busy = nil, nil, nil -- luacheck: ignore 311
    assert.are.same(before, settled_stats())
    loop = core.loop_new()
  end)

  it("tears connections down when the loop closes, also with requests in flight", function()
    local conn = open()
    conn:send(rpc_body(1, "query", { "SLEEP 100ms" }))
    local connecting = loop:ws_connect({ url = base .. "/rpc", protocols = "cbor" })
    loop:close()
    assert.are.equal("closed", conn:state())
    assert.are.equal("closed", connecting:state())
    raises_kind("closed", function() conn:send("x") end)
    loop = core.loop_new()
  end)

  describe("through TLS", function()
    local proxy, dir, cert

    setup(function()
      dir = helper.temp_dir("transport_tls")
      cert = dir .. "/cert.pem"
      local command = ("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        .. "-keyout %s -out %s -days 1 -subj /CN=localhost "
        .. "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1")
        :format(helper.shell_quote(dir .. "/key.pem"), helper.shell_quote(cert))
      assert(os.execute(command), "openssl could not make a certificate")
      local port = helper.server_url():match(":(%d+)")
      proxy = spawn_node(TLS_PROXY, port, cert, dir .. "/key.pem")
    end)

    teardown(function()
      if proxy then proxy.stop() end
      helper.remove_dir(dir)
    end)

    it("speaks HTTPS and WSS with a trusted certificate (tls.ca_file)", function()
      local id = loop:http_request({ url = "https://127.0.0.1:" .. proxy.port .. "/version", tls = { ca_file = cert } })
      local ev = wait_for(loop, http_event(id))
      assert.are.equal(200, ev.status, ev.error and ev.error.message)
      local conn = open({ url = "wss://127.0.0.1:" .. proxy.port .. "/rpc", tls = { ca_file = cert } })
      assert.is_nil(call(conn, 1, "ping", {}).error)
      local big = ("z"):rep(1024 * 1024)
      assert.are.equal(big, call(conn, 2, "query", { "RETURN $s", { s = big } }, 20).result[1].result)
      conn:close()
      assert.are.equal(1000, wait_for(loop, conn_event(conn, "ws_close")).code)
    end)

    it("rejects an untrusted certificate (kind tls) unless insecure", function()
      local id = loop:http_request({ url = "https://127.0.0.1:" .. proxy.port .. "/version",
        tls = { ca_file = "/etc/ssl/certs/ca-certificates.crt" } })
      assert.are.equal("tls", wait_for(loop, http_event(id)).error.kind)
      local conn = loop:ws_connect({ url = "wss://127.0.0.1:" .. proxy.port .. "/rpc", protocols = "cbor" })
      local ev = wait_for(loop, conn_event(conn))
      assert.are.equal("ws_close", ev.type)
      assert.are.equal("tls", ev.error.kind)
      local open_conn = open({ url = "wss://127.0.0.1:" .. proxy.port .. "/rpc", tls = { insecure = true } })
      open_conn:close()
    end)

    it("reports TLS against a plain HTTP port as kind tls", function()
      local id = loop:http_request({ url = helper.server_url():gsub("^http:", "https:") .. "/health" })
      assert.are.equal("tls", wait_for(loop, http_event(id)).error.kind)
    end)

    it("fails a WebSocket whose connection is cut with 1006 and kind reset", function()
      local port = helper.server_url():match(":(%d+)")
      local own = spawn_node(TLS_PROXY, port, cert, dir .. "/key.pem")
      local conn = open({ url = "wss://127.0.0.1:" .. own.port .. "/rpc", tls = { ca_file = cert } })
      for i = 1, 3 do conn:send(rpc_body(i, "query", { "SLEEP 2s" })) end
      drain(loop, 0.2)
      own.stop()
      local ev = wait_for(loop, conn_event(conn, "ws_close"))
      assert.are.equal(1006, ev.code)
      assert.are.equal("reset", ev.error.kind)
    end)
  end)
end)
