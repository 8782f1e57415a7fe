-- Integration: a dropped WebSocket is rebuilt with backoff and its session replayed; a half-open
-- socket is found by the pong timeout. The faults come from a TCP proxy in front of the server
-- (helper.fault_proxy): it cuts every connection, or freezes the traffic.
local helper = require("spec.helper")
local surrealdb = require("surrealdb")
local errors = surrealdb.errors

local direct_url = helper.server_url():gsub("^http", "ws")

describe("client reconnection #integration", function()
  local proxy, db, observer
  local database

  before_each(function()
    proxy = helper.fault_proxy()
    database = helper.fresh_name("reconnect")
    observer = surrealdb.connect(direct_url, { namespace = "spec", database = database, timeout = 10 })
    observer:query("DEFINE TABLE person SCHEMALESS")
  end)

  after_each(function()
    if db then db:close() end
    observer:close()
    proxy.stop()
    db = nil
  end)

  local function connect_through_proxy(options)
    local opts = { namespace = "spec", database = database, timeout = 10,
      reconnect = { delay = 0.05, max_delay = 0.2 } }
    for k, v in pairs(options or {}) do opts[k] = v end
    return surrealdb.connect(("ws://127.0.0.1:%d"):format(proxy.port), opts)
  end

  it("reconnects after a cut and replays namespace, database and variables", function()
    db = connect_through_proxy()
    db:let("answer", 42)
    proxy.cut()
    -- The client notices a cut only when it reads the close.
    helper.wait_until(function()
      local status = db:pool_status()
      return status.connections[1].state ~= "open" or status.reconnects == 1
    end, 5, "the client to notice the cut")
    -- A call made while it reconnects waits for the new connection and runs in the replayed session.
    assert.are.equal(42, db:query("RETURN $answer"))
    db:create("person:after_cut", { ok = true })
    assert.is_true(observer:select("person:after_cut").ok)
    assert.are.equal(1, db:pool_status().reconnects)
  end)

  it("fails the calls in flight with a ConnectionError: their outcome is unknown", function()
    db = connect_through_proxy()
    local task = surrealdb.spawn(function() return db:query("SLEEP 2s; RETURN 1") end)
    surrealdb.spawn(function()
      surrealdb.poll(0.2)
      proxy.cut()
    end)
    local ok, err = pcall(task.result)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "ConnectionError"), tostring(err))
    assert.are.equal(1, db:query("RETURN 1"))
  end)

  it("restarts live queries and reports the gap as one RESYNC note", function()
    db = connect_through_proxy()
    local live = db:live("person")
    local first_id = live.id
    proxy.cut()
    local note = live:next(5)
    assert.is_not_nil(note, "no note after the reconnection")
    assert.are.equal("RESYNC", note.action)
    assert.are_not.equal(first_id, live.id)
    observer:create("person:seen_after", { n = 1 })
    note = live:next(5)
    assert.is_not_nil(note)
    assert.are.equal("CREATE", note.action)
    assert.are.equal(1, note.result.n)
  end)

  it("gives up after the configured attempts", function()
    db = connect_through_proxy({ reconnect = { delay = 0.05, max_delay = 0.1, attempts = 2 } })
    proxy.stop()
    helper.wait_until(function() return db:is_closed() end, 5, "the client to give up")
    local ok, err = pcall(db.query, db, "RETURN 1")
    assert.is_false(ok)
    assert.is_true(errors.is(err, "ConnectionError"))
    assert.matches("could not reconnect", err.message)
    assert.is_true(db:is_closed())
  end)

  it("finds a half-open socket through the pong timeout", function()
    db = connect_through_proxy({ ping_interval = 0.2, pong_timeout = 0.3, reconnect = false })
    assert.are.equal(1, db:query("RETURN 1"))
    proxy.freeze()
    -- Without the pong check the call would end with a TimeoutError after 10 s.
    local ok, err = pcall(db.query, db, "RETURN 2")
    assert.is_false(ok)
    assert.is_true(errors.is(err, "ConnectionError"), tostring(err))
    assert.are.equal("pong_timeout", err.kind)
  end)
end)
