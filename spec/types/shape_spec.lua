-- Unit specs of surrealdb.types.shape (no server needed).
local shape = require("surrealdb.types.shape")
local RecordID = require("surrealdb.types.record_id")
local Uuid = require("surrealdb.types.uuid")

local raises = require("spec.helper").raises

describe("shape", function()
  it("marks arrays and objects in place or on a new table", function()
    local t = { 1, 2 }
    assert.equal(t, shape.array(t))
    assert.equal(shape.array_mt, getmetatable(t))
    assert.equal(shape.array_mt, getmetatable(shape.array()))
    assert.equal(shape.object_mt, getmetatable(shape.object()))
    local o = {}
    assert.equal(o, shape.object(o))
    assert.equal(t, shape.array(t)) -- marking twice is fine
    assert.equal("surrealdb.array", shape.array_mt.__name)
    assert.equal("surrealdb.object", shape.object_mt.__name)
  end)

  it("refuses non-tables and tables of other classes", function()
    raises(function() shape.array(5) end, "array expects a table or nil, got number")
    raises(function() shape.object(shape.array()) end, "object expects a plain table, got one with a metatable")
    raises(function() shape.array(RecordID("t", 1)) end, "(surrealdb.RecordID)")
  end)

  it("tells arrays", function()
    assert.is_true(shape.is_array({ 1, 2, 3 }))
    assert.is_true(shape.is_array(shape.array()))
    assert.is_true(shape.is_array({ "a" }))
    assert.is_false(shape.is_array({}))
    assert.is_false(shape.is_array(shape.object()))
    assert.is_false(shape.is_array({ 1, 2, x = 3 }))
    assert.is_false(shape.is_array({ [1] = 1, [3] = 3 }))
    assert.is_false(shape.is_array({ [0] = 1, [1] = 1 }))
    assert.is_false(shape.is_array({ [1.5] = 1 }))
    assert.is_false(shape.is_array("abc"))
    assert.is_false(shape.is_array(setmetatable({ 1 }, {})))
  end)

  it("compares deeply", function()
    assert.is_true(shape.equal({ 1, { a = "x", b = { true } } }, shape.array({ 1, { a = "x", b = { true } } })))
    assert.is_true(shape.equal(1, 1.0))
    assert.is_true(shape.equal({}, shape.array()))
    assert.is_true(shape.equal({}, shape.object()))
    assert.is_false(shape.equal(shape.array(), shape.object()))
    assert.is_false(shape.equal({ 1 }, { 1, 2 }))
    assert.is_false(shape.equal({ 1, 2 }, { 1 }))
    assert.is_false(shape.equal({ a = 1 }, { a = "1" }))
    assert.is_false(shape.equal(0 / 0, 0 / 0))
    assert.is_true(shape.equal({ RecordID("t", { 1 }) }, { RecordID("t", { 1 }) }))
    local u = "0190a5c8-6a9e-7d4c-8000-0123456789ab"
    assert.is_true(shape.equal({ id = Uuid(u) }, { id = Uuid(u:upper()) }))
    assert.is_false(shape.equal(RecordID("t", 1), { tb = "t", id = 1 }))
  end)

  it("stops at cycles", function()
    local a, b = {}, {}
    a.x, b.x = a, b
    raises(function() shape.equal(a, b) end, "nested deeper than 512 levels")
  end)
end)
