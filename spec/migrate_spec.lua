-- surrealdb.migrate: discovery, names, checksums, SurrealQL splitting, templates and schema-diff files
-- without a server (#unit); the runner against the real engine (#integration): round trips, drift,
-- rollback of failed migrations, non-transactional runs, the lock, dry runs and a data migration
-- through db:bulk(). The command-line tool is in migrate_cli_spec.lua.
local helper = require("spec.helper")
local surrealdb = require("surrealdb")
local migrate = require("surrealdb.migrate")
local sha256 = require("surrealdb.migrate.sha256")
local surql = require("surrealdb.migrate.surql")
local Lock = require("surrealdb.migrate.lock")

local write, read = helper.write_file, helper.read_file

describe("migrate: files #unit", function()
  local dir
  before_each(function() dir = helper.temp_dir("migrate_spec") end)
  after_each(function() helper.remove_dir(dir) end)

  it("hashes with SHA-256 (FIPS 180-4 test vectors, padding at every block border)", function()
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", sha256.hex("abc"))
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sha256.hex(""))
    assert.are.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      sha256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
    -- sha256sum of 55, 56, 63, 64 and 65 bytes of "x".
    local expected = { [55] = "d5e28568", [56] = "04c26261", [63] = "75220b47", [64] = "7ce10097", [65] = "9537c5fd" }
    for n, prefix in pairs(expected) do assert.are.equal(prefix, sha256.hex(("x"):rep(n)):sub(1, 8)) end
    assert.are.equal(32, #sha256.digest("abc"))
    assert.are.equal(sha256.hex("a\0b"), migrate.checksum("a\0b"))
  end)

  it("parses migration names", function()
    local m = migrate.parse_name("20250101090000_create_accounts.surql")
    assert.are.same({ version = "20250101090000", name = "create_accounts", id = "20250101090000_create_accounts",
      kind = "surql" }, m)
    assert.are.equal("lua", migrate.parse_name("20250101090000_x.lua").kind)
    assert.are.equal("down", migrate.parse_name("20250101090000_x.down.surql").kind)
    for _, bad in ipairs{ "2025_x.lua", "20250101090000-x.lua", "20250101090000_x.sql", "20251301090000_x.lua",
      "20250101250000_x.lua", "20250101090000_.lua", "20250101090000_a b.lua", "README.md" } do
      assert.is_nil(migrate.parse_name(bad), bad)
    end
  end)

  it("discovers a folder's migrations in version order with checksums of their bytes", function()
    write(dir .. "/20250102000000_b.lua", "return { up = function() end }")
    write(dir .. "/20250101000000_a.surql", "DEFINE TABLE a;")
    write(dir .. "/20250101000000_a.down.surql", "REMOVE TABLE a;")
    write(dir .. "/notes.txt", "not a migration")
    local warned = {}
    surrealdb.set_logger(function(level, message) warned[#warned + 1] = level .. ": " .. message end)
    write(dir .. "/2025_bad.lua", "")
    local list = migrate.discover(dir)
    surrealdb.set_logger(nil)
    assert.are.equal(2, #list)
    assert.are.equal("20250101000000_a", list[1].id)
    assert.are.equal(dir .. "/20250101000000_a.down.surql", list[1].down_path)
    assert.are.equal(sha256.hex("DEFINE TABLE a;"), list[1].checksum)
    assert.are.equal("lua", list[2].kind)
    assert.is_nil(list[2].down_path)
    assert.are.equal(1, #warned)
    assert.matches("2025_bad.lua", warned[1], 1, true)
  end)

  it("rejects two migrations of one version, a down file alone and a missing folder", function()
    write(dir .. "/20250101000000_a.surql", "")
    write(dir .. "/20250101000000_b.lua", "return { up = function() end }")
    helper.raises(function() migrate.discover(dir) end, "two migrations have the version 20250101000000")
    os.remove(dir .. "/20250101000000_b.lua")
    write(dir .. "/20250102000000_c.down.surql", "")
    helper.raises(function() migrate.discover(dir) end, "has no migration 20250102000000_c.surql")
    helper.raises(function() migrate.discover(dir .. "/nope") end, "does not exist")
  end)

  it("loads Lua migrations and names what is wrong with one", function()
    write(dir .. "/ok.lua", "return { description = 'd', up = function() end, down = function() end }")
    assert.are.equal("d", migrate.load(dir .. "/ok.lua").description)
    local cases = {
      { "return 1", "must return a table" },
      { "return {}", "up must be a function" },
      { "return { up = function() end, down = 1 }", "down must be a function" },
      { "return { up = function() end, transaction = 'no' }", "transaction must be true or false" },
      { "return {", "does not load" },
      { "error('boom')", "raised an error while loading" },
    }
    for i, case in ipairs(cases) do
      write(dir .. "/" .. i .. ".lua", case[1])
      helper.raises(function() migrate.load(dir .. "/" .. i .. ".lua") end, case[2])
    end
  end)

  it("splits SurrealQL at top-level semicolons only, with each statement's line", function()
    local text = table.concat({
      "-- a comment; with a semicolon",
      "DEFINE TABLE a; DEFINE FIELD b ON a TYPE string",
      "  ASSERT $value != 'x;y';",
      "/* block; comment */ CREATE a SET t = \"q;\\\"\";",
      "DEFINE FUNCTION fn::f() { LET $x = 1; RETURN $x; };",
      "CREATE ⟨odd;name⟩:1 SET `we;ird` = [1, 2];  # trailing",
      "-- only a comment at the end;",
    }, "\n")
    local statements = surql.split(text)
    local lines, texts = {}, {}
    for i, s in ipairs(statements) do lines[i], texts[i] = s.line, s.text end
    assert.are.same({ 2, 2, 4, 5, 6 }, lines)
    assert.are.equal(5, #statements)
    assert.matches("ASSERT $value != 'x;y'$", texts[2])
    assert.matches("RETURN $x; }$", texts[4])
    assert.matches("we;ird", texts[5], 1, true)
    helper.raises(function() surql.split("CREATE a SET b = 'open;") end, "quoted text opened on line 1")
    helper.raises(function() surql.split("\nIF true { CREATE a;") end, "opened on line 2")
    assert.is_true(surql.no_transaction("-- surreal-migrate: no-transaction\nDEFINE TABLE a;"))
    assert.is_false(surql.no_transaction("DEFINE TABLE a; -- surreal-migrate: no-transaction x"))
    assert.are.equal("BEGIN", surql.verb("-- x\n/* y */ begin transaction"))
  end)

  it("writes new migrations from templates with unique UTC versions", function()
    local now = os.time({ year = 2025, month = 3, day = 4, hour = 5, min = 6, sec = 7 })
    local first = migrate.create(dir, "add_thing", { now = now })
    local second = migrate.create(dir, "add_other", { now = now, surql = true })
    assert.are.equal(1, #first)
    assert.matches("/%d+_add_thing%.lua$", first[1])
    assert.are.equal(2, #second)
    assert.matches("%.down%.surql$", second[2])
    local list = migrate.discover(dir)
    assert.are.equal(2, #list)
    assert.are_not.equal(list[1].version, list[2].version)
    assert.is_function(migrate.load(first[1]).up)
    helper.raises(function() migrate.create(dir, "bad name") end, "letters, digits and _")
  end)

  it("writes a .surql migration from a schema diff of either shape, reverses in the opposite order", function()
    local paths = migrate.make({}, dir, "from_models", {}, { diff = function()
      return { up = { "DEFINE TABLE a", "DEFINE FIELD b ON a TYPE int;" }, down = { "REMOVE TABLE a" } }
    end, source = "models.lua" })
    assert.matches("made by surreal%-migrate make from models.lua", read(paths[1]))
    assert.matches("DEFINE TABLE a;\nDEFINE FIELD b ON a TYPE int;\n$", read(paths[1]))
    assert.matches("REMOVE TABLE a;\n$", read(paths[2]))
    paths = migrate.make({}, dir, "changes", {}, { now = os.time() + 10, diff = function()
      return { { statement = "DEFINE TABLE x", reverse = "REMOVE TABLE x" },
        { statement = "DEFINE FIELD y ON x TYPE int", reverse = "REMOVE FIELD y ON x" },
        { statement = "REMOVE FIELD z ON x" } }
    end })
    local down = read(paths[2])
    assert.is_truthy(down:find("THROW.-cannot be reversed.-\nREMOVE FIELD y ON x;\nREMOVE TABLE x;\n$"))
    assert.is_nil(migrate.make({}, dir, "nothing", {}, { diff = function() return {} end }))
    helper.raises(function() migrate.make({}, dir, "x", {}, { diff = false }) end, "needs orm.diff_schema")
  end)

  it("writes JSON", function()
    assert.are.equal('{"a":[1,2.5,"x\\n\\"y"],"b":true,"c":[],"d":null}',
      migrate.json({ a = { 1, 2.5, 'x\n"y' }, b = true, c = {}, d = surrealdb.null }))
    assert.are.equal('{"id":"x"}', migrate.json({ id = "x", migration = { secret = 1 }, record = {} }))
  end)
end)

describe("migrate: the runner #integration", function()
  local url = helper.server_url():gsub("^http", "ws")
  local db, dir, database

  local function connect(target)
    return surrealdb.connect(target or url, { namespace = "migrate_spec", database = database, timeout = 60 })
  end

  local function tables(client)
    local names = {}
    for name in pairs((client or db):query("INFO FOR DB").tables) do
      if not name:match("^_migrations") then names[#names + 1] = name end
    end
    table.sort(names)
    return names
  end

  local function records(client)
    return (client or db):query("SELECT * FROM _migrations ORDER BY applied_at, id")
  end

  local function runner(options)
    local events = {}
    options = options or {}
    options.dir = options.dir or dir
    options.on_event = function(event) events[#events + 1] = event end
    local r = migrate.new(options.client or db, (function()
      local o = {}
      for k, v in pairs(options) do if k ~= "client" then o[k] = v end end
      return o
    end)())
    r.events = events
    return r
  end

  local function states(status)
    local out = {}
    for _, m in ipairs(status.migrations) do out[#out + 1] = m.state end
    return out
  end

  before_each(function()
    database = helper.fresh_name("m")
    dir = helper.temp_dir("migrate_spec")
    db = connect()
  end)

  after_each(function()
    db:close()
    helper.remove_dir(dir)
  end)

  local function mixed_folder()
    write(dir .. "/20250101000000_person.surql",
      "DEFINE TABLE person SCHEMAFULL;\nDEFINE FIELD name ON person TYPE string;")
    write(dir .. "/20250101000000_person.down.surql", "REMOVE TABLE person;")
    write(dir .. "/20250102000000_seed.lua", [[
      return {
        description = "two people",
        up = function(db, ctx)
          assert(ctx.transactional and ctx.migration.direction == "up")
          ctx.helpers:insert_one("person", { id = "ann", name = "Ann" })
          db:create("person:bob", { name = "Bob" })
        end,
        down = function(db) db:query("DELETE person:ann, person:bob") end,
      }]])
    write(dir .. "/20250103000000_post.surql",
      "DEFINE TABLE post; DEFINE INDEX post_title ON post FIELDS title UNIQUE;")
    write(dir .. "/20250103000000_post.down.surql", "REMOVE TABLE post;")
  end

  it("applies, rolls back and redoes .surql and .lua migrations, recording each run", function()
    mixed_folder()
    local r = runner()
    assert.are.same({ "pending", "pending", "pending" }, states(r:status()))
    local result = r:up()
    assert.are.same({ "20250101000000_person", "20250102000000_seed", "20250103000000_post" }, result.applied)
    assert.are.same({ "person", "post" }, tables())
    assert.are.equal(2, #db:query("SELECT * FROM person"))
    assert.are.same({ "applied", "applied", "applied" }, states(r:status()))
    local recs = records()
    assert.are.equal(3, #recs)
    for _, rec in ipairs(recs) do
      assert.are.equal("up", rec.direction)
      assert.is_true(rec.complete)
      assert.are.equal(64, #rec.checksum)
      assert.are.equal(surrealdb.Duration, getmetatable(rec.duration))
      assert.are.equal(surrealdb.Datetime, getmetatable(rec.applied_at))
    end
    assert.are.same({}, r:up().applied)

    assert.are.same({ "20250103000000_post", "20250102000000_seed" }, r:down{ steps = 2 }.rolled_back)
    assert.are.same({ "person" }, tables())
    assert.are.equal(0, #db:query("SELECT * FROM person"))
    assert.are.same({ "applied", "pending", "pending" }, states(r:status()))
    assert.are.same({ "20250102000000_seed" }, r:up{ to = "20250102000000" }.applied)
    assert.are.same({ "applied", "applied", "pending" }, states(r:status()))
    r:up()
    local redo = r:redo{ steps = 2 }
    assert.are.same({ "20250103000000_post", "20250102000000_seed" }, redo.rolled_back)
    assert.are.same({ "20250102000000_seed", "20250103000000_post" }, redo.applied)
    assert.are.equal(2, #db:query("SELECT * FROM person"))
    assert.are.same({ "20250103000000_post", "20250102000000_seed" }, r:down{ to = "20250101000000" }.rolled_back)
    r:down()
    assert.are.same({}, tables())
    local directions = {}
    for _, rec in ipairs(records()) do directions[#directions + 1] = rec.direction end
    assert.are.equal("up,up,up,down,down,up,up,down,down,up,up,down,down,down", table.concat(directions, ","))
    helper.raises(function() r:up{ to = "20990101000000" } end, "names no migration")
  end)

  it("stops at a file changed after it was applied, unless allowed", function()
    mixed_folder()
    local r = runner()
    r:up{ to = "20250102000000" }
    write(dir .. "/20250101000000_person.surql", "DEFINE TABLE person SCHEMAFULL; -- edited")
    local err = helper.raises(function() r:up() end, "20250101000000_person.surql", "MigrationError")
    assert.are.equal("changed", err.kind)
    assert.are.same({ "changed", "applied", "pending" }, states(r:status()))
    helper.raises(function() r:verify() end, "changed since it was applied", "MigrationError")
    helper.raises(function() r:down{ steps = 2 } end, "--allow-changed", "MigrationError")
    assert.are.same({ "20250103000000_post" }, runner({ allow_changed = true }):up().applied)
    runner({ allow_changed = true }):verify()
    os.remove(dir .. "/20250103000000_post.surql")
    os.remove(dir .. "/20250103000000_post.down.surql")
    local status = runner({ allow_changed = true }):status()
    assert.are.equal("missing", status.migrations[3].state)
    helper.raises(function() runner({ allow_changed = true }):verify() end, "its file is gone", "MigrationError")
  end)

  it("rolls back a failing .surql migration with its record, naming the file, statement and line", function()
    write(dir .. "/20250101000000_ok.surql", "DEFINE TABLE kept;")
    write(dir .. "/20250102000000_bad.surql", table.concat({
      "DEFINE TABLE half SCHEMAFULL;",
      "DEFINE FIELD n ON half TYPE int;",
      "CREATE half:1 SET n = 1;",
      "-- the next one fails",
      "CREATE half:2 SET n = 'not a number';",
      "DEFINE TABLE never;",
    }, "\n"))
    local r = runner()
    local err = helper.raises(function() r:up() end, "20250102000000_bad.surql (up): statement 4 (line 5) failed",
      "MigrationError")
    assert.matches("CREATE half:2 SET n = 'not a number'", err.message, 1, true)
    assert.matches("rolled back", err.message, 1, true)
    assert.are.equal(4, err.statement)
    assert.are.same({ "kept" }, tables())
    local recs = records()
    assert.are.equal(1, #recs)
    assert.are.equal("20250101000000", recs[1].version)
    assert.are.same({ "applied", "pending" }, states(r:status()))
    -- A file that holds its own BEGIN is refused before anything runs.
    write(dir .. "/20250102000000_bad.surql", "BEGIN;\nDEFINE TABLE x;\nCOMMIT;")
    helper.raises(function() r:up() end, "statement 1 (line 1) is BEGIN", "MigrationError")
  end)

  it("rolls back a failing Lua migration: its writes, its DEFINEs and its record", function()
    write(dir .. "/20250101000000_fails.lua", [[
      return {
        up = function(db, ctx)
          db:query("DEFINE TABLE ledger; DEFINE INDEX ledger_n ON ledger FIELDS n")
          ctx.helpers:insert_many("ledger", { { n = 1 }, { n = 2 } })
          db:create("ledger:x", { n = 3 })
          error("the third step failed")
        end,
      }]])
    local err = helper.raises(function() runner():up() end, "the third step failed", "MigrationError")
    assert.matches("20250101000000_fails.lua (up) failed", err.message, 1, true)
    assert.are.same({}, tables())
    assert.are.equal(0, #records())
  end)

  it("says before it runs a Lua migration without a transaction, and records how far it got", function()
    write(dir .. "/20250101000000_data.lua", [[
      return {
        transaction = false,
        up = function(db, ctx)
          assert(not ctx.transactional)
          if not ctx.resume then
            db:query("DEFINE TABLE item")
            for i = 1, 3 do
              db:create("item:" .. i, { n = i })
              ctx.progress(i, 5)
            end
            error("disk full at item 4")
          end
          assert(ctx.resume.complete == false)
          for i = 4, 5 do db:create("item:" .. i, { n = i }) end
        end,
      }]])
    local r = runner()
    local err = helper.raises(function() r:up() end, "disk full at item 4", "MigrationError")
    assert.matches("not transactional", err.message, 1, true)
    local warned = false
    for _, event in ipairs(r.events) do
      if event.type == "warn" and event.message:find("runs without a transaction", 1, true) then warned = true end
      if event.type == "start" then assert.is_false(warned) end
    end
    assert.is_true(warned)
    local status = r:status()
    assert.are.equal("partial", status.migrations[1].state)
    assert.matches("disk full", status.migrations[1].error, 1, true)
    assert.are.equal(3, #db:query("SELECT * FROM item"))
    helper.raises(function() runner():up() end, "stopped part way", "MigrationError")
    assert.are.same({ "20250101000000_data" }, runner({ resume = true }):up().applied)
    assert.are.equal(5, #db:query("SELECT * FROM item"))
    assert.are.same({ "applied" }, states(r:status()))
  end)

  it("runs a no-transaction .surql file statement by statement and resumes after the last one done", function()
    write(dir .. "/20250101000000_steps.surql", table.concat({
      "-- surreal-migrate: no-transaction",
      "DEFINE TABLE step;",
      "CREATE step:1;",
      "THROW 'not yet';",
      "CREATE step:2;",
    }, "\n"))
    local r = runner()
    helper.raises(function() r:up() end, "statement 3 (line 4) failed", "MigrationError")
    local m = r:status().migrations[1]
    assert.are.equal("partial", m.state)
    assert.are.equal(2, m.step)
    assert.are.equal(4, m.steps)
    -- Fixed (same statement count): --resume runs statements 3 and 4 only; step:1 is not created twice.
    write(dir .. "/20250101000000_steps.surql", table.concat({
      "-- surreal-migrate: no-transaction",
      "DEFINE TABLE step;",
      "CREATE step:1;",
      "CREATE step:3;",
      "CREATE step:2;",
    }, "\n"))
    runner({ resume = true, allow_changed = true }):up()
    assert.are.equal(3, #db:query("SELECT * FROM step"))
  end)

  it("runs Lua migrations over HTTP without a transaction, and .surql ones in one", function()
    local http = connect(helper.server_url())
    write(dir .. "/20250101000000_a.surql", "DEFINE TABLE a; THROW 'no';")
    write(dir .. "/20250102000000_b.lua", "return { up = function(db) db:query('DEFINE TABLE b') end }")
    local r = runner({ client = http })
    helper.raises(function() r:up() end, "statement 2", "MigrationError")
    assert.are.same({}, tables(http))
    write(dir .. "/20250101000000_a.surql", "DEFINE TABLE a;")
    r:up()
    assert.are.same({ "a", "b" }, tables(http))
    local said
    for _, event in ipairs(r.events) do
      if event.type == "warn" and event.message:find("need a WebSocket", 1, true) then said = true end
    end
    assert.is_true(said)
    http:close()
  end)

  it("changes nothing in a dry run and says what would run", function()
    mixed_folder()
    local r = runner({ dry_run = true })
    local plan = r:up()
    assert.is_true(plan.dry_run)
    assert.are.equal(3, #plan.plan)
    assert.matches("apply 20250102000000_seed.lua %(one transaction%): two people", plan.plan[2])
    local lines = {}
    for _, event in ipairs(r.events) do lines[#lines + 1] = event.message end
    assert.matches("1 %(line 1%): DEFINE TABLE person SCHEMAFULL", table.concat(lines, "\n"))
    assert.are.same({}, tables())
    assert.has_error(function() db:query("SELECT * FROM _migrations") end)
    runner():up()
    assert.are.equal(2, #runner({ dry_run = true }):down{ steps = 2 }.plan)
    assert.are.equal(4, #runner({ dry_run = true }):redo{ steps = 2 }.plan)
    assert.are.same({ "person", "post" }, tables())
  end)

  it("lets one runner hold the lock; a second waits, then fails; an expired lock is taken over", function()
    local first = Lock.acquire(db, { table = "_spec", timeout = 1, ttl = 30 })
    local other = connect()
    local waited
    local started = require("surrealdb.runtime").now()
    local err = helper.raises(function()
      Lock.acquire(other, { table = "_spec", timeout = 0.4, on_wait = function(h) waited = h end })
    end, "another runner holds the migrations lock", "LockError")
    assert.is_true(require("surrealdb.runtime").now() - started >= 0.4)
    assert.are.equal(first.owner, waited.owner)
    assert.are.equal(first.owner, err.owner)
    first:release()
    local second = Lock.acquire(other, { table = "_spec", timeout = 1 })
    second:release()
    -- A crashed runner's lock: its expiry passed, so it is taken over, conditionally on its old owner.
    db:query("CREATE _spec_lock:lock SET owner = 'crashed:1', expires_at = time::now() - 1s")
    local taken
    local third = Lock.acquire(other, { table = "_spec", timeout = 1, on_takeover = function(h) taken = h end })
    assert.are.equal("crashed:1", taken.owner)
    local rec = db:query("SELECT * FROM ONLY _spec_lock:lock")
    assert.are.equal(third.owner, rec.owner)
    assert.are.equal("crashed:1", rec.taken_over_from)
    -- Renewal keeps a lock alive past its time to live while the holder waits on the server.
    third:release()
    local short = Lock.acquire(db, { table = "_spec", timeout = 1, ttl = 1 })
    require("surrealdb.runtime").sleep(1.5)
    short:check()
    helper.raises(function() Lock.acquire(other, { table = "_spec", timeout = 0.2 }) end, "holds", "LockError")
    short:release()
    assert.are.equal(0, #db:query("SELECT * FROM _spec_lock"))
    other:close()
  end)

  it("rolls back ctx.bulk() inside a Lua migration's transaction", function()
    write(dir .. "/20250101000000_bulk.lua", [[
      return {
        up = function(db, ctx)
          db:query("DEFINE TABLE chunk")
          local result = ctx.bulk{ batch_size = 100 }:insert("chunk", (function()
            local n = 0
            return function() n = n + 1; if n <= 1000 then return { n = n } end end
          end)())
          assert(result.success_count == 1000)
          assert(#db:query("SELECT * FROM chunk") == 1000)
          if not ctx.resume then error("after the bulk") end
        end,
      }]])
    helper.raises(function() runner():up() end, "after the bulk", "MigrationError")
    assert.are.same({}, tables())
    assert.are.equal(0, #records())
  end)

  it("runs a data migration of 200,000 rows through db:bulk(), reporting progress", function()
    write(dir .. "/20250101000000_reading.surql", "DEFINE TABLE reading SCHEMAFULL; DEFINE FIELD v ON reading TYPE int;"
      .. " DEFINE FIELD sensor ON reading TYPE string;")
    write(dir .. "/20250102000000_import.lua", [[
      return {
        transaction = false,
        up = function(db, ctx)
          local n = 0
          local result = ctx.bulk{ ids = "generate" }:insert("reading", function()
            n = n + 1
            if n <= 200000 then return { v = n, sensor = "s" .. (n % 16) } end
          end)
          ctx.log("%d rows", result.success_count)
        end,
        down = function(db) db:query("DELETE reading") end,
      }]])
    local r = runner()
    r:up()
    local count = db:query("SELECT count() FROM reading GROUP ALL")[1].count
    assert.are.equal(200000, count)
    local progress = 0
    for _, event in ipairs(r.events) do
      if event.type == "progress" then progress = math.max(progress, event.done) end
    end
    assert.are.equal(200000, progress)
    assert.are.same({ "applied", "applied" }, states(r:status()))
  end)

  it("writes a migration from model changes with orm.diff_schema", function()
    local orm = require("surrealdb.orm")
    local f = require("surrealdb.orm.fields")
    local Person = orm.model("person", { name = f.String{ required = true } }, { db = db })
    local paths = migrate.make(db, dir, "add_person", { Person })
    assert.are.equal(2, #paths)
    local r = runner()
    r:up()
    assert.are.same({ "person" }, tables())
    local Person2 = orm.model("person", { name = f.String{ required = true }, age = f.Int() }, { db = db })
    local more = migrate.make(db, dir, "add_age", { Person2 }, { now = os.time() + 5 })
    assert.matches("age", read(more[1]))
    r:up()
    assert.is_nil(migrate.make(db, dir, "nothing", { Person2 }))
    r:down()
    assert.is_nil(db:query("INFO FOR TABLE person").fields.age)
  end)
end)
