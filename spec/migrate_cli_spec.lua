-- scripts/surreal-migrate, run as a separate process as a user runs it: commands, settings from flags,
-- environment and config file, exit codes, messages, JSON, dry runs, two runners at once, a killed
-- runner's lock, Ctrl-C, progress lines, `make`, and the examples folder end to end.
local helper = require("spec.helper")
local surrealdb = require("surrealdb")
local cjson = require("cjson")

local pwd = io.popen("pwd")
local ROOT = pwd:read("l")
pwd:close()
local SCRIPT = ROOT .. "/scripts/surreal-migrate"
local q = helper.shell_quote
local write = helper.write_file

-- The shell command that runs the tool in `cwd` with `args` and extra environment `env`. It starts with
-- `env` (which changes the folder too), so the sanitizer run's wrapper can put `env -u LD_PRELOAD` before it.
local function command(cwd, args, env, env_option)
  local parts = { "env", "-C", q(cwd), "-u", "SURREAL_USER", "-u", "SURREAL_PASS", "-u", "SURREAL_TOKEN" }
  if env_option then parts[#parts + 1] = env_option end
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. q(v) end
  parts[#parts + 1] = "lua5.4"
  parts[#parts + 1] = q(SCRIPT)
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

-- Run the tool; returns its output (standard output and error) and exit code.
local function run(cwd, args, env)
  local pipe = assert(io.popen(command(cwd, args, env) .. " 2>&1; echo \"exit=$?\""))
  local out = pipe:read("a")
  pipe:close()
  local code = tonumber(out:match("exit=(%d+)\n$"))
  return out:gsub("exit=%d+\n$", ""), code
end

-- Start the tool in the background; returns `{ pid =, wait = function() -> output, code }`.
local function start(cwd, args, env, env_option)
  local out_file = os.tmpname()
  local script = command(cwd, args, env, env_option) .. " >" .. q(out_file) .. " 2>&1; echo \"exit=$?\" >>"
    .. q(out_file)
  local pipe = assert(io.popen(("sh -c %s & echo $!"):format(q(script))))
  local sh_pid = pipe:read("l")
  pipe:close()
  local process = { sh_pid = sh_pid }
  function process.output()
    local f = io.open(out_file)
    local text = f and f:read("a") or ""
    if f then f:close() end
    return text
  end
  function process.wait(limit)
    local deadline = os.time() + (limit or 30)
    while os.time() <= deadline do
      local text = process.output()
      local code = text:match("exit=(%d+)\n$")
      if code then
        os.remove(out_file)
        return text:gsub("exit=%d+\n$", ""), tonumber(code)
      end
      require("surrealdb.runtime").sleep(0.05)
    end
    error("the tool did not finish in time; its output:\n" .. process.output())
  end
  -- The lua process: the child of the shell started above.
  function process.lua_pid()
    for _ = 1, 100 do
      local p = io.popen("pgrep -P " .. sh_pid .. " lua5.4")
      local pid = p:read("l")
      p:close()
      if pid then return pid end
      require("surrealdb.runtime").sleep(0.02)
    end
    error("no lua process under " .. sh_pid)
  end
  return process
end

describe("surreal-migrate #integration", function()
  local dir, env, db

  before_each(function()
    dir = helper.temp_dir("migrate_cli")
    assert(os.execute("mkdir " .. q(dir .. "/migrations")))
    env = { SURREAL_NS = "migrate_cli", SURREAL_DB = helper.fresh_name("c") }
    db = surrealdb.connect(helper.server_url():gsub("^http", "ws"), { namespace = env.SURREAL_NS,
      database = env.SURREAL_DB })
  end)

  after_each(function()
    db:close()
    helper.remove_dir(dir)
  end)

  local function ups()
    local ok, rows = pcall(db.query, db, "SELECT * FROM _migrations WHERE direction = 'up'")
    return ok and #rows or 0
  end

  local function lock_taken()
    local ok, rows = pcall(db.query, db, "SELECT * FROM _migrations_lock")
    return ok and #rows > 0
  end

  it("writes new migrations from templates", function()
    local out, code = run(dir, { "new", "add_people" })
    assert.are.equal(0, code, out)
    assert.matches("created migrations/%d+_add_people%.lua", out)
    out, code = run(dir, { "new", "add_index", "--surql" })
    assert.are.equal(0, code, out)
    assert.matches("created migrations/%d+_add_index%.surql\ncreated migrations/%d+_add_index%.down%.surql", out)
    out, code = run(dir, { "status" }, env)
    assert.are.equal(0, code, out)
    assert.matches("0 applied, 2 pending", out, 1, true)
  end)

  it("exits 2 on usage and configuration errors, naming what is wrong", function()
    local cases = {
      { {}, "usage: surreal-migrate" },
      { { "fly" }, "unknown command \"fly\"" },
      { { "up", "--fast" }, "unknown option --fast" },
      { { "up", "--steps" }, "--steps needs a value" },
      { { "down", "--steps", "two" }, "--steps expects a whole number" },
      { { "down", "--steps", "1", "--to", "x" }, "give --steps or --to, not both" },
      { { "new" }, "new needs a NAME" },
      { { "new", "bad name" }, "letters, digits and _" },
      { { "up", "--to", "20990101000000" }, "names no migration" },
      { { "make", "x" }, "make needs --models" },
      { { "up", "--config", "nope.lua" }, "cannot be read" },
    }
    for _, case in ipairs(cases) do
      local out, code = run(dir, case[1], env)
      assert.are.equal(2, code, table.concat(case[1], " ") .. ": " .. out)
      assert.matches(case[2], out, 1, true)
    end
    local out, code = run(dir, { "status" }, { SURREAL_NS = "x" })
    assert.are.equal(2, code)
    assert.matches("set the namespace and database", out, 1, true)
  end)

  it("never prints a password: a failed sign-in is exit 2, credentials in a URL are refused", function()
    local secret = "s3cret-Pa55-XYZ"
    local out, code = run(dir, { "status", "--user", "root", "--pass", secret }, env)
    assert.are.equal(2, code, out)
    assert.matches("signing in to ws://", out, 1, true)
    assert.is_nil(out:find(secret, 1, true))
    out, code = run(dir, { "status" }, { SURREAL_NS = "a", SURREAL_DB = "b", SURREAL_USER = "root",
      SURREAL_PASS = secret })
    assert.are.equal(2, code, out)
    assert.is_nil(out:find(secret, 1, true))
    out, code = run(dir, { "status", "--url", "ws://root:" .. secret .. "@127.0.0.1:1" }, env)
    assert.are.equal(2, code, out)
    assert.is_nil(out:find(secret, 1, true))
    assert.matches("holds credentials", out, 1, true)
  end)

  it("applies, reports, rolls back and verifies, with exit codes 0 and 1 and JSON output", function()
    write(dir .. "/migrations/20250101000000_a.surql", "DEFINE TABLE a;")
    write(dir .. "/migrations/20250101000000_a.down.surql", "REMOVE TABLE a;")
    write(dir .. "/migrations/20250102000000_b.lua",
      "return { description = 'table b', up = function(db) db:query('DEFINE TABLE b') end,"
      .. " down = function(db) db:query('REMOVE TABLE b') end }")
    write(dir .. "/migrations/20250103000000_c.surql", "DEFINE TABLE c;\nCREATE c:1 SET n = <int> 'x';")
    local out, code = run(dir, { "up", "--to", "20250102000000_b" }, env)
    assert.are.equal(0, code, out)
    assert.matches("2 migration(s) applied", out, 1, true)
    out, code = run(dir, { "up" }, env)
    assert.are.equal(1, code, out)
    assert.matches("migrations/20250103000000_c.surql (up): statement 2 (line 2) failed", out, 1, true)
    assert.matches("CREATE c:1 SET n = <int> 'x'", out, 1, true)
    out, code = run(dir, { "status", "--json" }, env)
    assert.are.equal(0, code, out)
    local status = cjson.decode(out)
    assert.are.equal(2, status.applied)
    assert.are.equal(1, status.pending)
    assert.are.equal("applied", status.migrations[2].state)
    assert.are.equal("pending", status.migrations[3].state)
    assert.are.equal(64, #status.migrations[1].checksum)
    assert.is_string(status.migrations[1].applied_at)
    out, code = run(dir, { "down", "--json" }, env)
    assert.are.equal(0, code, out)
    local last_line = out:match("([^\n]*)\n$")
    assert.are.same({ "20250102000000_b" }, cjson.decode(last_line).rolled_back)
    out, code = run(dir, { "verify" }, env)
    assert.are.equal(0, code, out)
    write(dir .. "/migrations/20250101000000_a.surql", "DEFINE TABLE a; -- changed")
    out, code = run(dir, { "verify", "--json" }, env)
    assert.are.equal(1, code, out)
    local verified = cjson.decode(out)
    assert.is_false(verified.ok)
    assert.matches("20250101000000_a.surql changed", verified.problems[1], 1, true)
    out, code = run(dir, { "up" }, env)
    assert.are.equal(1, code)
    assert.matches("--allow-changed", out, 1, true)
  end)

  it("reads settings from surreal-migrate.lua, overridden by the environment, overridden by flags", function()
    os.execute("mkdir -p " .. q(dir .. "/db/m"))
    write(dir .. "/db/m/20250101000000_a.surql", "DEFINE TABLE a;")
    write(dir .. "/surreal-migrate.lua", ("return { ns = %q, db = 'from_config', dir = 'db/m' }"):format(
      env.SURREAL_NS))
    local out, code = run(dir, { "up" }, { SURREAL_DB = env.SURREAL_DB })
    assert.are.equal(0, code, out)
    assert.are.equal(1, ups())
    out = run(dir, { "status", "--db", "other_" .. env.SURREAL_DB }, { SURREAL_DB = env.SURREAL_DB })
    assert.matches("0 applied, 1 pending", out, 1, true)
    write(dir .. "/surreal-migrate.lua", "return { database = 'x' }")
    out, code = run(dir, { "status" })
    assert.are.equal(2, code)
    assert.matches("unknown setting \"database\"", out, 1, true)
  end)

  it("changes nothing with --dry-run and prints what would run", function()
    write(dir .. "/migrations/20250101000000_a.surql", "DEFINE TABLE a;\nDEFINE FIELD x ON a TYPE int;")
    write(dir .. "/migrations/20250102000000_b.lua", "return { transaction = false, up = function() end }")
    local out, code = run(dir, { "up", "--dry-run" }, env)
    assert.are.equal(0, code, out)
    assert.matches("apply 20250101000000_a.surql (one transaction)\n  1 (line 1): DEFINE TABLE a\n"
      .. "  2 (line 2): DEFINE FIELD x ON a TYPE int\napply 20250102000000_b.lua (NOT transactional", out, 1, true)
    assert.are.equal(0, ups())
    assert.is_false(lock_taken())
  end)

  it("lets exactly one of two runners started at once apply; a short --lock-timeout exits 3", function()
    write(dir .. "/migrations/20250101000000_slow.lua", [[
      return { up = function(db)
        db:query("DEFINE TABLE slow")
        require("surrealdb.runtime").sleep(1.5)
      end }]])
    local a = start(dir, { "up" }, env)
    local b = start(dir, { "up" }, env)
    local out_a, code_a = a.wait()
    local out_b, code_b = b.wait()
    assert.are.equal(0, code_a, out_a)
    assert.are.equal(0, code_b, out_b)
    local both = out_a .. out_b
    assert.are.equal(1, select(2, both:gsub("1 migration%(s%) applied", "")), both)
    assert.matches("nothing to apply", both, 1, true)
    assert.matches("waiting for the migrations lock held by", both, 1, true)
    assert.are.equal(1, ups())

    write(dir .. "/migrations/20250102000000_slow2.lua", [[
      return { up = function(db) require("surrealdb.runtime").sleep(1.5) end }]])
    local c = start(dir, { "up" }, env)
    helper.wait_until(lock_taken, 10, "the first runner's lock")
    local out, code = run(dir, { "up", "--lock-timeout", "0.3" }, env)
    assert.are.equal(3, code, out)
    assert.matches("another runner holds the migrations lock", out, 1, true)
    assert.are.equal(0, select(2, c.wait()))
    assert.are.equal(2, ups())
  end)

  it("takes over the lock of a killed runner once it expires; the killed one's migration left nothing", function()
    write(dir .. "/migrations/20250101000000_long.lua", [[
      return { up = function(db)
        db:query("DEFINE TABLE long; CREATE long:1")
        require("surrealdb.runtime").sleep(30)
      end }]])
    local a = start(dir, { "up", "--lock-ttl", "1" }, env)
    helper.wait_until(lock_taken, 10, "the first runner's lock")
    require("surrealdb.runtime").sleep(1.2) -- past its time to live: the lock lives on because it is renewed
    local out, code = run(dir, { "up", "--lock-timeout", "0.2" }, env)
    assert.are.equal(3, code, out)
    assert.is_true(os.execute("kill -9 " .. a.lua_pid()))
    local _, killed_code = a.wait()
    assert.are.equal(137, killed_code)
    out, code = run(dir, { "up", "--lock-timeout", "10", "--dry-run" }, env)
    assert.are.equal(0, code, out)
    write(dir .. "/migrations/20250101000000_long.lua", [[
      return { up = function(db) db:query("DEFINE TABLE long; CREATE long:2") end }]])
    out, code = run(dir, { "up", "--lock-timeout", "10" }, env)
    assert.are.equal(0, code, out)
    assert.matches("took over the expired migrations lock", out, 1, true)
    assert.are.equal(1, ups())
    local rows = db:query("SELECT * FROM long")
    assert.are.equal(1, #rows)
    assert.are.equal("long:2", tostring(rows[1].id))
  end)

  it("keeps the lock renewed through a migration that computes without calling the database", function()
    write(dir .. "/migrations/20250101000000_compute.lua", [[
      return { up = function(db, ctx)
        local clock, started, spins = require("surrealdb.runtime").now, require("surrealdb.runtime").now(), 0
        while clock() - started < 2.5 do -- pure Lua for 2.5 s: no call, no wait
          spins = spins + 1
          if spins % 10000 == 0 then ctx.progress(spins) end
        end
      end }]])
    local a = start(dir, { "up", "--lock-ttl", "1" }, env)
    helper.wait_until(lock_taken, 10, "the first runner's lock")
    require("surrealdb.runtime").sleep(1.5) -- past its time to live: renewed all the same
    local out, code = run(dir, { "up", "--lock-timeout", "0.2" }, env)
    assert.are.equal(3, code, out)
    assert.matches("another runner holds the migrations lock", out, 1, true)
    out, code = a.wait()
    assert.are.equal(0, code, out)
    assert.are.equal(1, ups())
  end)

  it("stops between migrations on Ctrl-C, leaving none half-recorded", function()
    write(dir .. "/migrations/20250101000000_first.lua", [[
      return { up = function(db)
        db:query("DEFINE TABLE first")
        require("surrealdb.runtime").sleep(1)
      end }]])
    write(dir .. "/migrations/20250102000000_second.surql", "DEFINE TABLE second;")
    -- A background job ignores SIGINT; the tool gets it back as a terminal would give it.
    local a = start(dir, { "up" }, env, "--default-signal=INT")
    helper.wait_until(lock_taken, 10, "the runner's lock")
    require("surrealdb.runtime").sleep(0.3)
    assert.is_true(os.execute("kill -INT " .. a.lua_pid()))
    local out, code = a.wait()
    assert.are.equal(130, code, out)
    assert.matches("interrupted (Ctrl-C) after 1 migration(s); none is half-recorded", out, 1, true)
    assert.are.equal(1, ups())
    assert.is_false(lock_taken())
    out = run(dir, { "status" }, env)
    assert.matches("applied  20250101000000_first.lua", out, 1, true)
    assert.matches("pending  20250102000000_second.surql", out, 1, true)
  end)

  it("prints progress as plain lines when not on a terminal", function()
    write(dir .. "/migrations/20250101000000_data.lua", [[
      return { transaction = false, up = function(db, ctx)
        for i = 1, 10 do ctx.progress(i * 100, 1000) end
      end }]])
    local out, code = run(dir, { "up" }, env)
    assert.are.equal(0, code, out)
    assert.matches("warning: 20250101000000_data.lua runs without a transaction", out, 1, true)
    assert.matches("  20250101000000_data.lua: 1000 of 1000\n", out, 1, true)
    assert.is_nil(out:find("\27[", 1, true))
  end)

  it("writes a migration from model changes (make)", function()
    write(dir .. "/models.lua", [[
      local orm = require("surrealdb.orm")
      local f = require("surrealdb.orm.fields")
      return { orm.model("gadget", { name = f.String{ required = true } }) }]])
    local out, code = run(dir, { "make", "add_gadget", "--models", "models.lua" }, env)
    assert.are.equal(0, code, out)
    assert.matches("created migrations/%d+_add_gadget%.surql", out)
    out, code = run(dir, { "up" }, env)
    assert.are.equal(0, code, out)
    assert.is_string(db:query("INFO FOR DB").tables.gadget)
    out, code = run(dir, { "make", "again", "--models", "models.lua" }, env)
    assert.are.equal(0, code, out)
    assert.matches("nothing to write", out, 1, true)
  end)

  it("runs the examples folder end to end: schema, index, a backfill through db:bulk(), a rename", function()
    os.execute(("cp %s/scripts/examples/migrations/* %s/migrations/"):format(q(ROOT), q(dir)))
    local out, code = run(dir, { "up", "--to", "20250101090500" }, env)
    assert.are.equal(0, code, out)
    local accounts = {}
    for i = 1, 3000 do
      accounts[i] = { id = i, email = ("user%d@%s.example"):format(i, i % 2 == 0 and "Mail" or "post"),
        full_name = "User " .. i }
    end
    db:insert("account", accounts)
    helper.raises(function() db:create("account:dup", { email = "user1@post.example", full_name = "Dup" }) end,
      "account_email", "QueryError")
    out, code = run(dir, { "up" }, env)
    assert.are.equal(0, code, out)
    assert.matches("warning: 20250102100000_backfill_email_domain.lua runs without a transaction", out, 1, true)
    assert.matches("filling email_domain of 3000 accounts", out, 1, true)
    local rows = db:query("SELECT * FROM account WHERE email_domain = 'mail.example'")
    assert.are.equal(1500, #rows)
    local ann = db:query("SELECT * FROM ONLY account:2")
    assert.are.equal("User 2", ann.name)
    assert.is_nil(ann.full_name)
    out, code = run(dir, { "verify" }, env)
    assert.are.equal(0, code, out)
    out, code = run(dir, { "down" }, env)
    assert.are.equal(0, code, out)
    assert.are.equal("User 2", db:query("SELECT * FROM ONLY account:2").full_name)
    out, code = run(dir, { "down", "--to", "20250101090000" }, env)
    assert.are.equal(0, code, out)
    assert.is_nil(db:query("SELECT * FROM ONLY account:2").email_domain)
    out, code = run(dir, { "redo" }, env)
    assert.are.equal(0, code, out)
    out, code = run(dir, { "down", "--steps", "1" }, env)
    assert.are.equal(0, code, out)
    assert.is_nil(db:query("INFO FOR DB").tables.account)
    out = run(dir, { "status" }, env)
    assert.matches("0 applied, 4 pending", out, 1, true)
  end)
end)
