-- Unit specs of surrealdb.types.table (no server needed).
local Table = require("surrealdb.types.table")

local raises = require("spec.helper").raises

describe("Table", function()
  it("makes { name } instances of the class", function()
    local t = Table("person")
    assert.equal(Table, getmetatable(t))
    assert.equal("surrealdb.Table", getmetatable(t).__name)
    assert.same({ name = "person" }, setmetatable(t, nil) and t)
    assert.equal(Table.new("x"), Table("x"))
  end)

  it("rejects names that are not non-empty strings", function()
    raises(function() Table() end, "name must be a non-empty string, got nil")
    raises(function() Table("") end, "got an empty string")
    raises(function() Table(1) end, "got number")
  end)

  it("writes the escaped identifier", function()
    assert.equal("person", tostring(Table("person")))
    assert.equal("_person_2", tostring(Table("_person_2")))
    assert.equal("⟨my table⟩", tostring(Table("my table")))
    assert.equal("⟨1abc⟩", tostring(Table("1abc")))
    assert.equal("⟨escap'd⟩", tostring(Table("escap'd")))
    assert.equal("`a⟩b`", tostring(Table("a⟩b")))
    assert.equal("⟨NaN⟩", tostring(Table("NaN")))
    assert.equal("⟨Infinity⟩", tostring(Table("Infinity")))
    assert.equal("⟨día⟩", tostring(Table("día")))
    assert.equal("select", tostring(Table("select"))) -- keywords are not escaped, as in SurrealDB's display
  end)

  it("compares by name", function()
    assert.equal(Table("a"), Table("a"))
    assert.not_equal(Table("a"), Table("b"))
    assert.is_false(Table("a") == { name = "a" })
  end)
end)
