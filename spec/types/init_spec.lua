-- Unit specs of surrealdb.types (surql and the escaping rules) and of the package entry
-- require("surrealdb") (no server needed).
local errors = require("surrealdb.errors")
local types = require("surrealdb.types")

local raises = require("spec.helper").raises

local surql = types.surql

describe("surrealdb.types", function()
  it("exports every type, the sentinels and the markers", function()
    for _, name in ipairs({ "RecordID", "Table", "Uuid", "Datetime", "Duration", "Decimal", "Range", "Geometry",
      "Future", "File", "Set", "Bytes", "Tagged" }) do
      local class = types[name]
      assert.equal(require("surrealdb.types." .. (name == "RecordID" and "record_id" or name:lower())), class)
      assert.equal("surrealdb." .. name, class.__name)
      assert.equal(class, class.__index)
      assert.equal("function", type(class.__tostring))
      assert.equal("function", type(class.__eq))
    end
    assert.equal(require("surrealdb.types.null").null, types.null)
    assert.equal(require("surrealdb.types.shape").array_mt, types.array_mt)
    assert.equal("function", type(types.array))
  end)

  it("names the type of a value", function()
    assert.equal("RecordID", types.type_of(types.RecordID("t", 1)))
    assert.equal("Set", types.type_of(types.Set{}))
    assert.is_nil(types.type_of({}))
    assert.is_nil(types.type_of("x"))
  end)

  describe("surql", function()
    it("writes scalars as SurrealDB does", function()
      assert.equal("NONE", surql(nil))
      assert.equal("NULL", surql(types.null))
      assert.equal("NONE", surql(types.NONE))
      assert.equal("true", surql(true))
      assert.equal("false", surql(false))
      assert.equal("0", surql(0))
      assert.equal("-5", surql(-5))
      assert.equal("9223372036854775807", surql(math.maxinteger))
      assert.equal("-9223372036854775808", surql(math.mininteger))
      assert.equal("0f", surql(0.0))
      assert.equal("5f", surql(5.0))
      assert.equal("-5.5f", surql(-5.5))
      assert.equal("3.12345f", surql(3.12345))
    end)

    it("writes strings quoted and escaped as SurrealDB does", function()
      assert.equal("''", surql(""))
      assert.equal("'hello world'", surql("hello world"))
      assert.equal("\"escap'd\"", surql("escap'd"))
      assert.equal("'\"escaped\"'", surql('"escaped"'))
      assert.equal("\"mix'd \\\"quotes\\\"\"", surql("mix'd \"quotes\""))
      assert.equal("'tab\\there'", surql("tab\there"))
      assert.equal("'new\\nline'", surql("new\nline"))
      assert.equal("'back\\\\slash'", surql("back\\slash"))
      assert.equal("'\\0\\r\\f\\u{8}'", surql("\0\r\f\b"))
      assert.equal("'你好'", surql("你好"))
      assert.equal("'emoji 🎉'", surql("emoji 🎉"))
    end)

    it("writes arrays and objects, objects with sorted keys", function()
      assert.equal("[]", surql(types.array()))
      assert.equal("[1]", surql({ 1 }))
      assert.equal("['hello', 42, true]", surql({ "hello", 42, true }))
      assert.equal("[[1, 2], [3]]", surql({ { 1, 2 }, { 3 } }))
      assert.equal("{  }", surql({}))
      assert.equal("{  }", surql(types.object()))
      assert.equal("{ hello: 'world' }", surql({ hello = "world" }))
      assert.equal("{ age: 30, name: 'John' }", surql({ name = "John", age = 30 }))
      assert.equal("{ user: { name: 'Jane' } }", surql({ user = { name = "Jane" } }))
      assert.equal("{ items: [1, 2] }", surql({ items = { 1, 2 } }))
      assert.equal('{ "1a": 1, _c: 3, "a b": 2, "d\\"e": 4 }', surql({ ["a b"] = 2, ["1a"] = 1, _c = 3, ['d"e'] = 4 }))
      assert.equal("{ \"1\": 'one' }", surql(types.object({ ["1"] = "one" })))
    end)

    it("writes values of the types with their tostring", function()
      local value = {
        id = types.RecordID("person", "tobie"), at = types.Datetime(0), d = types.Duration(90),
        tags = types.Set{ "a" }, n = types.Decimal("1.50"), u = types.Uuid("0190a5c8-6a9e-7d4c-8000-0123456789ab"),
      }
      assert.equal("{ at: d'1970-01-01T00:00:00Z', d: 1m30s, id: person:tobie, n: 1.50dec, tags: {'a',}, "
        .. "u: u'0190a5c8-6a9e-7d4c-8000-0123456789ab' }", surql(value))
    end)

    it("rejects what SurrealQL cannot write, naming the path", function()
      local err = raises(function() surql({ a = { print } }) end, "cannot write a function at $.a[1]")
      assert.equal("$.a[1]", err.details.path)
      raises(function() surql({ 1, x = 2 }) end, "has a key that is not a string: 1 (number)")
      raises(function() surql(types.array({ 1, x = 2 })) end, "array at $ has a key that is not 1..1: x")
      raises(function() surql({ [true] = 1 }) end, "has a key that is not a string: true (boolean)")
      raises(function() surql(setmetatable({}, { __name = "Other" })) end, "foreign metatable (Other)")
      raises(function() surql(coroutine.create(print)) end, "cannot write a thread")
      local cycle = {}
      cycle.self = cycle
      raises(function() surql(cycle) end, "nested deeper than 512 levels")
    end)
  end)

  describe("float_text", function()
    it("writes the shortest exact decimal, without exponents", function()
      assert.equal("0.1f", types.float_text(0.1))
      assert.equal("0.30000000000000004f", types.float_text(0.1 + 0.2))
      assert.equal("1000000000000000000000f", types.float_text(1e21))
      assert.equal("0.0000001f", types.float_text(1e-7))
      assert.equal("123456789012345680000f", types.float_text(123456789012345678901.0))
      assert.equal("2f", types.float_text(2))
      assert.equal("-0f", types.float_text(-0.0))
      assert.equal("NaN", types.float_text(0 / 0))
      assert.equal("Infinity", types.float_text(math.huge))
      assert.equal("-Infinity", types.float_text(-math.huge))
      assert.equal("17976931348623157" .. string.rep("0", 292) .. "f", types.float_text(1.7976931348623157e308))
      assert.equal("0." .. string.rep("0", 323) .. "5f", types.float_text(5e-324))
    end)

    it("reads back as the same float", function()
      local seed = 42
      for _ = 1, 3000 do
        seed = seed * 6364136223846793005 + 1442695040888963407
        local x = string.unpack("d", string.pack("i8", seed))
        if x == x and x ~= math.huge and x ~= -math.huge then
          local text = types.float_text(x)
          local y = tonumber(text:sub(1, -2))
          assert.equal(x, math.type(y) == "integer" and y + 0.0 or y, text)
          assert.is_nil(text:find("e"))
        end
      end
    end)
  end)

  describe("escaping", function()
    it("escapes identifiers by SurrealDB's rules", function()
      assert.equal("person", types.escape_ident("person"))
      assert.equal("⟨my table⟩", types.escape_ident("my table"))
      assert.equal("⟨1a⟩", types.escape_ident("1a"))
      assert.equal("⟨⟩", types.escape_ident(""))
      -- A ⟩ in the text: backticks, since SurrealDB 3.0 rejects the \⟩ escape.
      assert.equal("`a⟩\\\\`", types.escape_ident("a⟩\\"))
      assert.equal("`a⟩\\``", types.escape_ident("a⟩`"))
    end)

    it("escapes record keys by SurrealDB's rules", function()
      assert.equal("tobie", types.escape_record_key("tobie"))
      assert.equal("1a", types.escape_record_key("1a"))
      assert.equal("⟨100⟩", types.escape_record_key("100"))
      assert.equal("⟨_⟩", types.escape_record_key("_"))
      assert.equal("⟨a b⟩", types.escape_record_key("a b"))
    end)

    it("escapes object keys and quotes strings", function()
      assert.equal("name", types.escape_object_key("name"))
      assert.equal('"first name"', types.escape_object_key("first name"))
      assert.equal('"1"', types.escape_object_key("1"))
      assert.equal("'it'", types.quote_string("it"))
      assert.equal('"it\'s"', types.quote_string("it's"))
    end)
  end)
end)

describe("require('surrealdb')", function()
  local surrealdb = require("surrealdb")

  it("exports the sentinels, markers, errors and constructors", function()
    assert.equal(types.null, surrealdb.null)
    assert.equal(types.NONE, surrealdb.NONE)
    assert.equal(types.array, surrealdb.array)
    assert.equal(types.object, surrealdb.object)
    assert.equal(errors, surrealdb.errors)
    for _, name in ipairs({ "RecordID", "Table", "Uuid", "Datetime", "Duration", "Decimal", "Range", "Geometry",
      "Future", "File", "Set", "Bytes", "Tagged" }) do
      assert.equal(types[name], surrealdb[name])
    end
    assert.equal("person:tobie", tostring(surrealdb.RecordID("person", "tobie")))
    assert.equal("(1f, 2f)", tostring(surrealdb.Geometry.point(1, 2)))
  end)

  it("loads surrealdb.cbor on first use", function()
    local cbor = surrealdb.cbor
    assert.equal(require("surrealdb.cbor"), cbor)
    assert.equal(cbor, rawget(surrealdb, "cbor"))
    assert.is_nil(surrealdb.no_such_thing)
  end)
end)
