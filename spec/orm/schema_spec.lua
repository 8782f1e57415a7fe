-- Schema of models: the SurrealQL text (unit), the literal writer and the Lua-pattern translation
-- (unit), then against the engine (#integration): the applied schema makes the database refuse what
-- the model refuses, the modes, and diff_schema against INFO FOR TABLE / INFO FOR DB.
local helper = require("spec.helper")
local orm = require("surrealdb.orm")
local f = require("surrealdb.orm.fields")
local schema = require("surrealdb.orm.schema")
local types = require("surrealdb.types")

local function person_model(db, extra)
  local defs = {
    name = f.String{ required = true, max_length = 100, description = "full name" },
    age = f.Int{ min = 0, max = 150 },
    email = f.String{ pattern = "^[^@]+@[^@]+$", unique = true },
    role = f.String{ choices = { "admin", "it's" }, default = "it's" },
    tags = f.Array{ of = f.String(), default = types.array, max_length = 3 },
    scores = f.Array{ of = f.Int{ min = 0, max = 9 } },
    grid = f.Array{ of = f.Array{ of = f.String{ max_length = 2 } } },
    friend = f.RecordLink{ "person" },
    address = f.Object{ schema = { city = f.String{ required = true } } },
    meta = f.Object(),
    score = f.Float{ min = 0.5 },
    code = f.String{ readonly = true },
    created_at = f.DateTime{ auto_now_add = true },
  }
  for k, v in pairs(extra or {}) do defs[k] = v or nil end -- false leaves the field out
  return orm.model("person", defs, { db = db })
end

describe("orm schema text", function()
  it("writes the table, each field with its type, DEFAULT, READONLY, ASSERT and COMMENT, and unique indexes", function()
    assert.are.equal(table.concat({
      "DEFINE TABLE person TYPE NORMAL SCHEMAFULL;",
      "DEFINE FIELD address ON person TYPE none | object;",
      "DEFINE FIELD address.city ON person TYPE string;",
      "DEFINE FIELD age ON person TYPE none | int ASSERT $value >= 0 AND $value <= 150;",
      "DEFINE FIELD code ON person TYPE none | string READONLY;",
      "DEFINE FIELD created_at ON person TYPE none | datetime DEFAULT time::now();",
      "DEFINE FIELD email ON person TYPE none | string ASSERT string::matches($value, '^[^@]+@[^@]+$');",
      "DEFINE FIELD friend ON person TYPE none | record<person>;",
      "DEFINE FIELD grid ON person TYPE none | array<array<string>> ASSERT array::all($value, |$item: any| "
        .. "array::all($item, |$item2: any| string::len($item2) <= 2));",
      "DEFINE FIELD meta ON person TYPE none | object FLEXIBLE;",
      "DEFINE FIELD name ON person TYPE string ASSERT string::len($value) <= 100 COMMENT 'full name';",
      "DEFINE FIELD role ON person TYPE none | string DEFAULT \"it's\" ASSERT $value INSIDE ['admin', \"it's\"];",
      "DEFINE FIELD score ON person TYPE none | float ASSERT $value >= 0.5f;",
      "DEFINE FIELD scores ON person TYPE none | array<int> ASSERT array::all($value, |$item: any| $item >= 0 "
        .. "AND $item <= 9);",
      "DEFINE FIELD tags ON person TYPE none | array<string> ASSERT array::len($value) <= 3;",
      "DEFINE INDEX person_email_unique ON person FIELDS email UNIQUE;",
    }, "\n"), person_model():schema())
  end)

  it("writes the modes, SCHEMALESS for a model that is not strict, and edges as relation tables", function()
    local loose = orm.model("loose", { a = f.Int{ required = true } }, { strict = false, description = "x" })
    assert.are.equal("DEFINE TABLE OVERWRITE loose TYPE NORMAL SCHEMALESS COMMENT 'x';\n"
      .. "DEFINE FIELD OVERWRITE a ON loose TYPE int;", loose:schema("overwrite"))
    assert.are.equal("DEFINE TABLE IF NOT EXISTS loose TYPE NORMAL SCHEMALESS COMMENT 'x';\n"
      .. "DEFINE FIELD IF NOT EXISTS a ON loose TYPE int;", loose:schema("if_not_exists"))
    helper.raises(function() loose:schema("replace") end, "schema mode must be")
    local Post = orm.model("post", {})
    local Likes = orm.edge("likes", { from = loose, to = Post, weight = f.Int() })
    assert.are.equal("DEFINE TABLE likes TYPE RELATION IN loose OUT post SCHEMAFULL;\n"
      .. "DEFINE FIELD weight ON likes TYPE none | int;", Likes:schema())
  end)

  it("writes values only as escaped literals", function()
    local hostile = "x'; REMOVE TABLE person; --\"\\"
    local m = orm.model("hostile", { note = f.String{ default = hostile, choices = { hostile, "b" } } })
    local text = m:schema()
    assert.are.equal("DEFINE FIELD note ON hostile TYPE none | string DEFAULT \"x'; REMOVE TABLE person; --\\\"\\\\\" "
      .. "ASSERT $value INSIDE [\"x'; REMOVE TABLE person; --\\\"\\\\\", 'b'];", text:match("\n(.*)$"))
    assert.are.equal("[1, 2.5f, true, 'a', { b: NONE }]", schema.literal({ 1, 2.5, true, "a", { b = types.NONE } }))
    assert.are.equal("d'2024-01-01T00:00:00Z'", schema.literal(types.Datetime.parse("2024-01-01T00:00:00Z")))
    helper.raises(function() schema.literal({ print }) end, "cannot write a function")
  end)

  it("translates the Lua patterns it can translate faithfully, and only those", function()
    assert.are.equal("^[^@]+@[^@]+$", schema.pattern_regex("^[^@]+@[^@]+$"))
    assert.are.equal("^[0-9]+\\-[A-Za-z_]*?$", schema.pattern_regex("^%d+%-[%a_]-$"))
    assert.are.equal("^\\.\\+\\(a\\)x?$", schema.pattern_regex("^%.%+%(a%)x?$"))
    assert.are.equal("[0-9A-Fa-f]+", schema.pattern_regex("%x+"))
    for _, untranslatable in ipairs({ "^.$", "^[^a]?$", ".+.+", "%bxy", "%f[%a]", "(a)%1", "é", "[é]", "%A", "(a)" }) do
      local regex, why = schema.pattern_regex(untranslatable)
      assert.is_nil(regex, untranslatable)
      assert.is_string(why)
    end
    -- No ASSERT for a pattern that does not translate; the model still checks it.
    local m = orm.model("pat", { code = f.String{ pattern = "^.$" } })
    assert.are.equal("DEFINE FIELD code ON pat TYPE none | string;", m:schema():match("\n(.*)$"))
  end)
end)

describe("orm schema against the engine #integration", function()
  local errors = require("surrealdb.errors")
  local db

  helper.client_per_block("orm_schema", function(client) db = client end)

  -- The database refuses `data` when sent directly (no model in the way).
  local function database_refuses(data)
    local ok, err = pcall(db.query, db, "CREATE person CONTENT $data", { data = data })
    assert(not ok, "the database accepted " .. types.surql(data))
    assert.is_true(errors.is(err, "QueryError"), tostring(err))
    return err
  end

  it("the database refuses what the model refuses", function()
    local Person = person_model(db)
    Person:apply_schema()
    Person:create{ name = "Ann", email = "a@x.io", address = { city = "Paris" } }
    local cases = {
      { data = { age = 1 }, field = "name" },                             -- required
      { data = { name = string.rep("x", 101) }, field = "name" },         -- max_length
      { data = { name = 5 }, field = "name" },                            -- type
      { data = { name = "B", age = -1 }, field = "age" },                 -- min
      { data = { name = "B", age = 151 }, field = "age" },                -- max
      { data = { name = "B", age = 1.5 }, field = "age" },                -- int
      { data = { name = "B", email = "nope" }, field = "email" },         -- pattern
      { data = { name = "B", email = "a@x.io" }, field = nil },           -- unique (database only)
      { data = { name = "B", role = "root" }, field = "role" },           -- choices
      { data = { name = "B", tags = { "a", "b", "c", "d" } }, field = "tags" },
      { data = { name = "B", tags = { 1 } }, field = "tags" },            -- item type
      { data = { name = "B", scores = { 1, 10 } }, field = "scores" },    -- an item's max
      { data = { name = "B", grid = { { "ab" }, { "a", "abc" } } }, field = "grid" }, -- a nested item's max_length
      { data = { name = "B", friend = types.RecordID("post", 1) }, field = "friend" },
      { data = { name = "B", address = { street = "x" } }, field = "address" },
      { data = { name = "B", score = 0.1 }, field = "score" },
      { data = { name = "B", bogus = 1 }, field = "bogus" },               -- SCHEMAFULL
    }
    for _, case in ipairs(cases) do
      database_refuses(case.data)
      if case.field then
        local err = helper.raises(function() Person:create(case.data) end)
        assert.is_string(err.fields[case.field], types.surql(case.data))
      end
    end
    -- And accepts what the model accepts, filling its defaults.
    local bob = db:query("CREATE ONLY person CONTENT $data",
      { data = { name = "Bob", tags = { "a" }, scores = { 0, 9 }, grid = { { "ab", "c" }, types.array() } } })
    assert.are.equal("it's", bob.role)
    assert.are.equal(types.Datetime, getmetatable(bob.created_at))
    -- A readonly field cannot change in the database either.
    local cy = Person:create{ name = "Cy", code = "c1" }
    assert.has_error(function() db:query("UPDATE $id SET code = 'c2'", { id = cy.id }) end)
    cy.code = "c2"
    local err = helper.raises(function() cy:save() end)
    assert.are.equal("is read-only once the record is saved", err.fields.code)
  end)

  it("apply_schema: plain fails on an existing schema, if_not_exists keeps it, overwrite replaces it", function()
    local Person = person_model(db)
    Person:apply_schema()
    helper.raises(function() Person:apply_schema() end, "already exists", "QueryError")
    Person:apply_schema{ mode = "if_not_exists" }
    local Wider = person_model(db, { age = f.Int{ min = 0, max = 200 } })
    Wider:apply_schema{ mode = "if_not_exists" }
    database_refuses({ name = "A", age = 180 })
    Wider:apply_schema{ mode = "overwrite" }
    db:query("CREATE person CONTENT $data", { data = { name = "A", age = 180 } })
  end)

  it("diff_schema: everything for a missing table, nothing once applied", function()
    local Person = person_model(db)
    local changes = orm.diff_schema(db, { Person })
    local statements = schema.statements(Person)
    assert.are.equal(#statements, #changes)
    for i, change in ipairs(changes) do
      assert.are.equal("create", change.action)
      assert.are.equal(statements[i].sql, change.statement)
    end
    assert.are.equal("REMOVE TABLE person", changes[1].reverse)
    assert.are.equal("REMOVE INDEX person_email_unique ON person", changes[#changes].reverse)
    Person:apply_schema()
    assert.are.same({}, orm.diff_schema(db, { Person }))
  end)

  it("diff_schema: altered, added and removed fields and indexes, with their reverses", function()
    person_model(db):apply_schema()
    local Changed = person_model(db, { age = f.Int{ min = 18 }, email = f.String(), nickname = f.String(),
      score = false })
    local changes = orm.diff_schema(db, { Changed })
    local by = {}
    for _, c in ipairs(changes) do by[c.action .. " " .. c.kind .. " " .. c.name] = c end
    local alter = by["alter field age"]
    assert.are.equal("DEFINE FIELD OVERWRITE age ON person TYPE none | int ASSERT $value >= 18", alter.statement)
    assert.are.equal("DEFINE FIELD OVERWRITE age ON person TYPE none | int ASSERT $value >= 0 AND $value <= 150 "
      .. "PERMISSIONS FULL", alter.reverse)
    assert.are.equal("DEFINE FIELD OVERWRITE email ON person TYPE none | string", by["alter field email"].statement)
    assert.are.equal("REMOVE FIELD nickname ON person", by["create field nickname"].reverse)
    assert.are.equal("REMOVE FIELD score ON person", by["remove field score"].statement)
    assert.are.equal("REMOVE INDEX person_email_unique ON person", by["remove index person_email_unique"].statement)
    assert.is_nil(by["remove field tags.*"]) -- the database's own item field of an array
    -- Applying the statements brings the database in line; the reverses bring it back.
    for _, c in ipairs(changes) do db:query(c.statement) end
    assert.are.same({}, orm.diff_schema(db, { Changed }))
    for i = #changes, 1, -1 do db:query(changes[i].reverse) end
    assert.are.same({}, orm.diff_schema(db, { person_model(db) }))
  end)
end)
