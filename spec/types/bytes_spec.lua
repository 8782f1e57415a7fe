-- Unit specs of surrealdb.types.bytes (no server needed).
local Bytes = require("surrealdb.types.bytes")

local raises = require("spec.helper").raises

describe("Bytes", function()
  it("wraps raw bytes as { data }", function()
    local b = Bytes("\1\2\255")
    assert.equal(Bytes, getmetatable(b))
    assert.equal("surrealdb.Bytes", getmetatable(b).__name)
    assert.equal("\1\2\255", b.data)
    assert.equal(3, #b)
    assert.equal(0, #Bytes(""))
    assert.equal(b, Bytes.new("\1\2\255"))
    raises(function() Bytes(5) end, "data must be a string of bytes, got number")
  end)

  it("converts from and to hexadecimal", function()
    assert.equal("0102ff", Bytes("\1\2\255"):hex())
    assert.equal(Bytes("\202\254"), Bytes.from_hex("CAfe"))
    assert.equal(Bytes(""), Bytes.from_hex(""))
    raises(function() Bytes.from_hex("abc") end, 'expected an even number of hexadecimal digits, got "abc"')
    raises(function() Bytes.from_hex("zz") end, "hexadecimal digits")
  end)

  it("writes b\"HEX\" in upper case, as SurrealDB does", function()
    assert.equal('b""', tostring(Bytes("")))
    assert.equal('b"010203"', tostring(Bytes("\1\2\3")))
    assert.equal('b"FF0080"', tostring(Bytes("\255\0\128")))
  end)

  it("compares data", function()
    assert.equal(Bytes("a"), Bytes("a"))
    assert.not_equal(Bytes("a"), Bytes("b"))
  end)
end)
