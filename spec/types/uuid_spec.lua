-- Unit specs of surrealdb.types.uuid (no server needed; v4/v7 use the C core's clock and CSPRNG).
local Uuid = require("surrealdb.types.uuid")

local raises = require("spec.helper").raises

local TEXT = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"

describe("Uuid", function()
  describe("parse", function()
    it("reads the hyphenated form in either case, keeping it lowercase", function()
      local id = Uuid.parse(TEXT:upper())
      assert.equal(Uuid, getmetatable(id))
      assert.equal("surrealdb.Uuid", getmetatable(id).__name)
      assert.equal(TEXT, id.value)
      assert.equal(id, Uuid(TEXT))
      assert.equal(id, Uuid.new(TEXT))
      assert.equal("00000000-0000-0000-0000-000000000000", Uuid.parse("00000000-0000-0000-0000-000000000000").value)
    end)

    it("is strict: no braces, no urn prefix, no missing hyphens", function()
      local err = raises(function() Uuid.parse("{" .. TEXT .. "}") end, "invalid UUID")
      assert.equal("{" .. TEXT .. "}", err.details.input)
      raises(function() Uuid.parse("urn:uuid:" .. TEXT) end, "expected 8-4-4-4-12 hexadecimal digits")
      raises(function() Uuid.parse((TEXT:gsub("-", ""))) end, "invalid UUID")
      raises(function() Uuid.parse(TEXT:sub(1, 35)) end, "invalid UUID")
      raises(function() Uuid.parse(TEXT .. "0") end, "invalid UUID")
      raises(function() Uuid.parse((TEXT:gsub("a", "g", 1))) end, "invalid UUID")
      raises(function() Uuid.parse(" " .. TEXT) end, "invalid UUID")
      raises(function() Uuid.parse(nil) end, "expected a string, got nil")
    end)
  end)

  describe("bytes", function()
    it("round-trips through 16 bytes", function()
      local raw = Uuid.parse(TEXT):bytes()
      assert.equal(16, #raw)
      assert.equal("\160\238\188\153", raw:sub(1, 4))
      assert.equal(TEXT, Uuid.from_bytes(raw).value)
      assert.equal("00000000-0000-0000-0000-000000000000", Uuid.from_bytes(string.rep("\0", 16)).value)
      assert.equal("ffffffff-ffff-ffff-ffff-ffffffffffff", Uuid.from_bytes(string.rep("\255", 16)).value)
    end)

    it("from_bytes wants exactly 16 bytes", function()
      raises(function() Uuid.from_bytes(string.rep("\0", 15)) end, "expected a string of 16 bytes, got 15 bytes")
      raises(function() Uuid.from_bytes(7) end, "got number")
    end)
  end)

  describe("v4", function()
    it("is random with version 4 and the RFC variant", function()
      local seen = {}
      for _ = 1, 200 do
        local id = Uuid.v4()
        assert.equal(4, id:version())
        assert.is_truthy(id.value:sub(20, 20):find("[89ab]"))
        assert.is_nil(seen[id.value])
        seen[id.value] = true
      end
    end)
  end)

  describe("v7", function()
    it("carries the Unix time in milliseconds, version 7 and the RFC variant", function()
      local before = os.time()
      local id = Uuid.v7()
      assert.equal(7, id:version())
      assert.is_truthy(id.value:sub(20, 20):find("[89ab]"))
      local ms = tonumber(id.value:sub(1, 8) .. id.value:sub(10, 13), 16)
      assert.is_true(ms // 1000 >= before - 1 and ms // 1000 <= os.time() + 1)
    end)

    it("is strictly increasing within the process", function()
      local previous = Uuid.v7()
      for _ = 1, 20000 do
        local id = Uuid.v7()
        assert.is_true(previous < id, previous.value .. " should sort before " .. id.value)
        previous = id
      end
    end)
  end)

  describe("version", function()
    it("reads the version digit", function()
      assert.equal(4, Uuid.parse(TEXT):version())
      assert.equal(1, Uuid.parse("c232ab00-9414-11ec-b3c8-9f6bdeced846"):version())
    end)
  end)

  describe("tostring and comparison", function()
    it("writes u'...'", function()
      assert.equal("u'" .. TEXT .. "'", tostring(Uuid.parse(TEXT:upper())))
    end)

    it("compares values and orders by bytes", function()
      assert.equal(Uuid.parse(TEXT), Uuid.parse(TEXT:upper()))
      assert.not_equal(Uuid.parse(TEXT), Uuid.v4())
      local low = Uuid.parse("00000000-0000-0000-0000-000000000001")
      local high = Uuid.parse("f0000000-0000-0000-0000-000000000000")
      assert.is_true(low < high)
      assert.is_true(low <= low)
      assert.is_false(high <= low)
      raises(function() return low < "x" end, "cannot compare a Uuid")
    end)
  end)
end)
