-- Model fields (unit, no server): every field type's check and read conversion, every option, and
-- the errors for options a field does not take.
local helper = require("spec.helper")
local f = require("surrealdb.orm.fields")
local types = require("surrealdb.types")

local function accepts(field, value, expected)
  local ok, result = field:check(value)
  assert(ok, "refused: " .. tostring(result))
  if expected ~= nil then assert.are.same(expected, result) end
  return result
end

local function refuses(field, value, reason)
  local ok, result = field:check(value)
  assert(not ok, "accepted " .. tostring(value))
  if reason then
    assert(result:find(reason, 1, true), ("reason %q does not contain %q"):format(result, reason))
  end
  return result
end

describe("orm.fields types", function()
  it("String takes strings only", function()
    accepts(f.String(), "Ann", "Ann")
    refuses(f.String(), 5, "must be a string, got an integer")
    assert.are.equal("string", f.String():db_type())
  end)

  it("Int takes integers and integral floats, and reads floats back as integers", function()
    assert.are.equal("integer", math.type(accepts(f.Int(), 3.0)))
    refuses(f.Int(), 3.5, "must be an integer, got a float")
    refuses(f.Int(), "3", "got a string")
    assert.are.equal("integer", math.type(f.Int():from_db(7.0)))
  end)

  it("Float makes numbers floats; Number keeps them", function()
    assert.are.equal("float", math.type(accepts(f.Float(), 2)))
    assert.are.equal("float", math.type(f.Float():from_db(2)))
    assert.are.equal("integer", math.type(accepts(f.Number(), 2)))
    refuses(f.Number(), "2", "must be a number")
  end)

  it("Bool takes booleans", function()
    accepts(f.Bool(), false, false)
    refuses(f.Bool(), 0, "true or false")
  end)

  it("Decimal takes Decimals, text and numbers", function()
    assert.are.equal(types.Decimal("12.50"), accepts(f.Decimal(), "12.50"))
    assert.are.equal(types.Decimal("3"), accepts(f.Decimal(), 3))
    refuses(f.Decimal(), "1,5", "must be a decimal")
    assert.are.equal(types.Decimal, getmetatable(f.Decimal():from_db("1.5")))
  end)

  it("DateTime, Duration and Uuid take their values and their text", function()
    assert.are.equal(types.Datetime.parse("2024-01-01T00:00:00Z"), accepts(f.DateTime(), "2024-01-01T00:00:00Z"))
    refuses(f.DateTime(), "yesterday", "unreadable text")
    assert.are.equal(types.Duration.parse("1h30m"), accepts(f.Duration(), "1h30m"))
    refuses(f.Duration(), 90, "must be a duration")
    local u = types.Uuid.v4()
    assert.are.equal(u, accepts(f.Uuid(), u.value))
    refuses(f.Uuid(), "not-a-uuid", "must be a UUID")
    assert.are.equal(types.Datetime, getmetatable(f.DateTime():from_db("2024-01-01T00:00:00Z")))
  end)

  it("Bytes takes Bytes and Lua strings", function()
    assert.are.equal(types.Bytes("ab"), accepts(f.Bytes(), "ab"))
    refuses(f.Bytes(), 1, "must be bytes")
  end)

  it("Geometry takes geometries and GeoJSON, and checks its kind", function()
    local p = types.Geometry.point(1, 2)
    accepts(f.Geometry(), p)
    assert.are.equal(p, accepts(f.Geometry{ kind = "point" }, { type = "Point", coordinates = { 1, 2 } }))
    refuses(f.Geometry{ kind = "line" }, p, "must be a line geometry")
    assert.are.equal("geometry<point>", f.Geometry{ kind = "point" }:db_type())
    helper.raises(function() f.Geometry{ kind = "circle" } end, "option kind must be", "ModelError")
  end)

  it("RecordLink takes ids of its table, their text and saved records", function()
    local link = f.RecordLink{ "person" }
    local id = types.RecordID("person", "ann")
    assert.are.equal(id, accepts(link, id))
    assert.are.equal(id, accepts(link, "person:ann"))
    refuses(link, types.RecordID("post", 1), "must link to a record of person")
    refuses(link, 1, "must be a record id")
    assert.are.equal("record<person>", link:db_type())
    assert.are.equal("record", f.RecordLink():db_type())
  end)

  it("Array checks each item and marks the result as an array", function()
    local tags = f.Array{ of = f.String() }
    local result = accepts(tags, {})
    assert.is_true(types.is_array(result))
    refuses(tags, { "a", 2 }, "item 2: must be a string")
    refuses(tags, { a = 1 }, "must be an array")
    assert.are.equal("array<string>", tags:db_type())
  end)

  it("Set makes a Set from an array and checks items", function()
    local s = accepts(f.Set{ of = f.Int() }, { 1, 2, 2 })
    assert.are.equal(types.Set, getmetatable(s))
    assert.are.equal(2, #s)
    refuses(f.Set{ of = f.Int() }, { "x" }, "item 1")
    assert.are.equal(types.Set, getmetatable(f.Set():from_db(types.array{ 1 })))
  end)

  it("Object checks a nested schema and refuses unknown keys", function()
    local address = f.Object{ schema = { city = f.String{ required = true }, zip = f.Int() } }
    accepts(address, { city = "Paris", zip = 75000 })
    local reason = refuses(address, { zip = "x", street = "y" })
    assert.are.equal("city: is required; street: is not a field of this object; zip: must be an integer, got a string",
      reason)
    accepts(f.Object(), { anything = { 1, 2 } })
  end)

  it("Any takes any value a record can hold, null included", function()
    accepts(f.Any(), types.null)
    accepts(f.Any(), { 1, { a = true } })
    refuses(f.Any(), print, "cannot hold")
  end)

  it("null is refused by typed fields", function()
    refuses(f.String(), types.null, "must not be null")
  end)
end)

describe("orm.fields options", function()
  it("required refuses nil and NONE", function()
    refuses(f.String{ required = true }, nil, "is required")
    refuses(f.String{ required = true }, types.NONE, "is required")
    assert.is_true((f.String():check(nil)))
  end)

  it("default is a value or a function called each time, copied when a table", function()
    assert.are.equal(3, f.Int{ default = 3 }:default_value())
    local n = 0
    local counter = f.Int{ default = function() n = n + 1; return n end }
    assert.are.equal(1, counter:default_value())
    assert.are.equal(2, counter:default_value())
    local field = f.Array{ default = { "a" } }
    local a, b = field:default_value(), field:default_value()
    a[2] = "b"
    assert.are.same({ "a" }, b)
    helper.raises(function() f.Int{ default = "x" } end, "the default must be an integer", "ModelError")
  end)

  it("choices", function()
    local role = f.String{ choices = { "admin", "user" } }
    accepts(role, "user")
    refuses(role, "root", "must be one of 'admin', 'user'")
  end)

  it("min and max for numbers, decimals, datetimes and durations", function()
    refuses(f.Int{ min = 0 }, -1, "must be at least 0")
    refuses(f.Float{ max = 1.5 }, 2, "must be at most 1.5")
    refuses(f.Decimal{ max = "10" }, "10.01", "must be at most 10dec")
    refuses(f.DateTime{ min = "2024-01-01T00:00:00Z" }, "2023-12-31T00:00:00Z", "must be at least")
    refuses(f.Duration{ max = "1h" }, "2h", "must be at most 1h")
    helper.raises(function() f.String{ min = 1 } end, "unknown option min", "ModelError")
  end)

  it("min_length and max_length count characters of strings and items of arrays and sets", function()
    accepts(f.String{ max_length = 2 }, "éé")
    refuses(f.String{ max_length = 2 }, "abc", "must have at most 2 characters")
    refuses(f.String{ min_length = 1 }, "", "must have at least 1 characters")
    refuses(f.Array{ max_length = 1 }, { 1, 2 }, "must have at most 1 items")
    refuses(f.Set{ min_length = 2 }, { 1 }, "must have at least 2 items")
    helper.raises(function() f.Int{ max_length = 1 } end, "unknown option max_length", "ModelError")
  end)

  it("pattern is a Lua pattern", function()
    local email = f.String{ pattern = "^[^@]+@[^@]+$" }
    accepts(email, "a@x.io")
    refuses(email, "a@b@c", "must match the pattern")
    helper.raises(function() f.String{ pattern = "[" } end, "a valid Lua pattern", "ModelError")
  end)

  it("validators accept with true or nothing and refuse with false, a reason, or an error", function()
    local even = f.Int{ validators = {
      function(v) return v % 2 == 0, "must be even" end,
      function(v) if v > 100 then return "must be small" end end,
      function(v) if v == 42 then error("no 42") end end,
    } }
    accepts(even, 4)
    refuses(even, 3, "must be even")
    refuses(even, 102, "must be small")
    refuses(even, 42, "validator failed")
  end)

  it("takes readonly, unique, description, auto_now and auto_now_add, and refuses the wrong kinds", function()
    local field = f.DateTime{ readonly = true, unique = true, description = "when", auto_now = true,
      auto_now_add = true }
    assert.is_true(field.readonly and field.unique and field.auto_now and field.auto_now_add)
    helper.raises(function() f.String{ auto_now = true } end, "unknown option auto_now", "ModelError")
    helper.raises(function() f.String{ required = "yes" } end, "option required must be true or false", "ModelError")
    helper.raises(function() f.String{ nope = 1 } end, "unknown option nope", "ModelError")
    helper.raises(function() f.Array{ of = "string" } end, "option of must be a field", "ModelError")
  end)
end)
