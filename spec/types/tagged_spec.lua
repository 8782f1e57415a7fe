-- Unit specs of surrealdb.types.tagged (no server needed).
local Tagged = require("surrealdb.types.tagged")

local raises = require("spec.helper").raises

describe("Tagged", function()
  it("makes { tag, value } instances of the class", function()
    local t = Tagged(1000, "payload")
    assert.equal(Tagged, getmetatable(t))
    assert.equal("surrealdb.Tagged", getmetatable(t).__name)
    assert.equal(1000, t.tag)
    assert.equal("payload", t.value)
    assert.equal(t, Tagged.new(1000, "payload"))
  end)

  it("rejects tags that are not integers and nil values", function()
    raises(function() Tagged(1.5, "x") end, "tag must be an integer, got 1.5")
    raises(function() Tagged("1", "x") end, "got 1 (string)")
    raises(function() Tagged(1) end, "value must not be nil")
  end)

  it("writes a readable, non-SurrealQL form with unsigned tags", function()
    assert.equal("Tagged(1000, 'payload')", tostring(Tagged(1000, "payload")))
    assert.equal("Tagged(32, [1, { a: true }])", tostring(Tagged(32, { 1, { a = true } })))
    assert.equal("Tagged(18446744073709551615, 0)", tostring(Tagged(-1, 0)))
    assert.equal("Tagged(9223372036854775808, 0)", tostring(Tagged(math.mininteger, 0)))
  end)

  it("compares tag and value deeply", function()
    assert.equal(Tagged(1, { "a" }), Tagged(1, { "a" }))
    assert.not_equal(Tagged(1, "a"), Tagged(2, "a"))
    assert.not_equal(Tagged(1, "a"), Tagged(1, "b"))
  end)
end)
