-- Unit specs of surrealdb.types.set (no server needed).
local types = require("surrealdb.types")
local Set = require("surrealdb.types.set")
local RecordID = require("surrealdb.types.record_id")

local raises = require("spec.helper").raises

describe("Set", function()
  it("holds its items in the array part, in order, without duplicates", function()
    local s = Set{ "a", "b", "a", 1, 1.0 }
    assert.equal(Set, getmetatable(s))
    assert.equal("surrealdb.Set", getmetatable(s).__name)
    assert.equal(3, #s)
    local items = {}
    for i, v in ipairs(s) do items[i] = v end
    assert.same({ "a", "b", 1 }, items)
    local keys = 0
    for _ in pairs(s) do keys = keys + 1 end
    assert.equal(3, keys)
  end)

  it("removes deeply equal tables and values of the types", function()
    local s = Set{ { 1, 2 }, types.array({ 1, 2 }), RecordID("t", 1), RecordID("t", 1), { a = 1 } }
    assert.equal(3, #s)
  end)

  it("copies its argument", function()
    local items = { 1, 2 }
    local s = Set(items)
    items[3] = 3
    assert.equal(2, #s)
    assert.equal(s, Set(s))
  end)

  it("makes sets with Set.of and Set()", function()
    assert.equal(Set{ "a", "b" }, Set.of("a", "b"))
    assert.equal(0, #Set())
    assert.equal(0, #Set.of())
    raises(function() Set.of(1, nil, 2) end, "argument 2 is nil")
  end)

  it("rejects what is not an array", function()
    raises(function() Set{ a = 1 } end, "items must be an array (keys 1..n), got a table with other keys")
    raises(function() Set("abc") end, "got string")
  end)

  it("has and add", function()
    local s = Set{ { 1 } }
    assert.is_true(s:has({ 1 }))
    assert.is_false(s:has(1))
    assert.equal(s, s:add(2):add(2):add({ 1 }))
    assert.equal(2, #s)
    raises(function() s:add(nil) end, "cannot add nil")
  end)

  it("writes SurrealQL 3's set literals", function()
    assert.equal("{,}", tostring(Set{}))
    assert.equal("{1,}", tostring(Set{ 1 }))
    assert.equal("{1, 'a', [2]}", tostring(Set{ 1, "a", { 2 } }))
    assert.equal("{person:tobie, NULL}", tostring(Set{ RecordID("person", "tobie"), types.null }))
  end)

  it("compares items in any order", function()
    assert.equal(Set{ 1, 2 }, Set{ 2, 1 })
    assert.not_equal(Set{ 1, 2 }, Set{ 1 })
    assert.not_equal(Set{ 1, 2 }, Set{ 1, 3 })
    assert.is_false(Set{ 1 } == types.array({ 1 }))
  end)
end)
