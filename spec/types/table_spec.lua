-- Unit specs of surrealdb.types.table (no server needed).
local errors = require("surrealdb.errors")
local Table = require("surrealdb.types.table")

local function raises(fn, text)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.is_true(errors.is(err, "ValidationError"), "expected a ValidationError, got " .. tostring(err))
  if text then
    assert.is_truthy(err.message:find(text, 1, true), "message " .. string.format("%q", err.message)
      .. " does not contain " .. string.format("%q", text))
  end
  return err
end

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
    assert.equal("⟨a\\⟩b⟩", tostring(Table("a⟩b")))
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
