-- Unit specs of surrealdb.types.null (no server needed).
local sentinels = require("surrealdb.types.null")

local raises = require("spec.helper").raises

describe("null and NONE", function()
  local null, NONE = sentinels.null, sentinels.NONE

  it("are two distinct, unique tables", function()
    assert.equal("table", type(null))
    assert.equal("table", type(NONE))
    assert.is_false(rawequal(null, NONE))
    assert.is_true(rawequal(null, require("surrealdb.types.null").null))
    assert.is_true(rawequal(null, require("surrealdb.types").null))
    assert.is_true(rawequal(NONE, require("surrealdb").NONE))
  end)

  it("write NULL and NONE and have names", function()
    assert.equal("NULL", tostring(null))
    assert.equal("NONE", tostring(NONE))
    assert.equal("surrealdb.null", getmetatable(null))
    assert.equal("surrealdb.NONE", getmetatable(NONE))
  end)

  it("are immutable", function()
    local err = raises(function() null.x = 1 end, "NULL is immutable: cannot set field x")
    assert.equal("x", err.details.key)
    raises(function() NONE[1] = true end, "NONE is immutable")
    assert.is_nil(next(null))
    assert.has_error(function() setmetatable(null, nil) end)
  end)
end)
