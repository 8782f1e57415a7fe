-- Unit: the SurrealQL and variables query sets compile to, their immutability, their errors, and
-- how they read the results of a stand-in client that records each query (as Lapis tests its
-- query builder). Nothing here talks to a server.
local helper = require("spec.helper")
local orm = require("surrealdb.orm")
local query = require("surrealdb.orm.query")
local types = require("surrealdb.types")
local Q = orm.Q

describe("orm.query", function()
  describe("compile", function()
    it("selects every record of a table written as an identifier", function()
      local sql, vars = orm.query(nil, "person"):compile()
      assert.are.equal("SELECT * FROM person", sql)
      assert.are.same({}, vars)
    end)

    it("brackets a table named by a reserved word", function()
      assert.are.equal("SELECT * FROM ⟨select⟩", (orm.query(nil, "select"):compile()))
      assert.are.equal("DELETE ⟨Value⟩ RETURN BEFORE", (orm.query(nil, types.Table("Value")):compile("delete")))
    end)

    it("writes every clause in SurrealQL's order", function()
      local sql, vars = orm.query(nil, "person"):where{ age__gte = 18 }:order_by("-age", "name"):limit(10)
        :offset(20):fetch("friend", "employer__company"):compile()
      assert.are.equal("SELECT * FROM person WHERE age >= $p1 ORDER BY age DESC, name ASC LIMIT $limit START $start "
        .. "FETCH friend, employer.company", sql)
      assert.are.same({ p1 = 18, limit = 10, start = 20 }, vars)
    end)

    it("builds the chain of the issue", function()
      local sql, vars = orm.query(nil, "person"):where{ age__gte = 18 }:order_by("-age"):limit(10):compile()
      assert.are.equal("SELECT * FROM person WHERE age >= $p1 ORDER BY age DESC LIMIT $limit", sql)
      assert.are.same({ p1 = 18, limit = 10 }, vars)
    end)

    it("ANDs several where calls, in the order they were made", function()
      local sql, vars = orm.query(nil, "person"):where{ b = 2 }:where(Q{ a = 1 } | Q{ c = 3 }):compile()
      assert.are.equal("SELECT * FROM person WHERE b = $p1 AND (a = $p2 OR c = $p3)", sql)
      assert.are.same({ p1 = 2, p2 = 1, p3 = 3 }, vars)
    end)

    it("leaves WHERE out for an empty filter", function()
      assert.are.equal("SELECT * FROM person", (orm.query(nil, "person"):where{}:compile()))
      assert.are.equal("SELECT * FROM person", (orm.query(nil, "person"):where(Q{} | Q{}):compile()))
    end)

    it("binds a record as $id", function()
      local sql, vars = orm.query(nil, "person:tobie"):where{ age__gt = 1 }:compile()
      assert.are.equal("SELECT * FROM $id WHERE age > $p1", sql)
      assert.are.same({ id = types.RecordID("person", "tobie"), p1 = 1 }, vars)
    end)

    it("escapes the name of a Table that is not an identifier, as SurrealDB escapes identifiers", function()
      assert.are.equal("SELECT * FROM ⟨my-table⟩", (orm.query(nil, types.Table("my-table")):compile()))
      assert.are.equal("SELECT * FROM ⟨x; DELETE person; --⟩",
        (orm.query(nil, types.Table("x; DELETE person; --")):compile()))
      assert.are.equal("SELECT * FROM `a\\\\⟩b`", (orm.query(nil, types.Table("a\\⟩b")):compile()))
      assert.are.equal(types.escape_ident("é ✓"), query.table_text(types.Table("é ✓")))
    end)

    it("binds a RecordID as it is", function()
      local id = types.RecordID("person", { "complex", 1 })
      local _, vars = orm.query(nil, id):compile()
      assert.are.equal(id, vars.id)
    end)

    it("compiles count, exists, update and delete", function()
      local adults = orm.query(nil, "person"):where{ age__gte = 18 }
      local sql, vars = adults:compile("count")
      assert.are.equal("SELECT count() FROM person WHERE age >= $p1 GROUP ALL", sql)
      assert.are.same({ p1 = 18 }, vars)
      sql = adults:compile("exists")
      assert.are.equal("SELECT VALUE id FROM person WHERE age >= $p1 LIMIT 1", sql)
      sql, vars = adults:compile("update", { adult = true })
      assert.are.equal("UPDATE person MERGE $data WHERE age >= $p1", sql)
      assert.are.same({ p1 = 18, data = { adult = true } }, vars)
      sql = adults:compile("delete")
      assert.are.equal("DELETE person WHERE age >= $p1 RETURN BEFORE", sql)
      assert.are.equal("DELETE person RETURN BEFORE", (orm.query(nil, "person"):compile("delete")))
    end)

    it("counts and checks existence whatever the ordering, limit, offset and fetch", function()
      local qs = orm.query(nil, "person"):order_by("name"):limit(5):offset(5):fetch("friend")
      assert.are.equal("SELECT count() FROM person GROUP ALL", (qs:compile("count")))
      assert.are.equal("SELECT VALUE id FROM person LIMIT 1", (qs:compile("exists")))
    end)

    it("refuses to update or delete with an ordering, limit, offset or fetch", function()
      local base = orm.query(nil, "person")
      for _, qs in ipairs({ base:order_by("a"), base:limit(1), base:offset(1), base:fetch("a") }) do
        helper.raises(function() qs:compile("delete") end, "delete applies to every record the filters match")
        helper.raises(function() qs:compile("update", { a = 1 }) end, "update applies to every record")
      end
    end)

    it("requires a table of fields to update with", function()
      local qs = orm.query(nil, "person")
      helper.raises(function() qs:compile("update") end, "update expects the data as a table of fields")
      helper.raises(function() qs:compile("update", { 1, 2 }) end, "got an array")
      helper.raises(function() qs:compile("update", types.RecordID("a", 1)) end, "got surrealdb.RecordID")
      assert.are.equal("UPDATE person MERGE $data", (qs:compile("update", types.object())))
    end)

    it("rejects an unknown kind of statement", function()
      helper.raises(function() orm.query(nil, "person"):compile("drop") end, "compile expects \"select\"")
    end)

    it("shows its select statement with tostring", function()
      assert.are.equal("SELECT * FROM person WHERE a = $p1", tostring(orm.query(nil, "person"):where{ a = 1 }))
    end)
  end)

  describe("chaining", function()
    it("never changes the query set a method is called on", function()
      local base = orm.query(nil, "person")
      local adults = base:where{ age__gte = 18 }
      local sorted = adults:order_by("name")
      local limited = sorted:limit(3)
      local fetched = limited:fetch("friend")
      local skipped = fetched:offset(2)
      assert.are.equal("SELECT * FROM person", (base:compile()))
      assert.are.equal("SELECT * FROM person WHERE age >= $p1", (adults:compile()))
      assert.are.equal("SELECT * FROM person WHERE age >= $p1 ORDER BY name ASC", (sorted:compile()))
      assert.are.equal("SELECT * FROM person WHERE age >= $p1 ORDER BY name ASC LIMIT $limit", (limited:compile()))
      assert.are.equal("SELECT * FROM person WHERE age >= $p1 ORDER BY name ASC LIMIT $limit FETCH friend",
        (fetched:compile()))
      assert.are.equal("SELECT * FROM person WHERE age >= $p1 ORDER BY name ASC LIMIT $limit START $start FETCH friend",
        (skipped:compile()))
    end)

    it("branches without the branches seeing each other", function()
      local base = orm.query(nil, "person"):where{ a = 1 }
      local left = base:where{ b = 2 }
      local right = base:where{ c = 3 }
      assert.are.equal("SELECT * FROM person WHERE a = $p1 AND b = $p2", (left:compile()))
      assert.are.equal("SELECT * FROM person WHERE a = $p1 AND c = $p2", (right:compile()))
      local f1 = base:fetch("x")
      local f2 = base:fetch("y")
      assert.are.equal("SELECT * FROM person WHERE a = $p1 FETCH x", (f1:compile()))
      assert.are.equal("SELECT * FROM person WHERE a = $p1 FETCH y", (f2:compile()))
    end)

    it("does not see later changes to a filter table", function()
      local spec = { a = 1 }
      local qs = orm.query(nil, "person"):where(spec)
      spec.b = 2
      assert.are.equal("SELECT * FROM person WHERE a = $p1", (qs:compile()))
    end)

    it("replaces the ordering, and clears it with no fields", function()
      local qs = orm.query(nil, "person"):order_by("a"):order_by("-b")
      assert.are.equal("SELECT * FROM person ORDER BY b DESC", (qs:compile()))
      assert.are.equal("SELECT * FROM person", (qs:order_by():compile()))
    end)

    it("adds fetch fields once each", function()
      local qs = orm.query(nil, "person"):fetch("a", "b"):fetch("a", "c")
      assert.are.equal("SELECT * FROM person FETCH a, b, c", (qs:compile()))
    end)

    it("replaces the limit and offset; offset 0 removes START", function()
      local qs = orm.query(nil, "person"):limit(5):limit(7):offset(3):offset(0)
      local sql, vars = qs:compile()
      assert.are.equal("SELECT * FROM person LIMIT $limit", sql)
      assert.are.equal(7, vars.limit)
    end)

    it("takes integral floats as counts", function()
      local _, vars = orm.query(nil, "person"):limit(5.0):compile()
      assert.are.equal(5, vars.limit)
      assert.are.equal("integer", math.type(vars.limit))
    end)
  end)

  describe("names", function()
    it("brackets reserved words in ORDER BY and FETCH", function()
      local sql = orm.query(nil, "person"):order_by("-value"):fetch("select"):compile()
      assert.are.equal("SELECT * FROM person ORDER BY ⟨value⟩ DESC FETCH ⟨select⟩", sql)
    end)

    local injections = { "name; DELETE person", "name DESC, (DELETE person)", "a.b", "", "-", "--x", "1a", "a b" }
    for _, name in ipairs(injections) do
      it(("rejects the ORDER BY field %q"):format(name), function()
        helper.raises(function() orm.query(nil, "person"):order_by(name) end, "order_by field")
      end)
      it(("rejects the FETCH field %q"):format(name), function()
        helper.raises(function() orm.query(nil, "person"):fetch(name) end, "fetch field")
      end)
    end

    it("rejects order_by and fetch arguments that are not strings", function()
      helper.raises(function() orm.query(nil, "person"):order_by({ "a" }) end, "order_by expects field names")
      helper.raises(function() orm.query(nil, "person"):order_by("a", nil, "b") end, "got nil (argument 2)")
      helper.raises(function() orm.query(nil, "person"):fetch(5) end, "fetch field must be a string")
    end)

    local bad_tables = { "per son", "person;", "1person", "", "person-x", "⟨person⟩", "person DELETE" }
    for _, name in ipairs(bad_tables) do
      it(("rejects the table name %q and says how to give any name"):format(name), function()
        local err = helper.raises(function() orm.query(nil, name) end, "is not an identifier")
        assert.truthy(err.message:find("surrealdb.Table(name)", 1, true))
      end)
    end

    it("reads a string with a colon as a record id, and rejects one it cannot read", function()
      helper.raises(function() orm.query(nil, "person:to bie; DELETE person") end, "RecordID.parse")
    end)

    it("rejects sources that are neither names nor ids", function()
      helper.raises(function() orm.query(nil, 5) end, "orm.query expects a table name")
      helper.raises(function() orm.query(nil, nil) end, "got nil")
      helper.raises(function() orm.query(nil, types.Uuid.v4()) end, "got surrealdb.Uuid")
    end)

    it("resolves targets for callers that want one kind", function()
      assert.are.equal("table", query.target("person", "table", "t").kind)
      assert.are.equal("record", query.target("person:1", "record", "t").kind)
      helper.raises(function() query.target("person", "record", "update_one") end,
        "update_one expects a record id, got the table person")
      helper.raises(function() query.target("person:1", "table", "insert_many") end,
        "insert_many expects a table, got the record id person:1")
    end)
  end)

  describe("arguments", function()
    local base = orm.query(nil, "person")
    it("checks limit, offset and page", function()
      helper.raises(function() base:limit(0) end, "limit expects an integer >= 1, got 0")
      helper.raises(function() base:limit(1.5) end, "got 1.5")
      helper.raises(function() base:limit("10") end, "got 10")
      helper.raises(function() base:offset(-1) end, "offset expects an integer >= 0")
      helper.raises(function() base:page(0, 10) end, "page number expects an integer >= 1")
      helper.raises(function() base:page(1, 0) end, "page size expects an integer >= 1")
    end)

    it("requires a filter in where", function()
      helper.raises(function() base:where() end, "where expects a filter table or a Q, got nil")
      helper.raises(function() base:where("age > 1") end, "got string")
    end)

    it("needs a client to run", function()
      helper.raises(function() base:all() end, "this query set has no client")
    end)
  end)

  describe("running", function()
    it("all sends the compiled query and returns the records", function()
      local rows = types.array({ { name = "Ann" } })
      local db = helper.fake_db({ rows })
      local got = orm.query(db, "person"):where{ age__gte = 18 }:all()
      assert.are.equal(rows, got)
      assert.are.equal("SELECT * FROM person WHERE age >= $p1", db.calls[1].sql)
      assert.are.same({ p1 = 18 }, db.calls[1].vars)
    end)

    it("all returns an empty array for NONE", function()
      local got = orm.query(helper.fake_db({ types.NONE }), "person:nobody"):all()
      assert.are.same({}, got)
      assert.is_true(types.is_array(got))
    end)

    it("first limits to one record and returns it, or nil", function()
      local db = helper.fake_db({ types.array({ { name = "Ann" } }), types.array() })
      local qs = orm.query(db, "person"):order_by("-age"):offset(2)
      assert.are.same({ name = "Ann" }, qs:first())
      assert.are.equal("SELECT * FROM person ORDER BY age DESC LIMIT $limit START $start", db.calls[1].sql)
      assert.are.same({ limit = 1, start = 2 }, db.calls[1].vars)
      assert.is_nil(qs:first())
    end)

    it("count reads the count of GROUP ALL, and 0 from no rows", function()
      local db = helper.fake_db({ types.array({ { count = 42 } }), types.array() })
      assert.are.equal(42, orm.query(db, "person"):count())
      assert.are.equal(0, orm.query(db, "person"):where{ a = 1 }:count())
      assert.are.equal("SELECT count() FROM person WHERE a = $p1 GROUP ALL", db.calls[2].sql)
    end)

    it("exists is true when a row comes back", function()
      local db = helper.fake_db({ types.array({ types.RecordID("person", 1) }), types.array() })
      assert.is_true(orm.query(db, "person"):exists())
      assert.is_false(orm.query(db, "person"):exists())
    end)

    it("page asks for one page", function()
      local db = helper.fake_db({ types.array() })
      orm.query(db, "person"):order_by("name"):limit(99):page(3, 20)
      assert.are.equal("SELECT * FROM person ORDER BY name ASC LIMIT $limit START $start", db.calls[1].sql)
      assert.are.same({ limit = 20, start = 40 }, db.calls[1].vars)
      orm.query(db, "person"):page(1, 20)
      assert.are.equal("SELECT * FROM person LIMIT $limit", db.calls[2].sql)
    end)

    it("each walks batches until a short one", function()
      local function rows(from, to)
        local list = types.array()
        for i = from, to do list[#list + 1] = { n = i } end
        return list
      end
      local db = helper.fake_db({ rows(1, 2), rows(3, 4), rows(5, 5) })
      local seen = {}
      local count = orm.query(db, "person"):order_by("n"):each(function(r) seen[#seen + 1] = r.n end, 2)
      assert.are.equal(5, count)
      assert.are.same({ 1, 2, 3, 4, 5 }, seen)
      assert.are.equal(3, #db.calls)
      assert.are.same({ limit = 2 }, db.calls[1].vars)
      assert.are.same({ limit = 2, start = 2 }, db.calls[2].vars)
      assert.are.same({ limit = 2, start = 4 }, db.calls[3].vars)
    end)

    it("each keeps to the limit and offset of the query set", function()
      local db = helper.fake_db({ types.array({ {}, {} }), types.array({ {} }) })
      local count = orm.query(db, "person"):offset(10):limit(3):each(function() end, 2)
      assert.are.equal(3, count)
      assert.are.same({ limit = 2, start = 10 }, db.calls[1].vars)
      assert.are.same({ limit = 1, start = 12 }, db.calls[2].vars)
      assert.are.equal(2, #db.calls)
    end)

    it("each stops when the function returns false", function()
      local db = helper.fake_db({ types.array({ { n = 1 }, { n = 2 }, { n = 3 } }) })
      local count = orm.query(db, "person"):each(function(r) return r.n < 2 end)
      assert.are.equal(2, count)
      assert.are.equal(1, #db.calls)
      assert.are.same({ limit = 100 }, db.calls[1].vars)
    end)

    it("each requires a function", function()
      helper.raises(function() orm.query(helper.fake_db(), "person"):each() end, "each expects a function")
    end)

    describe("on a table that does not exist", function()
      -- A stand-in client that fails every query as SurrealDB 3.0 does for a missing table.
      local function missing(name, kind)
        return {
          query = function()
            local details = { kind = "Table", details = { name = name } }
            error(require("surrealdb.errors").new("QueryError", "statement 1 failed: The table '" .. name
              .. "' does not exist", { kind = kind or "NotFound", details = details }))
          end,
        }
      end

      it("reads no records", function()
        local db = missing("person")
        assert.are.same({}, orm.query(db, "person"):all())
        assert.is_nil(orm.query(db, "person"):first())
        assert.are.equal(0, orm.query(db, "person"):count())
        assert.is_false(orm.query(db, "person"):exists())
        assert.are.same({}, orm.query(db, "person"):update{ a = 1 })
        assert.are.same({}, orm.query(db, "person"):delete())
        assert.are.same({}, orm.query(db, "person:ann"):all())
      end)

      it("still raises for another table or another error", function()
        helper.raises(function() orm.query(missing("other"), "person"):all() end, "The table 'other'", "QueryError")
        helper.raises(function() orm.query(missing("person", "Thrown"), "person"):all() end, "does not exist",
          "QueryError")
        local failing = { query = function() error("boom", 0) end }
        local ok, err = pcall(orm.query(failing, "person").all, orm.query(failing, "person"))
        assert.is_false(ok)
        assert.are.equal("boom", err)
      end)
    end)

    it("update and delete send their statements and return the records", function()
      local db = helper.fake_db({ types.array({ { a = 1 } }), types.array({ { b = 2 } }) })
      assert.are.same({ { a = 1 } }, orm.query(db, "person"):where{ x = 1 }:update{ a = 1 })
      assert.are.equal("UPDATE person MERGE $data WHERE x = $p1", db.calls[1].sql)
      assert.are.same({ { b = 2 } }, orm.query(db, "person"):where{ x = 1 }:delete())
      assert.are.equal("DELETE person WHERE x = $p1 RETURN BEFORE", db.calls[2].sql)
    end)
  end)
end)
