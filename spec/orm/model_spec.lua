-- Models: what each method sends (unit, with a stand-in client that records queries), validation
-- before anything is sent, then the issue's example and every method, hook and conversion against
-- the engine (#integration).
local helper = require("spec.helper")
local orm = require("surrealdb.orm")
local f = require("surrealdb.orm.fields")
local types = require("surrealdb.types")
local errors = require("surrealdb.errors")

local function person_fields()
  return {
    name = f.String{ required = true, max_length = 100 },
    age = f.Int{ min = 0, max = 150 },
    email = f.String{ pattern = "^[^@]+@[^@]+$", unique = true },
    tags = f.Array{ of = f.String(), default = types.array },
    friend = f.RecordLink{ "person" },
    address = f.Object{ schema = { city = f.String(), zip = f.String() } },
    created_at = f.DateTime{ auto_now_add = true },
    updated_at = f.DateTime{ auto_now = true },
  }
end

describe("orm.model (unit)", function()
  local db, Person
  before_each(function()
    db = helper.fake_db()
    Person = orm.model("person", person_fields(), { db = db })
  end)

  local function last() return db.calls[#db.calls] end
  local ann_id = types.RecordID("person", "ann")

  it("create sends CREATE ONLY with the checked content, defaults and timestamps", function()
    db.answers = { { id = ann_id, name = "Ann", age = 30, tags = types.array() } }
    local p = Person:create{ name = "Ann", age = 30.0 }
    assert.are.equal("CREATE ONLY person CONTENT $data", last().sql)
    local data = last().vars.data
    assert.are.equal("integer", math.type(data.age))
    assert.is_true(types.is_array(data.tags))
    assert.are.equal(types.Datetime, getmetatable(data.created_at))
    assert.are.equal(types.Datetime, getmetatable(data.updated_at))
    assert.are.equal(ann_id, p.id)
  end)

  it("a record with an id is created with that id", function()
    db.answers = { { id = ann_id, name = "Ann" } }
    Person:create{ id = "ann", name = "Ann" }
    assert.are.equal("CREATE ONLY $id CONTENT $data", last().sql)
    assert.are.equal(ann_id, last().vars.id)
  end)

  it("save sends only the changed fields as a merge, and nothing when nothing changed", function()
    local p = Person:from_table{ id = ann_id, name = "Ann", age = 30, tags = { "a" },
      address = { city = "P", zip = "1" } }
    p:save()
    assert.are.equal(0, #db.calls)
    p.age = 31
    p.tags[#p.tags + 1] = "b"
    p.address.zip = nil
    assert.are.same({ "address", "age", "tags" }, p:changed())
    db.answers = { { id = ann_id, name = "Ann", age = 31 } }
    p:save()
    assert.are.equal("UPDATE ONLY $id MERGE $data", last().sql)
    local data = last().vars.data
    assert.are.equal(31, data.age)
    assert.are.same({ "a", "b" }, data.tags)
    assert.are.equal(types.NONE, data.address.zip) -- MERGE merges objects: a removed key is sent as NONE
    assert.are.equal(types.Datetime, getmetatable(data.updated_at))
    assert.is_nil(data.name)
    assert.are.same({}, p:changed())
  end)

  it("a field set to nil is sent as NONE", function()
    local p = Person:from_table{ id = ann_id, name = "Ann", age = 30 }
    p.age = nil
    db.answers = { { id = ann_id, name = "Ann" } }
    p:save()
    assert.are.equal(types.NONE, last().vars.data.age)
  end)

  it("raises one ValidationError listing every failing field, before anything is sent", function()
    local err = helper.raises(function()
      Person:create{ name = string.rep("x", 101), age = -1, email = "nope", tags = { 1 }, bogus = true }
    end, "person: 5 invalid fields")
    assert.are.same({
      name = "must have at most 100 characters", age = "must be at least 0",
      email = "must match the pattern ^[^@]+@[^@]+$", tags = "item 1: must be a string, got an integer",
      bogus = "is not a field of person",
    }, err.fields)
    assert.are.equal(0, #db.calls)
    err = helper.raises(function() Person:create{} end)
    assert.are.same({ name = "is required" }, err.fields)
  end)

  it("strict models refuse unknown keys in new and when assigned; strict = false keeps them", function()
    helper.raises(function() Person:new{ nmae = "x" } end, "nmae is not a field of person")
    local p = Person:new{ name = "Ann" }
    local err = helper.raises(function() p.nmae = "x" end)
    assert.are.same({ nmae = "is not a field of person" }, err.fields)
    local Loose = orm.model("loose", { name = f.String() }, { db = db, strict = false })
    db.answers = { { id = types.RecordID("loose", 1), name = "A", extra = 1 } }
    local l = Loose:create{ name = "A", extra = 1 }
    assert.are.equal(1, last().vars.data.extra)
    assert.are.equal(1, l.extra)
  end)

  it("a changed readonly field is listed with the other failing fields", function()
    local Coded = orm.model("coded", { code = f.String{ readonly = true }, n = f.Int() }, { db = db })
    local c = Coded:from_table{ id = types.RecordID("coded", 1), code = "a", n = 1 }
    c.code, c.n = "b", "x"
    local err = helper.raises(function() c:save() end, "coded: 2 invalid fields")
    assert.are.same({ code = "is read-only once the record is saved", n = "must be an integer, got a string" },
      err.fields)
    assert.are.equal(0, #db.calls)
  end)

  it("the id of a saved record cannot change", function()
    local p = Person:from_table{ id = ann_id, name = "Ann" }
    helper.raises(function() p.id = types.RecordID("person", "bob") end, "cannot change", "ModelError")
  end)

  it("refuses field names that are methods, and models without a client", function()
    helper.raises(function() orm.model("x", { save = f.String() }) end, "save cannot be a field name", "ModelError")
    helper.raises(function() orm.model("x", { a = "string" }) end, "must be a field", "ModelError")
    helper.raises(function() orm.model("bad-name", {}) end, "identifier", "ModelError")
    helper.raises(function() orm.model("x", {}, { dbb = 1 }) end, "unknown option dbb", "ModelError")
    local NoDb = orm.model("nodb", { a = f.Int() })
    helper.raises(function() NoDb:create{ a = 1 } end, "has no client", "ModelError")
  end)

  it("get, find_by and where compile through orm.query", function()
    db.answers = { types.array{ { id = ann_id, name = "Ann", age = 30.0 } }, types.array(), types.array() }
    local p = Person:get("ann")
    assert.are.equal("SELECT * FROM $id LIMIT $limit", last().sql)
    assert.are.equal(ann_id, last().vars.id)
    assert.are.equal("integer", math.type(p.age))
    assert.is_nil(Person:find_by{ email = "a@x.io" })
    assert.are.equal("SELECT * FROM person WHERE email = $p1 LIMIT $limit", last().sql)
    Person:where{ friend = p, age__gte = 18 }:order_by("-age"):limit(10):fetch("friend"):all()
    assert.are.equal("SELECT * FROM person WHERE age >= $p1 AND friend = $p2 ORDER BY age DESC LIMIT $limit "
      .. "FETCH friend", last().sql)
    assert.are.equal(ann_id, last().vars.p2) -- a record as a filter value is its id
    helper.raises(function() Person:get(types.RecordID("post", 1)) end, "is not a record of person")
  end)

  it("to_table and from_table convert both ways", function()
    local p = Person:from_table{ id = ann_id, name = "Ann", created_at = "2024-01-01T00:00:00Z", tags = { "a" } }
    assert.are.equal(types.Datetime, getmetatable(p.created_at))
    local t = p:to_table()
    assert.are.equal(ann_id, t.id)
    assert.is_nil(getmetatable(t))
    local again = Person:from_table(t)
    assert.are.same(t, again:to_table())
  end)

  it("user methods and hooks are methods of the model", function()
    function Person:greeting() return "hi " .. self.name end
    local p = Person:new{ name = "Ann" }
    assert.are.equal("hi Ann", p:greeting())
    assert.is_nil(p.age) -- a field without a value is nil, not something of the model
  end)
end)

describe("orm.model against the engine #integration", function()
  local surrealdb = require("surrealdb")
  local db, Person

  helper.client_per_block("orm_model", function(client)
    db = client
    Person = orm.model("person", person_fields(), { db = db })
  end)

  it("runs the issue's example", function()
    local p = Person:create{ name = "Ann", age = 30 }
    assert.are.equal("Ann", p.name)
    assert.are.same({}, p.tags)
    assert.are.equal(types.Datetime, getmetatable(p.created_at))
    p.age = 31; p:save()
    assert.are.equal(31, db:query("SELECT VALUE age FROM ONLY $id", { id = p.id }))
    assert.are.equal(31, Person:get(p.id).age)
    assert.are.equal(31, Person:get(tostring(p.id)).age)
    Person:create{ name = "Bob", age = 17, email = "b@x.io" }
    Person:create{ name = "Cy", age = 45 }
    assert.are.equal("Bob", Person:find_by{ email = "b@x.io" }.name)
    local adults = Person:where{ age__gte = 18 }:order_by("-age"):limit(10):all()
    assert.are.same({ "Cy", "Ann" }, { adults[1].name, adults[2].name })
    assert.are.equal("Cy", Person:where{ age__gte = 18 }:order_by("-age"):first().name)
    assert.are.equal(2, Person:where{ age__gte = 18 }:count())
    local seen = {}
    assert.are.equal(3, Person:query():order_by("name"):each(function(r) seen[#seen + 1] = r.name end, 2))
    assert.are.same({ "Ann", "Bob", "Cy" }, seen)
    local page2 = Person:query():order_by("name"):page(2, 2)
    assert.are.equal(1, #page2)
    assert.are.equal("Cy", page2[1].name)
    assert.is_true(p:delete())
    assert.is_nil(Person:get(p.id))
    assert.are.equal(2, Person:query():count())
  end)

  it("save keeps what it did not change and sends what changed inside tables", function()
    local p = Person:create{ name = "Ann", tags = { "a" }, address = { city = "Paris", zip = "75" } }
    db:query("UPDATE $id SET age = 50", { id = p.id }) -- changed elsewhere, not in this record
    p.tags[#p.tags + 1] = "b"
    p.address.zip = nil
    p:save()
    local stored = db:query("SELECT * FROM ONLY $id", { id = p.id })
    assert.are.equal(50, stored.age)
    assert.are.same({ "a", "b" }, stored.tags)
    assert.are.same({ city = "Paris" }, stored.address)
    local before = p.updated_at
    p:save() -- nothing changed: nothing sent
    assert.are.equal(before, p.updated_at)
    assert.are.equal(before, Person:get(p.id).updated_at)
  end)

  it("reads values back as the fields' Lua types and fetches links as records", function()
    local Typed = orm.model("typed", {
      n = f.Int(), x = f.Float(), num = f.Number(), b = f.Bool(), d = f.Decimal(), t = f.DateTime(),
      du = f.Duration(), u = f.Uuid(), by = f.Bytes(), g = f.Geometry{ kind = "point" }, s = f.Set{ of = f.Int() },
      any = f.Any(), link = f.RecordLink{ Person },
    }, { db = db })
    local ann = Person:create{ name = "Ann" }
    local uuid = types.Uuid.v4()
    local r = Typed:create{ n = 1, x = 2, num = 3.5, b = true, d = "12.50", t = "2024-01-01T00:00:00Z", du = "1h",
      u = uuid.value, by = "\0\1", g = { type = "Point", coordinates = { 1, 2 } }, s = { 3, 1, 3 },
      any = { k = { 1, surrealdb.null } }, link = ann }
    local back = Typed:get(r.id)
    assert.are.equal("integer", math.type(back.n))
    assert.are.equal("float", math.type(back.x))
    assert.are.equal(3.5, back.num)
    assert.is_true(back.b)
    assert.are.equal(types.Decimal("12.50"), back.d)
    assert.are.equal(types.Datetime.parse("2024-01-01T00:00:00Z"), back.t)
    assert.are.equal(types.Duration.parse("1h"), back.du)
    assert.are.equal(uuid, back.u)
    assert.are.equal(types.Bytes("\0\1"), back.by)
    assert.are.equal(types.Geometry.point(1, 2), back.g)
    assert.are.equal(types.Set{ 1, 3 }, back.s)
    assert.are.equal(surrealdb.null, back.any.k[2])
    assert.are.equal(ann.id, back.link)
    local fetched = Typed:where{ link = ann }:fetch("link"):first()
    assert.are.equal(Person, require("surrealdb.orm.model").of(fetched.link))
    assert.are.equal("Ann", fetched.link.name)
    -- A fetched link is sent back as its id.
    fetched.n = 2
    fetched:save()
    assert.are.equal(ann.id, db:query("SELECT VALUE link FROM ONLY $id", { id = r.id }))
  end)

  it("runs hooks around save and delete, and a raising before hook stops the write", function()
    local calls = {}
    local Audited = orm.model("audited", { name = f.String() }, {
      db = db,
      before_save = function(r) calls[#calls + 1] = "before_save " .. tostring(r.name) end,
      after_save = function(r) calls[#calls + 1] = "after_save " .. tostring(r.id ~= nil) end,
    })
    function Audited.before_delete() calls[#calls + 1] = "before_delete" end
    function Audited.after_delete() calls[#calls + 1] = "after_delete" end
    local a = Audited:create{ name = "x" }
    a:delete()
    assert.are.same({ "before_save x", "after_save true", "before_delete", "after_delete" }, calls)
    function Audited.before_save() error(errors.new("ValidationError", "no saving today")) end
    helper.raises(function() Audited:create{ name = "y" } end, "no saving today")
    assert.are.equal(0, Audited:query():count())
  end)

  it("a before_save hook may set fields, which are then checked", function()
    local Slugged = orm.model("slugged", { title = f.String(), slug = f.String{ required = true } }, {
      db = db,
      before_save = function(r) r.slug = r.title and r.title:lower():gsub("%s+", "-") end,
    })
    assert.are.equal("hello-world", Slugged:create{ title = "Hello World" }.slug)
    local err = helper.raises(function() Slugged:create{} end)
    assert.are.same({ slug = "is required" }, err.fields)
  end)

  it("refresh reads the record again and get of a missing table is nil", function()
    assert.is_nil(Person:get("nobody"))
    local p = Person:create{ name = "Ann" }
    db:query("UPDATE $id SET age = 9", { id = p.id })
    p.name = "changed"
    p:refresh()
    assert.are.equal("Ann", p.name)
    assert.are.equal(9, p.age)
  end)

  it("a unique field refused by the database raises a QueryError and keeps the record unsaved", function()
    Person:apply_schema()
    Person:create{ name = "A", email = "a@x.io" }
    local dup = Person:new{ name = "B", email = "a@x.io" }
    helper.raises(function() dup:save() end, nil, "QueryError")
    assert.is_nil(dup.id)
  end)

  it("bulk_insert validates every row, then goes through db:bulk", function()
    local err = helper.raises(function() Person:bulk_insert({ { name = "A" }, { age = -1 }, { name = 1 } }) end)
    assert.are.same({ ["[2].name"] = "is required", ["[2].age"] = "must be at least 0",
      ["[3].name"] = "must be a string, got an integer" }, err.fields)
    assert.are.equal(0, Person:query():count())
    local rows = {}
    for i = 1, 250 do rows[i] = { name = "p" .. i, age = i % 100 } end
    Person:bulk_insert(rows, { batch_size = 100 })
    assert.are.equal(250, Person:query():count())
  end)

  it("bulk_insert says when the client has no db:bulk", function()
    local NoBulk = orm.model("nobulk", { name = f.String{ required = true } },
      { db = { query = function() error("no query expected") end } })
    helper.raises(function() NoBulk:bulk_insert({ { name = "A" } }) end, "needs db:bulk", "ModelError")
  end)
end)
