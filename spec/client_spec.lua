-- Integration: every client method over HTTP and over WebSocket, against the real engine.
local helper = require("spec.helper")
local surrealdb = require("surrealdb")
local errors = surrealdb.errors

local base = helper.server_url()
local schemes = {
  http = base,
  ws = (base:gsub("^http", "ws")),
}

for scheme, url in pairs(schemes) do
  describe("client over " .. scheme .. " #integration", function()
    local db

    before_each(function()
      db = surrealdb.connect(url, { timeout = 10 })
      helper.use_fresh_database(db, "client")
    end)

    after_each(function()
      if db then db:close() end
    end)

    it("reports health and version", function()
      assert.is_true(db:health())
      assert.matches("^surrealdb%-%d+%.%d+%.%d+", db:version())
    end)

    it("creates, selects, updates, merges, upserts and deletes records", function()
      local ann = surrealdb.RecordID("person", "ann")
      local created = db:create(ann, { name = "Ann", age = 30 })
      assert.are.equal(ann, created.id)
      assert.are.equal(30, created.age)

      local read = db:select("person:ann")
      assert.are.equal("Ann", read.name)

      db:update(ann, { name = "Ann", age = 31 })
      assert.are.equal(31, db:select(ann).age)

      db:merge(ann, { city = "Paris" })
      local merged = db:select(ann)
      assert.are.equal("Paris", merged.city)
      assert.are.equal(31, merged.age)

      db:upsert("person:bob", { name = "Bob" })
      assert.are.equal(2, #db:select("person"))

      db:patch(ann, { { op = "replace", path = "/age", value = 40 } })
      assert.are.equal(40, db:select(ann).age)

      db:delete(ann)
      assert.are.equal(1, #db:select("person"))
    end)

    it("creates with a random id when given a table (the server answers with an array)", function()
      local created = db:create("thing", { n = 1 })
      assert.are.equal(1, #created)
      created = created[1]
      assert.are.equal("thing", created.id.tb)
      assert.are.equal("string", type(created.id.id))
    end)

    it("inserts many rows and relates records", function()
      local rows = db:insert("person", {
        { id = surrealdb.RecordID("person", "a"), name = "A" },
        { id = surrealdb.RecordID("person", "b"), name = "B" },
      })
      assert.are.equal(2, #rows)
      local edge = db:relate("person:a", "knows", "person:b", { since = 2020 })
      local e = edge[1] or edge
      assert.are.equal(surrealdb.RecordID("person", "a"), e["in"])
      assert.are.equal(surrealdb.RecordID("person", "b"), e.out)
      local related = db:insert_relation("knows", { ["in"] = surrealdb.RecordID("person", "b"),
        out = surrealdb.RecordID("person", "a") })
      assert.is_table(related)
      local names = db:query("SELECT VALUE ->knows->person.name FROM ONLY person:a")
      assert.are.same({ "B" }, names)
    end)

    it("binds variables instead of pasting them into the query", function()
      local evil = "x'; DELETE person; --"
      db:create("person:ann", { name = "Ann" })
      local rows = db:query("SELECT * FROM person WHERE name = $name", { name = evil })
      assert.are.equal(0, #rows)
      assert.are.equal(1, #db:select("person"))
    end)

    it("returns every statement's result in order", function()
      local a, b, c = db:query("RETURN 1; RETURN 'two'; RETURN [3]")
      assert.are.equal(1, a)
      assert.are.equal("two", b)
      assert.are.same({ 3 }, { c[1] })
    end)

    it("raises a QueryError that carries all statement results", function()
      local ok, err = pcall(db.query, db, "RETURN 1; THROW 'boom'; RETURN 3")
      assert.is_false(ok)
      assert.is_true(errors.is(err, "QueryError"))
      assert.are.equal(2, err.statement)
      assert.matches("boom", err.message)
      assert.are.equal(3, #err.results)
      assert.are.equal("OK", err.results[1].status)
      local raw = db:query_raw("RETURN 1; THROW 'boom'")
      assert.are.equal("ERR", raw[2].status)
    end)

    it("keeps variables set with let and drops them with unset", function()
      db:let("min", 18)
      assert.are.equal(18, db:query("RETURN $min"))
      assert.are.equal(20, db:query("RETURN $min + $extra", { extra = 2 }))
      db:unset("min")
      assert.are.equal(surrealdb.NONE, db:query("RETURN $min"))
    end)

    it("switches namespace and database with use", function()
      db:create("person:ann", { name = "Ann" })
      local other = helper.use_fresh_database(db, "client")
      -- SurrealDB 3 raises NotFound for a table that does not exist in this database.
      local ok, err = pcall(db.select, db, "person")
      assert.is_false(ok)
      assert.are.equal("NotFound", err.kind)
      local state = db:use(nil, other)
      assert.are.equal("spec", state.namespace)
      assert.are.equal(other, state.database)
    end)

    it("exports the database and imports it into another, values intact", function()
      db:create("person:ann", { name = "Ann", at = surrealdb.Datetime.parse("2024-02-29T12:30:00.123456789Z"),
        balance = surrealdb.Decimal("12.50"), tags = surrealdb.Set({ "a", "b" }) })
      local sql = db:export()
      assert.matches("person", sql)
      local source = db:select("person:ann")
      helper.use_fresh_database(db, "client")
      local results = db:import(sql)
      assert.is_table(results)
      assert.are.same(source, db:select("person:ann"))
      local ok, err = pcall(db.import, db, "CREATE person:x SET ; nonsense")
      assert.is_false(ok)
      assert.is_true(errors.is(err, "QueryError"), tostring(err))
      assert.matches("import failed", err.message)
    end)

    it("runs functions", function()
      assert.are.equal(5, db:run("string::len", nil, { "hello" }))
    end)

    it("signs in with real credentials and rejects wrong ones", function()
      db:query("DEFINE USER IF NOT EXISTS spec_root ON ROOT PASSWORD 'secret-pw' ROLES OWNER")
      local token = db:signin({ username = "spec_root", password = "secret-pw" })
      assert.is_string(token)
      local ok, err = pcall(db.signin, db, { username = "spec_root", password = "wrong-pw" })
      assert.is_false(ok)
      assert.is_true(errors.is(err, "AuthError"))
      assert.is_nil(tostring(err):find("wrong-pw", 1, true))
      local other = surrealdb.connect(url, { auth = { token = token }, timeout = 10 })
      assert.is_true(other:health())
      other:close()
      db:invalidate()
    end)

    it("signs up and in through a record access method whose permissions hide other users' rows", function()
      db:query([[
        DEFINE TABLE user SCHEMAFULL PERMISSIONS FOR select, update WHERE id = $auth.id;
        DEFINE FIELD email ON user TYPE string;
        DEFINE FIELD pass ON user TYPE string;
        DEFINE ACCESS account ON DATABASE TYPE RECORD
          SIGNUP (CREATE user SET email = $email, pass = crypto::argon2::generate($pass))
          SIGNIN (SELECT * FROM user WHERE email = $email AND crypto::argon2::compare(pass, $pass))
          DURATION FOR SESSION 1h;
      ]])
      local state = db:use()
      local function account(email, pass)
        return { namespace = state.namespace, database = state.database, access = "account",
          variables = { email = email, pass = pass } }
      end
      local ann = surrealdb.connect(url, { timeout = 10 })
      local token = ann:signup(account("ann@example.com", "ann-secret"))
      assert.is_string(token)
      local bob = surrealdb.connect(url, { timeout = 10 })
      bob:signup(account("bob@example.com", "bob-secret"))

      -- Each record user sees only their own row.
      local seen = ann:query("SELECT email FROM user")
      assert.are.equal(1, #seen)
      assert.are.equal("ann@example.com", seen[1].email)
      ann:close()

      local again = surrealdb.connect(url, { timeout = 10 })
      again:signin(account("bob@example.com", "bob-secret"))
      local rows = again:query("SELECT email FROM user")
      assert.are.equal(1, #rows)
      assert.are.equal("bob@example.com", rows[1].email)
      local ok, err = pcall(again.signin, again, account("bob@example.com", "wrong-secret"))
      assert.is_false(ok)
      assert.is_true(errors.is(err, "AuthError"), tostring(err))
      assert.is_nil(tostring(err):find("wrong-secret", 1, true))
      again:close()
      bob:close()
    end)

    it("runs 1,000 concurrent queries from coroutines on one client", function()
      local fns = {}
      for i = 1, 1000 do
        fns[i] = function() return db:query("RETURN $i * 2", { i = i }) end
      end
      local results = surrealdb.gather(fns)
      assert.are.equal(1000, #results)
      for i = 1, 1000 do assert.are.equal(i * 2, results[i]) end
    end)

    it("validates arguments", function()
      local ok, err = pcall(db.select, db, 42)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "ValidationError"))
      ok, err = pcall(db.query, db, nil)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "ValidationError"))
    end)

    it("fails calls on a closed client", function()
      db:close()
      local ok, err = pcall(db.select, db, "person")
      assert.is_false(ok)
      assert.is_true(errors.is(err, "ConnectionError"))
      db = nil
    end)

    it("times out a slow request and stays usable", function()
      local ok, err = pcall(db.query, db, "SLEEP 2s", nil, { timeout = 0.3 })
      assert.is_false(ok)
      assert.is_true(errors.is(err, "TimeoutError"))
      assert.are.equal(1, db:query("RETURN 1"))
    end)

    it("runs many calls concurrently in spawned tasks", function()
      local fns = {}
      for i = 1, 20 do
        fns[i] = function() return db:query("RETURN $i", { i = i }) end
      end
      local results = surrealdb.gather(fns)
      for i = 1, 20 do assert.are.equal(i, results[i]) end
    end)
  end)
end

describe("client over ws only #integration", function()
  local db
  before_each(function()
    db = surrealdb.connect(schemes.ws, { timeout = 10 })
    helper.use_fresh_database(db, "client")
  end)
  after_each(function() db:close() end)

  it("streams live notifications and stops on kill", function()
    db:query("DEFINE TABLE person SCHEMALESS")
    local live = db:live("person")
    db:create("person:ann", { name = "Ann" })
    local note = live:next(5)
    assert.is_not_nil(note)
    assert.are.equal("CREATE", note.action)
    assert.are.equal("Ann", note.result.name)
    db:merge("person:ann", { age = 3 })
    note = live:next(5)
    assert.are.equal("UPDATE", note.action)
    assert.are.equal(3, note.result.age)
    db:delete("person:ann")
    note = live:next(5)
    assert.are.equal("DELETE", note.action)
    assert.are.equal(surrealdb.RecordID("person", "ann"), note.record)
    live:kill()
    assert.is_nil(live:next(0.2))
  end)

  it("commits and cancels transactions", function()
    db:transaction(function(tx)
      tx:query("CREATE account:a SET balance = 10")
    end)
    assert.are.equal(10, db:select("account:a").balance)
    local ok = pcall(db.transaction, db, function(tx)
      tx:query("UPDATE account:a SET balance = 0")
      error("abort")
    end)
    assert.is_false(ok)
    assert.are.equal(10, db:select("account:a").balance)
  end)

  it("refreshes tokens and revokes a refresh token", function()
    db:query([[
      DEFINE TABLE user SCHEMALESS PERMISSIONS FOR select WHERE id = $auth.id;
      DEFINE ACCESS account ON DATABASE TYPE RECORD
        SIGNUP (CREATE user SET email = $email)
        SIGNIN (SELECT * FROM user WHERE email = $email)
        WITH REFRESH
        DURATION FOR GRANT 1d, FOR TOKEN 1h, FOR SESSION 1h;
    ]])
    local state = db:use()
    local user = surrealdb.connect(schemes.ws, { timeout = 10 })
    user:signup({ namespace = state.namespace, database = state.database, access = "account",
      variables = { email = "ann@example.com" } })
    local first = { access = user.state.token, refresh = user.state.refresh_token }
    assert.is_string(first.refresh)
    local tokens = user:refresh()
    assert.is_string(tokens.access)
    assert.are_not.equal(first.refresh, tokens.refresh)
    assert.are.equal("ann@example.com", user:query("SELECT VALUE email FROM user")[1])
    user:revoke()
    local ok, err = pcall(user.refresh, user, tokens)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "SurrealError"), tostring(err))
    user:close()
  end)

  it("raises when unread live notifications overflow the buffer", function()
    db:query("DEFINE TABLE person SCHEMALESS")
    local live = db:live("person", { buffer = 2 })
    for i = 1, 4 do db:create(surrealdb.RecordID("person", i), { n = i }) end
    -- Notifications come asynchronously: run the loop until the third one overflowed the buffer.
    local deadline = os.time() + 5
    while not live.overflowed and os.time() <= deadline do surrealdb.poll(0.05) end
    assert.are.equal("CREATE", live:next(1).action)
    assert.are.equal("CREATE", live:next(1).action)
    local ok, err = pcall(live.next, live, 1)
    assert.is_false(ok)
    assert.matches("dropped notifications", err.message)
    live:kill()
  end)

  it("refuses live queries over http", function()
    local http = surrealdb.connect(schemes.http)
    local ok, err = pcall(http.live, http, "person")
    assert.is_false(ok)
    assert.is_true(errors.is(err, "ValidationError"))
    http:close()
  end)
end)

describe("connect", function()
  it("rejects a bad URL", function()
    local ok, err = pcall(surrealdb.connect, "ftp://x")
    assert.is_false(ok)
    assert.is_true(errors.is(err, "ValidationError"))
  end)

  it("rejects retry, reconnect and pool options of the wrong kind, naming them, before connecting", function()
    for _, case in ipairs({
      { { retry = { max_retries = "3" } }, "retry.max_retries must be an integer >= 0, got 3" },
      { { retry = { max_retries = 1.5 } }, "retry.max_retries must be an integer" },
      { { retry = { base_delay = -1 } }, "retry.base_delay must be a number >= 0, got %-1" },
      { { retry = { jitter = 0.5 } }, "retry.jitter must be true or false" },
      { { reconnect = { jitter = 2 } }, "reconnect.jitter must be a number from 0 to 1, got 2" },
      { { reconnect = { max_delay = 0 / 0 } }, "reconnect.max_delay must be a number >= 0" },
      { { pool = { size = 0.5 } }, "pool.size must be an integer" },
      { { pool = { health_interval = "1s" } }, "pool.health_interval must be a number >= 0" },
      { { retry = { tries = 3 } }, "retry has no option \"tries\"" },
    }) do
      local ok, err = pcall(surrealdb.connect, "ws://127.0.0.1:1", case[1])
      assert.is_false(ok)
      assert.is_true(errors.is(err, "ValidationError"), tostring(err))
      assert.matches(case[2], err.message)
    end
  end)

  it("fails with a ConnectionError when nothing listens", function()
    local ok, err = pcall(surrealdb.connect, "ws://127.0.0.1:1", { connect_timeout = 2 })
    assert.is_false(ok)
    assert.is_true(errors.is(err, "ConnectionError"))
    local http = surrealdb.connect("http://127.0.0.1:1", { connect_timeout = 2 })
    ok, err = pcall(http.version, http)
    assert.is_false(ok)
    assert.is_true(errors.is(err, "ConnectionError"))
  end)
end)
