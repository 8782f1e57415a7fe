-- The CRUD helpers: the SurrealQL each sends (unit, with a stand-in client that records queries),
-- then every helper, every filter operator and the query set against the real engine (#integration),
-- and the injection spec: hostile strings as values, field names, table names, record ids, order
-- and fetch fields, proving the database is untouched and each error says what was wrong.
local helper = require("spec.helper")
local orm = require("surrealdb.orm")
local errors = require("surrealdb.errors")
local types = require("surrealdb.types")
local Q = orm.Q

local person = types.Table("person")

describe("orm.helpers", function()
  local db, h
  before_each(function()
    db = helper.fake_db()
    h = orm.helpers(db)
  end)

  local function last() return db.calls[#db.calls] end

  it("insert_one sends INSERT INTO person $data and returns the record", function()
    db.answers = { types.array({ { id = types.RecordID("person", "a"), name = "Ann" } }) }
    local ann = h:insert_one("person", { name = "Ann" })
    assert.are.equal("Ann", ann.name)
    assert.are.equal("INSERT INTO person $data", last().sql)
    assert.are.same({ data = { name = "Ann" } }, last().vars)
  end)

  it("insert_many sends the rows as one array, and nothing for no rows", function()
    db.answers = { types.array({ {}, {} }) }
    h:insert_many(types.Table("odd name"), { { a = 1 }, { a = 2 } })
    assert.are.equal("INSERT INTO ⟨odd name⟩ $rows", last().sql)
    assert.are.same({ rows = { { a = 1 }, { a = 2 } } }, last().vars)
    assert.is_true(types.is_array(last().vars.rows))
    local none = h:insert_many("person", {})
    assert.are.same({}, none)
    assert.are.equal(1, #db.calls)
  end)

  it("select_one limits a table's query to one record", function()
    db.answers = { types.array({ { name = "Ann" } }), types.array() }
    assert.are.same({ name = "Ann" }, h:select_one("person", { email = "a@x" }))
    assert.are.equal("SELECT * FROM person WHERE email = $p1 LIMIT $limit", last().sql)
    assert.are.same({ p1 = "a@x", limit = 1 }, last().vars)
    assert.is_nil(h:select_one("person:nobody"))
    assert.are.equal("SELECT * FROM $id LIMIT $limit", last().sql)
    assert.are.same({ id = types.RecordID("person", "nobody"), limit = 1 }, last().vars)
  end)

  it("select_many maps its options to a query set", function()
    db.answers = { types.array() }
    h:select_many("person", { where = { age__gte = 18 }, order_by = { "-age", "name" }, limit = 10, offset = 20,
      fetch = { "friend" } })
    assert.are.equal("SELECT * FROM person WHERE age >= $p1 ORDER BY age DESC, name ASC LIMIT $limit START $start "
      .. "FETCH friend", last().sql)
    assert.are.same({ p1 = 18, limit = 10, start = 20 }, last().vars)
    h:select_many("person", { order_by = "name", fetch = "friend" })
    assert.are.equal("SELECT * FROM person ORDER BY name ASC FETCH friend", last().sql)
    h:select_many("person")
    assert.are.equal("SELECT * FROM person", last().sql)
  end)

  it("select_many rejects options it does not know", function()
    helper.raises(function() h:select_many("person", { order = "name" }) end, "unknown option order")
    helper.raises(function() h:select_many("person", "age > 1") end, "expects an options table")
  end)

  it("the one-record helpers bind the record as $id", function()
    local id = types.RecordID("person", "ann")
    db.answers = { { id = id }, types.NONE, { id = id }, { id = id } }
    assert.are.same({ id = id }, h:update_one("person:ann", { name = "A" }))
    assert.are.equal("UPDATE ONLY $id CONTENT $data", last().sql)
    assert.are.same({ id = id, data = { name = "A" } }, last().vars)
    assert.is_nil(h:merge_one(id, { age = 1 }))
    assert.are.equal("UPDATE ONLY $id MERGE $data", last().sql)
    h:upsert_one(id, { name = "A" })
    assert.are.equal("UPSERT ONLY $id CONTENT $data", last().sql)
    h:delete_one(id)
    assert.are.equal("DELETE ONLY $id RETURN BEFORE", last().sql)
    assert.are.same({ id = id }, last().vars)
  end)

  it("update_many merges, delete_many returns what it deleted", function()
    db.answers = { types.array(), types.array() }
    h:update_many("person", { age__lt = 18 }, { minor = true })
    assert.are.equal("UPDATE person MERGE $data WHERE age < $p1", last().sql)
    assert.are.same({ p1 = 18, data = { minor = true } }, last().vars)
    h:delete_many("person", {})
    assert.are.equal("DELETE person RETURN BEFORE", last().sql)
  end)

  it("update_many and delete_many need a filter", function()
    helper.raises(function() h:update_many("person", nil, { a = 1 }) end, "update_many needs a filter; pass {}")
    helper.raises(function() h:delete_many("person") end, "delete_many needs a filter; pass {}")
    assert.are.equal(0, #db.calls)
  end)

  it("count and exists take a table or a record", function()
    db.answers = { types.array({ { count = 3 } }), types.array() }
    assert.are.equal(3, h:count("person", Q{ a = 1 } | Q{ b = 2 }))
    assert.are.equal("SELECT count() FROM person WHERE a = $p1 OR b = $p2 GROUP ALL", last().sql)
    assert.is_false(h:exists("person:ann"))
    assert.are.equal("SELECT VALUE id FROM $id LIMIT 1", last().sql)
  end)

  it("checks the kind of target each helper takes", function()
    helper.raises(function() h:insert_one("person:ann", {}) end, "insert_one expects a table, got the record id")
    helper.raises(function() h:insert_many("person:ann", {}) end, "insert_many expects a table")
    helper.raises(function() h:select_many("person:ann") end, "select_many expects a table")
    helper.raises(function() h:update_many("person:ann", {}, {}) end, "update_many expects a table")
    helper.raises(function() h:delete_many("person:ann", {}) end, "delete_many expects a table")
    for _, method in ipairs({ "update_one", "merge_one", "upsert_one" }) do
      helper.raises(function() h[method](h, "person", {}) end, method .. " expects a record id, got the table person")
    end
    helper.raises(function() h:delete_one("person") end, "delete_one expects a record id")
    helper.raises(function() h:delete_one(nil) end, "delete_one expects a table name, a record id string")
    assert.are.equal(0, #db.calls)
  end)

  it("checks the data", function()
    helper.raises(function() h:insert_one("person", "Ann") end, "insert_one expects the data as a table of fields")
    helper.raises(function() h:insert_one("person", { 1, 2 }) end, "got an array")
    helper.raises(function() h:update_one("person:a") end, "update_one expects the data")
    helper.raises(function() h:merge_one("person:a", 5) end, "merge_one expects the data")
    helper.raises(function() h:update_many("person", {}, { "x" }) end, "update_many expects the data")
    helper.raises(function() h:insert_many("person", "rows") end, "insert_many expects an array of records")
    helper.raises(function() h:insert_many("person", { a = 1 }) end, "a table that is not an array")
    helper.raises(function() h:insert_many("person", { { a = 1 }, 5 }) end, "row 2 is not a table of fields")
    assert.are.equal(0, #db.calls)
  end)

  it("says how to call a method called with a dot", function()
    helper.raises(function() h.insert_one("person", {}) end, "insert_one is a method: call it as helpers:insert_one")
  end)

  it("wants a client", function()
    helper.raises(function() orm.helpers(nil) end, "orm.helpers expects a client")
  end)
end)

describe("orm helpers against the engine #integration", function()
  local surrealdb = require("surrealdb")
  local client, db, h, sent

  helper.client_per_block("orm", function(shared)
    client = shared
    sent = 0
    -- The client, counting the queries sent through it.
    db = {
      query = function(_, sql, vars)
        sent = sent + 1
        return client:query(sql, vars)
      end,
    }
    h = orm.helpers(db)
  end)

  local function ids(records)
    local list = {}
    for _, r in ipairs(records) do list[#list + 1] = tostring(r.id) end
    table.sort(list)
    return list
  end

  local function seed_people()
    return h:insert_many("person", {
      { id = "ann", name = "Ann", age = 31, email = "ANN@example.com", tags = { "admin", "lua" },
        address = { city = "Paris" }, value = 1 },
      { id = "bob", name = "Bob", age = 17, email = surrealdb.null, tags = { "c" }, address = { city = "Rome" },
        value = 2 },
      { id = "cy", name = "Cy", age = 45, tags = types.array(), address = { city = surrealdb.null } },
      { id = "dee", name = 42, age = 65, nickname = "D" },
    })
  end

  describe("the helpers", function()
    it("insert_one inserts a record with a generated or a given id", function()
      local ann = h:insert_one("person", { name = "Ann" })
      assert.are.equal(types.RecordID, getmetatable(ann.id))
      assert.are.equal("person", ann.id.tb)
      local bob = h:insert_one(person, { id = "bob", name = "Bob" })
      assert.are.equal(types.RecordID("person", "bob"), bob.id)
      local err = helper.raises(function() h:insert_one("person", { id = "bob", name = "Again" }) end, "bob",
        "QueryError")
      assert.truthy(err.message:find("already exists", 1, true))
      assert.are.equal("Bob", h:select_one("person:bob").name)
    end)

    it("insert_many inserts every row", function()
      local rows = seed_people()
      assert.are.equal(4, #rows)
      assert.are.same({ "person:ann", "person:bob", "person:cy", "person:dee" }, ids(rows))
      assert.are.equal(4, h:count("person"))
      local before = sent
      assert.are.same({}, h:insert_many("person", {}))
      assert.are.equal(before, sent)
    end)

    it("select_one finds by id, by id and filter, and by filter", function()
      seed_people()
      assert.are.equal("Ann", h:select_one("person:ann").name)
      assert.are.equal("Ann", h:select_one(types.RecordID("person", "ann")).name)
      assert.are.equal("Ann", h:select_one("person:ann", { age__gt = 30 }).name)
      assert.is_nil(h:select_one("person:ann", { age__gt = 40 }))
      assert.is_nil(h:select_one("person:nobody"))
      assert.are.equal("Bob", h:select_one("person", { address__city = "Rome" }).name)
      assert.is_nil(h:select_one("person", { address__city = "Oslo" }))
    end)

    it("select_many filters, orders, limits, offsets and fetches", function()
      seed_people()
      local adults = h:select_many("person", { where = { age__gte = 18 }, order_by = { "-age" } })
      assert.are.same({ 65, 45, 31 }, { adults[1].age, adults[2].age, adults[3].age })
      local page = h:select_many("person", { order_by = { "age" }, limit = 2, offset = 1 })
      assert.are.same({ 31, 45 }, { page[1].age, page[2].age })
      h:merge_one("person:bob", { friend = types.RecordID("person", "ann") })
      local bob = h:select_many("person", { where = { id = types.RecordID("person", "bob") }, fetch = { "friend" } })[1]
      assert.are.equal("Ann", bob.friend.name)
      assert.are.equal(0, #h:select_many("nothing_here"))
    end)

    it("update_one replaces a record's content, and returns nil for a missing one", function()
      seed_people()
      local ann = h:update_one("person:ann", { name = "Ann B" })
      assert.are.equal("Ann B", ann.name)
      assert.is_nil(ann.age)
      assert.is_nil(h:select_one("person:ann").age)
      assert.is_nil(h:update_one("person:nobody", { name = "X" }))
      assert.is_false(h:exists("person:nobody"))
    end)

    it("merge_one sets fields and keeps the others", function()
      seed_people()
      local ann = h:merge_one(types.RecordID("person", "ann"), { age = 32, city = "Lyon" })
      assert.are.equal(32, ann.age)
      assert.are.equal("Ann", ann.name)
      assert.are.equal("Lyon", h:select_one("person:ann").city)
      assert.is_nil(h:merge_one("person:nobody", { age = 1 }))
    end)

    it("upsert_one creates, then replaces", function()
      local created = h:upsert_one("setting:theme", { value = "dark", by = "ann" })
      assert.are.equal("dark", created.value)
      local replaced = h:upsert_one("setting:theme", { value = "light" })
      assert.are.equal("light", replaced.value)
      assert.is_nil(replaced.by)
      assert.are.equal(1, h:count("setting"))
    end)

    it("update_many sets fields on every match", function()
      seed_people()
      local updated = h:update_many("person", { age__lt = 40 }, { young = true })
      assert.are.same({ "person:ann", "person:bob" }, ids(updated))
      assert.are.equal(2, h:count("person", { young = true }))
      assert.are.equal("Ann", h:select_one("person:ann").name)
      assert.are.equal(4, #h:update_many("person", {}, { seen = true }))
    end)

    it("delete_one returns the deleted record, or nil", function()
      seed_people()
      assert.are.equal("Ann", h:delete_one("person:ann").name)
      assert.is_nil(h:delete_one("person:ann"))
      assert.are.equal(3, h:count("person"))
    end)

    it("delete_many deletes the matches, and everything with {}", function()
      seed_people()
      local gone = h:delete_many("person", Q{ age__lt = 18 } | Q{ age__gt = 60 })
      assert.are.same({ "person:bob", "person:dee" }, ids(gone))
      assert.are.equal(2, h:count("person"))
      assert.are.equal(2, #h:delete_many("person", {}))
      assert.are.equal(0, h:count("person"))
    end)

    it("count and exists", function()
      seed_people()
      assert.are.equal(4, h:count("person"))
      assert.are.equal(2, h:count("person", { age__between = { 31, 45 } }))
      assert.are.equal(1, h:count("person:ann"))
      assert.are.equal(0, h:count("person:ann", { age = 1 }))
      assert.are.equal(0, h:count("nothing_here"))
      assert.is_true(h:exists("person", { name = "Cy" }))
      assert.is_false(h:exists("person", { name = "Zed" }))
      assert.is_true(h:exists("person:cy"))
    end)

    it("works on a table whose name is not an identifier, given as a Table", function()
      local odd = types.Table("odd table-name \\ é")
      local row = h:insert_one(odd, { n = 1 })
      assert.are.equal("odd table-name \\ é", row.id.tb)
      h:insert_many(odd, { { n = 2 }, { n = 3 } })
      assert.are.equal(3, h:count(odd))
      assert.are.equal(2, h:count(odd, { n__gte = 2 }))
      assert.are.equal(1, #h:delete_many(odd, { n = 1 }))
      assert.are.equal(0, h:count("person"))
    end)
  end)

  describe("every operator", function()
    before_each(seed_people)

    local function match(where)
      return ids(h:select_many("person", { where = where }))
    end

    it("compares", function()
      assert.are.same({ "person:ann" }, match({ name = "Ann" }))
      assert.are.same({ "person:ann" }, match({ name__eq = "Ann" }))
      assert.are.same({ "person:bob", "person:cy", "person:dee" }, match({ name__ne = "Ann" }))
      assert.are.same({ "person:cy", "person:dee" }, match({ age__gt = 31 }))
      assert.are.same({ "person:ann", "person:cy", "person:dee" }, match({ age__gte = 31 }))
      assert.are.same({ "person:bob" }, match({ age__lt = 31 }))
      assert.are.same({ "person:ann", "person:bob" }, match({ age__lte = 31 }))
      assert.are.same({ "person:ann", "person:cy" }, match({ age__between = { 31, 45 } }))
    end)

    it("tests membership", function()
      assert.are.same({ "person:ann", "person:dee" }, match({ age__in = { 31, 65, 99 } }))
      assert.are.same({ "person:bob", "person:cy" }, match({ age__not_in = { 31, 65 } }))
      assert.are.same({}, match({ age__in = {} }))
      assert.are.same({ "person:ann", "person:bob", "person:cy", "person:dee" }, match({ age__not_in = {} }))
      assert.are.same({ "person:ann" }, match({ tags__contains = "lua" }))
      assert.are.same({ "person:ann" }, match({ name__contains = "nn" }))
      assert.are.same({ "person:ann", "person:bob" }, match({ tags__contains_any = { "lua", "c" } }))
    end)

    it("matches strings, and skips fields that are not strings without failing", function()
      assert.are.same({ "person:ann" }, match({ name__startswith = "A" }))
      assert.are.same({ "person:bob" }, match({ name__endswith = "ob" }))
      assert.are.same({ "person:ann" }, match({ email__icontains = "ann@EXAMPLE" }))
      assert.are.same({ "person:bob", "person:dee" }, match({ name__icontains = "B" } ) and
        match(Q{ name__icontains = "B" } | Q{ nickname__icontains = "d" }))
      assert.are.same({}, match({ age__startswith = "3" }))
    end)

    it("matches missing and NULL fields with __is_null", function()
      assert.are.same({ "person:bob", "person:cy", "person:dee" }, match({ email__is_null = true }))
      assert.are.same({ "person:ann" }, match({ email__is_null = false }))
      assert.are.same({ "person:cy", "person:dee" }, match({ address__city__is_null = true }))
      assert.are.same({ "person:cy", "person:dee" }, match({ email = surrealdb.NONE }))
      assert.are.same({ "person:bob" }, match({ email = surrealdb.null }))
    end)

    it("follows nested fields and reserved words", function()
      assert.are.same({ "person:ann" }, match({ address__city = "Paris" }))
      assert.are.same({ "person:bob" }, match({ value = 2 }))
      assert.are.same({ "person:ann", "person:bob" }, ids(orm.query(db, "person"):order_by("-value")
        :where{ value__gte = 1 }:all()))
    end)

    it("combines with Q", function()
      assert.are.same({ "person:ann", "person:bob" },
        match(Q{ address__city = "Paris" } | Q{ address__city = "Rome" }))
      assert.are.same({ "person:cy", "person:dee" }, match(~(Q{ age__lt = 40 })))
      assert.are.same({ "person:ann" }, match({ Q{ age__lt = 40 } & ~Q{ name = "Bob" }, tags__contains = "admin" }))
      assert.are.same({ "person:ann", "person:cy" },
        match((Q{ age__gte = 30 } & Q{ age__lte = 50 }) | (Q{ name = "Nobody" } & Q{ age = 17 })))
    end)
  end)

  describe("query sets", function()
    before_each(seed_people)

    it("run the chain of the issue", function()
      local rows = orm.query(db, "person"):where{ age__gte = 18 }:order_by("-age"):limit(2):all()
      assert.are.same({ 65, 45 }, { rows[1].age, rows[2].age })
      assert.are.equal(65, orm.query(db, "person"):order_by("-age"):first().age)
      assert.is_nil(orm.query(db, "person"):where{ age = 1000 }:first())
      assert.are.equal(3, orm.query(db, "person"):where{ age__gte = 18 }:limit(1):count())
    end)

    it("page and each walk the table", function()
      local by_age = orm.query(db, "person"):order_by("age")
      local p1, p2, p3 = by_age:page(1, 3), by_age:page(2, 3), by_age:page(3, 3)
      assert.are.same({ 17, 31, 45 }, { p1[1].age, p1[2].age, p1[3].age })
      assert.are.same({ 65 }, { p2[1].age })
      assert.are.equal(0, #p3)
      local ages = {}
      assert.are.equal(4, by_age:each(function(p) ages[#ages + 1] = p.age end, 3))
      assert.are.same({ 17, 31, 45, 65 }, ages)
    end)

    it("update and delete", function()
      assert.are.equal(1, #orm.query(db, "person"):where{ name = "Cy" }:update{ age = 46 })
      assert.are.equal(46, h:select_one("person:cy").age)
      assert.are.equal(1, #orm.query(db, "person"):where{ name = "Cy" }:delete())
      assert.are.equal(3, h:count("person"))
    end)
  end)

  describe("injection", function()
    local hostile = {
      "x' OR true OR name = '",
      "x\" OR true OR name = \"",
      "x; DELETE canary; --",
      "x); DELETE canary; (",
      "x` OR true; DELETE canary; --",
      "x⟩ OR true; DELETE canary; --",
      "$p1",
      "canary:keep",
      "*",
      "x\0y",
      "x\nDELETE canary;",
      "') RETURN ((SELECT * FROM canary)); --",
      "1 OR 1=1",
      "⟨name⟩",
      "-name",
      "name DESC; DELETE canary",
      "name__gte",
      "\\",
      "NONE",
    }
    -- The hostile strings that are not field paths ("NONE" and "name__gte" are: `⟨NONE⟩`, `name.gte`).
    local hostile_names = {}
    for _, text in ipairs(hostile) do
      if text ~= "NONE" and text ~= "name__gte" then hostile_names[#hostile_names + 1] = text end
    end

    -- A snapshot of the database: its tables and the canary's records.
    local function snapshot()
      local tables = {}
      for name in pairs(client:query("INFO FOR DB").tables) do tables[#tables + 1] = name end
      table.sort(tables)
      local canary = client:query("SELECT * FROM canary ORDER BY id")
      return { tables = tables, canary = canary, person = client:query("SELECT * FROM person ORDER BY id") }
    end

    before_each(function()
      seed_people()
      h:insert_many("canary", { { id = "keep", secret = "s1" }, { id = "also", secret = "s2" } })
    end)

    it("binds hostile values under every operator, matching them as plain strings", function()
      local before = snapshot()
      for _, text in ipairs(hostile) do
        local scalars = { "eq", "ne", "gt", "gte", "lt", "lte", "contains", "startswith", "endswith", "icontains" }
        for _, op in ipairs(scalars) do
          local rows = h:select_many("person", { where = { ["name__" .. op] = text } })
          assert.is_table(rows)
          h:count("person", { ["name__" .. op] = text })
          h:exists("person", { ["name__" .. op] = text })
        end
        for _, op in ipairs({ "in", "not_in", "contains_any" }) do
          h:select_many("person", { where = { ["name__" .. op] = { text } } })
        end
        h:select_many("person", { where = { name__between = { text, text } } })
        assert.are.same({}, h:update_many("person", { name = text }, { hacked = true }))
        assert.are.same({}, h:delete_many("person", { name = text }))
        assert.are.same({}, h:delete_many("canary", Q{ secret = text } | Q{ id = text }))
      end
      assert.are.same(before, snapshot())
    end)

    it("stores hostile values and keys verbatim", function()
      for i, text in ipairs(hostile) do
        local row = h:insert_one("note", { body = text, [text] = i })
        assert.are.equal(text, row.body)
        assert.are.equal(i, row[text])
        assert.are.equal(text, h:select_one(row.id).body)
        assert.are.equal(text, h:merge_one(row.id, { again = text }).again)
        assert.are.equal(1, h:count("note", { body = text }))
      end
      assert.are.equal(#hostile, h:count("note"))
      assert.are.equal(2, h:count("canary"))
    end)

    it("rejects hostile field names under every operator before sending anything", function()
      local before = snapshot()
      sent = 0
      for _, text in ipairs(hostile_names) do
        for _, op in ipairs(require("surrealdb.orm.filter").operator_names) do
          local value = ({ ["in"] = { 1 }, not_in = { 1 }, contains_any = { 1 }, between = { 1, 2 }, is_null = true,
            startswith = "a", endswith = "a", icontains = "a" })[op] or 1
          local key = text .. "__" .. op
          for _, call in ipairs({
            function() h:select_many("person", { where = { [key] = value } }) end,
            function() h:select_one("person", { [key] = value }) end,
            function() h:count("person", Q{ [key] = value } | Q{ name = "Ann" }) end,
            function() h:exists("person", ~Q{ [key] = value }) end,
            function() h:update_many("person", { [key] = value }, { hacked = true }) end,
            function() h:delete_many("canary", { [key] = value }) end,
          }) do
            local err = helper.raises(call, "is not a valid field path")
            assert.are.equal(key, err.details.field)
          end
        end
      end
      assert.are.equal(0, sent)
      assert.are.same(before, snapshot())
    end)

    it("rejects hostile ORDER BY and FETCH fields before sending anything", function()
      local before = snapshot()
      sent = 0
      for _, text in ipairs(hostile_names) do
        if text ~= "-name" then
          helper.raises(function() h:select_many("person", { order_by = { text } }) end, "order_by field")
          helper.raises(function() orm.query(db, "person"):order_by("-" .. text):all() end, "order_by field")
          helper.raises(function() h:select_many("person", { fetch = { text } }) end, "fetch field")
        end
      end
      assert.are.equal(0, sent)
      assert.are.same(before, snapshot())
    end)

    it("rejects hostile table names given as strings, before sending anything", function()
      local before = snapshot()
      sent = 0
      for _, text in ipairs(hostile) do
        local name = "person " .. text
        local calls = {
          function() h:insert_one(name, { a = 1 }) end,
          function() h:insert_many(name, { { a = 1 } }) end,
          function() h:select_one(name) end,
          function() h:select_many(name) end,
          function() h:update_many(name, {}, { a = 1 }) end,
          function() h:delete_many(name, {}) end,
          function() h:count(name) end,
          function() h:exists(name) end,
          function() orm.query(db, name) end,
        }
        for _, call in ipairs(calls) do
          local ok, err = pcall(call)
          assert.is_false(ok)
          assert.is_true(errors.is(err, "ValidationError"), tostring(err))
          local says = err.message:find("is not an identifier", 1, true) or err.message:find("RecordID.parse", 1, true)
          assert.truthy(says, err.message)
        end
      end
      assert.are.equal(0, sent)
      assert.are.same(before, snapshot())
    end)

    it("takes hostile names given as Table and RecordID values as names, touching nothing else", function()
      local before = snapshot()
      for _, text in ipairs(hostile) do
        local id = types.RecordID("canary", text)
        assert.is_nil(h:select_one(id))
        assert.is_nil(h:update_one(id, { hacked = true }))
        assert.is_nil(h:merge_one(id, { hacked = true }))
        assert.is_nil(h:delete_one(id))
        assert.is_false(h:exists(id))
        local tb = types.Table("canary " .. text)
        local calls = {
          function() return h:count(tb) == 0 end,
          function() return h:exists(tb, { secret = "s1" }) == false end,
          function()
            return #h:select_many(tb, { where = { secret = "s1" }, order_by = { "secret" }, limit = 1 }) == 0
          end,
          function() return #h:delete_many(tb, {}) == 0 end,
          function() return #h:update_many(tb, {}, { hacked = true }) == 0 end,
        }
        for _, call in ipairs(calls) do
          local ok, result = pcall(call)
          assert.is_true(ok, tostring(result))
          assert.is_true(result)
        end
      end
      assert.are.same(before, snapshot())
    end)

    it("reads record id strings strictly", function()
      for _, text in ipairs({ "canary:keep; DELETE canary", "canary:keep OR true", "canary:⟨keep", "canary:" }) do
        helper.raises(function() h:delete_one(text) end, "RecordID.parse")
      end
      assert.are.equal(2, h:count("canary"))
    end)
  end)
end)
