-- Unit specs of surrealdb.types.future (no server needed).
local Future = require("surrealdb.types.future")

local raises = require("spec.helper").raises

describe("Future", function()
  it("makes { body } instances of the class", function()
    local f = Future("{ time::now() }")
    assert.equal(Future, getmetatable(f))
    assert.equal("surrealdb.Future", getmetatable(f).__name)
    assert.equal("{ time::now() }", f.body)
    assert.equal(f, Future.new("{ time::now() }"))
  end)

  it("rejects bodies that are not strings", function()
    raises(function() Future() end, "body must be a string of SurrealQL, got nil")
    raises(function() Future(1) end, "got number")
  end)

  it("writes <future> and the block", function()
    assert.equal("<future> { time::now() }", tostring(Future("{ time::now() }")))
    assert.equal("<future> { 1 + 1 }", tostring(Future("1 + 1")))
    assert.equal("<future> {}", tostring(Future("")))
    assert.equal("1 + 1", Future("1 + 1").body)
  end)

  it("compares bodies", function()
    assert.equal(Future("{ 1 }"), Future("{ 1 }"))
    assert.not_equal(Future("{ 1 }"), Future("{ 2 }"))
  end)
end)
