-- surrealdb.cbor: round trips of every value kind, the exact bytes of each tag, and encode errors.
local cbor = require("surrealdb.cbor")
local errors = require("surrealdb.errors")
local null = require("surrealdb.types.null")
local shape = require("surrealdb.types.shape")
local RecordID = require("surrealdb.types.record_id")
local Table = require("surrealdb.types.table")
local Uuid = require("surrealdb.types.uuid")
local Datetime = require("surrealdb.types.datetime")
local Duration = require("surrealdb.types.duration")
local Decimal = require("surrealdb.types.decimal")
local Range = require("surrealdb.types.range")
local Geometry = require("surrealdb.types.geometry")
local Future = require("surrealdb.types.future")
local File = require("surrealdb.types.file")
local Set = require("surrealdb.types.set")
local Bytes = require("surrealdb.types.bytes")
local Tagged = require("surrealdb.types.tagged")
local Encoded = cbor.Encoded

-- Values are built from the field layouts of the contract between the codec and the types, so this
-- spec tests the codec alone, whatever the constructors check.
local function make(class, fields) return setmetatable(fields, class) end

local function bytes_of(hex)
  hex = hex:gsub("%s", "")
  return (hex:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

local function hex_of(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function is_shape(mt) return mt == nil or mt == shape.array_mt or mt == shape.object_mt end

-- Deep equality: same Lua types and number subtypes, same class (a shape marker counts as none),
-- same raw fields. NaN equals NaN.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if a ~= a then return b ~= b end
    return a == b and (a ~= 0 or 1 / a == 1 / b)
  end
  if type(a) ~= "table" then return a == b end
  if a == b then return true end
  local ma, mb = getmetatable(a), getmetatable(b)
  if ma ~= mb and not (is_shape(ma) and is_shape(mb)) then return false end
  for k, v in next, a do
    if not same(v, rawget(b, k)) then return false end
  end
  for k in next, b do
    if rawget(a, k) == nil then return false end
  end
  return true
end

local function render(v, depth)
  depth = depth or 0
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) .. (math.type(v) == "float" and "f" or "") end
  if depth > 6 then return "{...}" end
  local mt = getmetatable(v)
  local parts = {}
  for k, x in next, v do parts[#parts + 1] = tostring(k) .. "=" .. render(x, depth + 1) end
  table.sort(parts)
  local name = mt and rawget(mt, "__name") or ""
  return name .. "{" .. table.concat(parts, ", ") .. "}"
end

local function assert_same(expected, actual)
  if not same(expected, actual) then
    error("expected " .. render(expected) .. "\n     got " .. render(actual), 2)
  end
end

-- Encodes to the exact bytes, and decodes them back to the same value.
local function assert_bytes(value, hex, ...)
  local decoded = value
  if select("#", ...) > 0 then decoded = ... end
  assert.are.equal((hex:gsub("%s", "")), hex_of(cbor.encode(value)))
  assert_same(decoded, cbor.decode(bytes_of(hex)))
end

local function encode_error(value)
  local ok, err = pcall(cbor.encode, value)
  assert.is_false(ok, "encode should have failed")
  assert.is_true(errors.is(err, "EncodeError"), "not an EncodeError: " .. tostring(err))
  return err
end

local function decode_error(hex)
  local ok, err = pcall(cbor.decode, bytes_of(hex))
  assert.is_false(ok, "decode should have failed")
  assert.is_true(errors.is(err, "DecodeError"), "not a DecodeError: " .. tostring(err))
  return err
end

local uuid_text = "0190d4a4-9b3c-7d2e-8f00-123456789abc"
local uuid_hex = "0190d4a49b3c7d2e8f00123456789abc"

describe("surrealdb.cbor", function()
  describe("integers", function()
    it("use the shortest head at every boundary", function()
      local cases = {
        { 0, "00" }, { 1, "01" }, { 23, "17" }, { 24, "1818" }, { 255, "18ff" }, { 256, "190100" },
        { 65535, "19ffff" }, { 65536, "1a00010000" }, { 4294967295, "1affffffff" },
        { 4294967296, "1b0000000100000000" }, { math.maxinteger, "1b7fffffffffffffff" },
        { -1, "20" }, { -24, "37" }, { -25, "3818" }, { -256, "38ff" }, { -257, "390100" },
        { -65537, "3a00010000" }, { -4294967297, "3b0000000100000000" },
        { math.mininteger, "3b7fffffffffffffff" },
      }
      for _, c in ipairs(cases) do assert_bytes(c[1], c[2]) end
    end)

    it("read non-shortest heads", function()
      assert.are.equal(1, cbor.decode(bytes_of("1b0000000000000001")))
      assert.are.equal(-1, cbor.decode(bytes_of("3800")))
      assert.are.equal(10, cbor.decode(bytes_of("19000a")))
    end)
  end)

  describe("floats", function()
    it("are written as float64 and keep the float subtype", function()
      assert_bytes(1.5, "fb3ff8000000000000")
      assert_bytes(1.0, "fb3ff0000000000000")
      assert_bytes(-0.0, "fb8000000000000000")
      assert_bytes(math.huge, "fb7ff0000000000000")
      assert_bytes(-math.huge, "fbfff0000000000000")
      assert_bytes(0.1, "fb3fb999999999999a")
      local nan = cbor.decode(cbor.encode(0 / 0))
      assert.is_true(nan ~= nan)
    end)

    it("read float16 and float32", function()
      assert_same(1.0, cbor.decode(bytes_of("f93c00")))
      assert_same(-2.0, cbor.decode(bytes_of("f9c000")))
      assert_same(65504.0, cbor.decode(bytes_of("f97bff")))
      assert_same(5.960464477539063e-8, cbor.decode(bytes_of("f90001")))
      assert_same(math.huge, cbor.decode(bytes_of("f97c00")))
      local nan = cbor.decode(bytes_of("f97e00"))
      assert.is_true(nan ~= nan)
      assert_same(100000.0, cbor.decode(bytes_of("fa47c35000")))
      assert_same(0.5, cbor.decode(bytes_of("fa3f000000")))
    end)
  end)

  describe("strings and bytes", function()
    it("write text with the shortest length head", function()
      assert_bytes("", "60")
      assert_bytes("a", "6161")
      assert_bytes("héllo", "6668c3a96c6c6f")
      assert_bytes(("x"):rep(23), "77" .. ("78"):rep(23))
      assert_bytes(("x"):rep(24), "7818" .. ("78"):rep(24))
      assert_bytes(("x"):rep(256), "790100" .. ("78"):rep(256))
      assert_bytes("日本語 🎉", "6e" .. hex_of("日本語 🎉"))
    end)

    it("write Bytes as CBOR byte strings and read byte strings as Bytes", function()
      assert_bytes(make(Bytes, { data = "" }), "40")
      assert_bytes(make(Bytes, { data = "\0\1\255" }), "430001ff")
      assert.are.equal(Bytes, getmetatable(cbor.decode(bytes_of("4100"))))
    end)

    it("round trip long strings", function()
      local s = ("0123456789abcdef"):rep(5000)
      assert.are.equal(s, cbor.decode(cbor.encode(s)))
      local b = make(Bytes, { data = ("\255\0"):rep(40000) })
      assert_same(b, cbor.decode(cbor.encode(b)))
    end)
  end)

  describe("booleans, NULL and NONE", function()
    it("have their simple values", function()
      assert_bytes(true, "f5")
      assert_bytes(false, "f4")
      assert_bytes(null.null, "f6")
      assert_bytes(null.NONE, "c6f6")
      assert.are.equal(null.null, cbor.decode(bytes_of("f6")))
      assert.are.equal(null.NONE, cbor.decode(bytes_of("c6f6")))
    end)

    it("read CBOR undefined and tag 6 with any content as NONE", function()
      assert.are.equal(null.NONE, cbor.decode(bytes_of("f7")))
      assert.are.equal(null.NONE, cbor.decode(bytes_of("c601")))
      assert.are.equal(null.NONE, cbor.decode(bytes_of("c6a0")))
    end)
  end)

  describe("arrays and objects", function()
    it("encode 1..n tables as arrays and mark every decoded array", function()
      assert_bytes({ 1, 2, 3 }, "83010203")
      local decoded = cbor.decode(bytes_of("83010203"))
      assert.are.equal(shape.array_mt, getmetatable(decoded))
      assert.are.equal(shape.array_mt, getmetatable(cbor.decode(bytes_of("80"))))
      assert.are.equal(shape.array_mt, getmetatable(cbor.decode(bytes_of("9fff"))))
    end)

    it("encode the empty table as an empty object and an empty marked array as an array", function()
      assert_bytes({}, "a0")
      assert_bytes(shape.array(), "80")
      assert_bytes(shape.object(), "a0")
      local decoded = cbor.decode(bytes_of("80"))
      assert.are.equal("80", hex_of(cbor.encode(decoded)))
      decoded = cbor.decode(bytes_of("8101"))
      decoded[1] = nil
      assert.are.equal("80", hex_of(cbor.encode(decoded)), "an emptied array stays an array")
    end)

    it("keep NULL items and nested arrays", function()
      assert_bytes({ null.null, 1, null.null }, "83f601f6")
      assert_bytes({ {}, shape.array(), { { 1 } } }, "83a080818101")
      assert_bytes({ null.NONE }, "81c6f6")
    end)

    it("encode objects with string keys", function()
      assert_bytes({ a = 1 }, "a1616101")
      assert_bytes({ ["key with space"] = "v" }, "a16e6b65792077697468207370616365" .. "6176")
      local value = { name = "Tobie", age = 33, tags = { "a", "b" }, nested = { x = { y = { z = true } } } }
      assert_same(value, cbor.decode(cbor.encode(value)))
    end)

    it("write heads of every size for arrays and objects", function()
      for _, n in ipairs({ 23, 24, 255, 256, 65535, 65536 }) do
        local array, object = {}, {}
        for i = 1, n do
          array[i] = i % 7
          object["k" .. i] = i
        end
        local encoded = cbor.encode(array)
        assert.are.equal(n < 24 and 0x80 + n or (n < 256 and 0x98 or (n < 65536 and 0x99 or 0x9a)), encoded:byte(1))
        assert_same(array, cbor.decode(encoded))
        encoded = cbor.encode(object)
        assert.are.equal(n < 24 and 0xa0 + n or (n < 256 and 0xb8 or (n < 65536 and 0xb9 or 0xba)), encoded:byte(1))
        assert_same(object, cbor.decode(encoded))
      end
    end)

    it("encode arrays whose items live in the hash part", function()
      local t = {}
      t[3], t[2], t[1] = "c", "b", "a"
      assert.are.equal("83616161626163", hex_of(cbor.encode(t)))
      local marked = shape.array({})
      marked[2], marked[1] = 2, 1
      assert.are.equal("820102", hex_of(cbor.encode(marked)))
    end)

    it("read indefinite-length arrays, maps and strings", function()
      assert_same({ 1, { 2, 3 } }, cbor.decode(bytes_of("9f01820203ff")))
      assert_same({ a = 1, b = { 2 } }, cbor.decode(bytes_of("bf61610161629f02ffff")))
      assert.are.equal("abcdé", cbor.decode(bytes_of("7f626162646364c3a9ff")))
      assert.are.equal("", cbor.decode(bytes_of("7fff")))
      assert_same(make(Bytes, { data = "\1\2\3" }), cbor.decode(bytes_of("5f42010241 03ff")))
    end)

    it("read integer map keys into the Lua table", function()
      assert_same({ [1] = "a", [-2] = "b", c = 3 }, cbor.decode(bytes_of("a3016161216162616303")))
    end)

    it("keep the last value of a duplicate key", function()
      assert_same({ a = 2 }, cbor.decode(bytes_of("a2616101616102")))
    end)

    it("round trip 512 levels of nesting and refuse 513", function()
      local deep = {}
      local t = deep
      for _ = 2, 512 do
        t[1] = {}
        t = t[1]
      end
      local decoded = cbor.decode(cbor.encode(deep))
      local depth = 0
      while decoded do
        depth = depth + 1
        decoded = decoded[1]
      end
      assert.are.equal(512, depth)
      t[1] = {}
      local err = encode_error(deep)
      assert.matches("deeper than 512", err.message)
      local derr = decode_error(("81"):rep(513) .. "00")
      assert.matches("deeper than 512", derr.message)
      assert.are.equal(512, derr.offset)
    end)
  end)

  describe("tags", function()
    it("Table is tag 7", function()
      assert_bytes(make(Table, { name = "person" }), "c7 66 706572736f6e")
    end)

    it("RecordID is tag 8 [table, id] for every kind of id", function()
      assert_bytes(make(RecordID, { tb = "person", id = "tobie" }), "c882 66706572736f6e 65746f626965")
      assert_bytes(make(RecordID, { tb = "person", id = 42 }), "c882 66706572736f6e 182a")
      assert_bytes(make(RecordID, { tb = "temp", id = { "london", 2 } }), "c882 6474656d70 82 666c6f6e646f6e 02")
      assert_bytes(make(RecordID, { tb = "temp", id = { city = "london" } }),
        "c882 6474656d70 a1 6463697479 666c6f6e646f6e")
      assert_bytes(make(RecordID, { tb = "person", id = make(Uuid, { value = uuid_text }) }),
        "c882 66706572736f6e d82550" .. uuid_hex)
      local range = make(Range, { lower = { value = 1, inclusive = true }, upper = { value = 10, inclusive = false } })
      assert_bytes(make(RecordID, { tb = "person", id = range }), "c882 66706572736f6e d83182 d83201 d8330a")
    end)

    it("RecordID reads the string form through RecordID.parse", function()
      local decoded = cbor.decode(bytes_of("c8 6c 706572736f6e3a746f626965"))
      assert.are.equal(RecordID, getmetatable(decoded))
      assert.are.equal("person", decoded.tb)
      assert.are.equal("tobie", decoded.id)
    end)

    it("Uuid is tag 37 with 16 bytes, and reads tag 9 text", function()
      assert_bytes(make(Uuid, { value = uuid_text }), "d82550" .. uuid_hex)
      assert_bytes(make(Uuid, { value = "0190D4A4-9B3C-7D2E-8F00-123456789ABC" }), "d82550" .. uuid_hex,
        make(Uuid, { value = uuid_text }))
      assert_same(make(Uuid, { value = uuid_text }), cbor.decode(bytes_of("c9 7824" .. hex_of(uuid_text))))
    end)

    it("Datetime is tag 12 [seconds, nanoseconds], and reads tag 0 text", function()
      local dt = make(Datetime, { seconds = 1704164645, nanoseconds = 123456789 })
      assert_bytes(dt, "cc82 1a65937d25 1a075bcd15")
      assert_bytes(make(Datetime, { seconds = 0, nanoseconds = 0 }), "cc820000")
      assert_bytes(make(Datetime, { seconds = -1, nanoseconds = 5 }), "cc822005")
      assert_same(make(Datetime, { seconds = 1704164645, nanoseconds = 0 }), cbor.decode(bytes_of("cc811a65937d25")))
      assert_same(make(Datetime, { seconds = 0, nanoseconds = 0 }), cbor.decode(bytes_of("cc80")))
      assert_same(dt, cbor.decode(bytes_of("c0 781e" .. hex_of("2024-01-02T03:04:05.123456789Z"))))
    end)

    it("Duration is tag 14 with trailing zeros left out, and reads tag 13 text", function()
      assert_bytes(make(Duration, { seconds = 0, nanoseconds = 0 }), "ce80")
      assert_bytes(make(Duration, { seconds = 5400, nanoseconds = 0 }), "ce81191518")
      assert_bytes(make(Duration, { seconds = 5, nanoseconds = 1 }), "ce820501")
      assert_bytes(make(Duration, { seconds = 0, nanoseconds = 7 }), "ce820007")
      local parsed = cbor.decode(bytes_of("cd 65 3534303073")) -- "5400s"
      assert.are.equal(Duration, getmetatable(parsed))
      assert.are.equal(5400, parsed.seconds)
    end)

    it("Decimal is tag 10 with the exact text", function()
      assert_bytes(make(Decimal, { value = "12.50" }), "ca 6531322e3530")
      assert_bytes(make(Decimal, { value = "-0.000000000000000000000000001" }),
        "ca 781e" .. hex_of("-0.000000000000000000000000001"))
    end)

    it("Range is tag 49 with bounds 50, 51 or null", function()
      assert_bytes(make(Range, { lower = { value = 1, inclusive = true }, upper = { value = 10, inclusive = false } }),
        "d83182 d83201 d8330a")
      assert_bytes(make(Range, { upper = { value = "z", inclusive = true } }), "d83182 f6 d832617a")
      assert_bytes(make(Range, { lower = { value = 1, inclusive = false } }), "d83182 d83301 f6")
      assert_bytes(make(Range, {}), "d83182f6f6")
    end)

    it("Geometry is tags 88 to 94", function()
      local function point(x, y) return make(Geometry, { kind = "Point", coordinates = { x, y } }) end
      local p1, p2, p3 = point(1.5, 2.5), point(3.5, 4.5), point(1.5, 2.5)
      local p1hex = "d85882fb3ff8000000000000fb4004000000000000"
      local p2hex = "d85882fb400c000000000000fb4012000000000000"
      assert_bytes(p1, p1hex)
      assert_bytes(point(1, 2), "d858820102")
      local line = make(Geometry, { kind = "LineString", coordinates = { p1, p2 } })
      assert_bytes(line, "d85982" .. p1hex .. p2hex)
      local ring = make(Geometry, { kind = "LineString", coordinates = { p1, p2, p3 } })
      local ringhex = "d85983" .. p1hex .. p2hex .. p1hex
      local polygon = make(Geometry, { kind = "Polygon", coordinates = { ring } })
      assert_bytes(polygon, "d85a81" .. ringhex)
      assert_bytes(make(Geometry, { kind = "MultiPoint", coordinates = { p1, p2 } }), "d85b82" .. p1hex .. p2hex)
      assert_bytes(make(Geometry, { kind = "MultiLineString", coordinates = { line } }),
        "d85c81d85982" .. p1hex .. p2hex)
      assert_bytes(make(Geometry, { kind = "MultiPolygon", coordinates = { polygon } }), "d85d81d85a81" .. ringhex)
      assert_bytes(make(Geometry, { kind = "GeometryCollection", coordinates = { p1, line } }),
        "d85e82" .. p1hex .. "d85982" .. p1hex .. p2hex)
      assert_bytes(make(Geometry, { kind = "GeometryCollection", coordinates = {} }), "d85e80")
    end)

    it("Future is tag 15", function()
      assert_bytes(make(Future, { body = "time::now()" }), "cf 6b74696d653a3a6e6f772829")
    end)

    it("File is tag 55 [bucket, key]", function()
      assert_bytes(make(File, { bucket = "bucket", key = "/a/b.txt" }), "d83782 666275636b6574 682f612f622e747874")
    end)

    it("Set is tag 56", function()
      assert_bytes(make(Set, { 1, 2 }), "d838820102")
      assert_bytes(make(Set, {}), "d83880")
      assert.are.equal(Set, getmetatable(cbor.decode(bytes_of("d83880"))))
    end)

    it("unknown tags decode as Tagged and encode back identically", function()
      for _, hex in ipairs({ "d864 01", "d9 ffff 6161", "da 00010000 80", "db 7fffffffffffffff f6",
        "db ffffffffffffffff a16161c6f6", "d832 01", "c1 1a514b67b0", "d864 d865 d866 00" }) do
        local b = bytes_of(hex)
        local decoded = cbor.decode(b)
        assert.are.equal(Tagged, getmetatable(decoded))
        assert.are.equal(hex:gsub("%s", ""), hex_of(cbor.encode(decoded)))
      end
      assert_bytes(make(Tagged, { tag = 100, value = { 1, "x" } }), "d864 82 01 6178")
    end)
  end)

  describe("a record with every kind of value", function()
    it("round trips without loss", function()
      local function point(x, y) return make(Geometry, { kind = "Point", coordinates = { x, y } }) end
      local value = {
        int = 7, big = math.maxinteger, small = math.mininteger, float = 2.5, intfloat = 3.0, text = "héllo",
        yes = true, no = false, nothing = null.null, none = null.NONE, empty_array = shape.array(),
        empty_object = {}, list = { 1, "two", null.null, { 3 } },
        bytes = make(Bytes, { data = "\0\255" }),
        ids = {
          make(RecordID, { tb = "person", id = "tobie" }), make(RecordID, { tb = "person", id = 1 }),
          make(RecordID, { tb = "t", id = { 1, "a" } }), make(RecordID, { tb = "t", id = { a = 1 } }),
          make(RecordID, { tb = "t", id = make(Uuid, { value = uuid_text }) }),
          make(RecordID, { tb = "t", id = make(Range, { lower = { value = 1, inclusive = true } }) }),
        },
        table = make(Table, { name = "person" }),
        when = make(Datetime, { seconds = 1704164645, nanoseconds = 123456789 }),
        took = make(Duration, { seconds = 90, nanoseconds = 5 }),
        uuid = make(Uuid, { value = uuid_text }),
        price = make(Decimal, { value = "19.99" }),
        range = make(Range, { lower = { value = "a", inclusive = false }, upper = { value = "m", inclusive = true } }),
        geo = make(Geometry, { kind = "MultiPoint", coordinates = { point(1.5, 2), point(3, 4.25) } }),
        future = make(Future, { body = "1 + 1" }),
        file = make(File, { bucket = "b", key = "k" }),
        set = make(Set, { "x", "y" }),
        tagged = make(Tagged, { tag = 999, value = { x = 1 } }),
      }
      assert_same(value, cbor.decode(cbor.encode(value)))
    end)
  end)

  describe("encode errors", function()
    it("name the offending key of a table that mixes keys", function()
      local err = encode_error({ friends = { { name = "a" }, { 1, 2, name = "b" } } })
      assert.matches('mixes array items and object keys %(key "name"%)', err.message)
      assert.are.equal("$.friends[2]", err.path)
      -- Which key is named depends on which one lua_next yields first; either way one of them.
      err = encode_error({ a = 1, [1] = "x" })
      assert.matches("mixes", err.message)
      assert.is_truthy(err.message:find('key "a"', 1, true) or err.message:find("key 1", 1, true))
    end)

    it("name the index of a hole", function()
      local err = encode_error({ list = { 1, nil, 3 } })
      assert.matches("hole at index 2", err.message)
      assert.are.equal("$.list[2]", err.path)
      err = encode_error({ [2] = "x" })
      assert.matches("hole at index 1", err.message)
      err = encode_error({ [0] = "x" })
      assert.matches("index 0", err.message)
    end)

    it("refuse a Set or geometry coordinates with a hole instead of dropping the items after it", function()
      local set = make(Set, { 1, 2 })
      set[4] = 4
      local err = encode_error({ tags = set })
      assert.matches("hole at index 3", err.message)
      err = encode_error(make(Set, { 1, x = 2 }))
      assert.matches("not an item index", err.message)
      local point = make(Geometry, { kind = "Point", coordinates = { 1 } })
      point.coordinates[3] = 2
      err = encode_error(point)
      assert.matches("hole at index 2", err.message)
    end)

    it("report keys that are neither strings nor integers", function()
      assert.matches("key 1.5 %(a float%)", encode_error({ [1.5] = 1 }).message)
      assert.matches("key true %(a boolean%)", encode_error({ [true] = 1 }).message)
      assert.matches("key of type table", encode_error({ [{}] = 1 }).message)
      assert.matches("integer key 1", encode_error(shape.object({ [1] = 1 })).message)
      assert.matches('non%-index key "x"', encode_error(shape.array({ 1, x = 2 })).message)
    end)

    it("detect cycles", function()
      local t = { friends = {} }
      t.friends[1] = { name = "x", back = t }
      local err = encode_error(t)
      assert.matches("cycle", err.message)
      assert.are.equal("$.friends[1].back", err.path)
      local self = {}
      self[1] = self
      assert.matches("cycle", encode_error(self).message)
      local shared = { 1 }
      -- A table seen twice, not in a cycle, is fine.
      assert.are.equal("8281018101", hex_of(cbor.encode({ shared, shared })))
    end)

    it("refuse functions, coroutines, userdata and nil with their path", function()
      local err = encode_error({ friends = { {}, { name = print } } })
      assert.matches("function", err.message)
      assert.are.equal("$.friends[2].name", err.path)
      assert.matches("%$%.friends%[2%]%.name", err.message)
      assert.matches("coroutine", encode_error({ co = coroutine.create(print) }).message)
      assert.matches("userdata", encode_error({ f = io.stdout }).message)
      assert.matches("nil", encode_error(nil).message)
      assert.are.equal('$["odd key"][1]', encode_error({ ["odd key"] = { print } }).path)
    end)

    it("refuse text that is not UTF-8 and point to Bytes", function()
      local err = encode_error({ blob = "ok\255" })
      assert.matches("UTF%-8", err.message)
      assert.matches("Bytes", err.message)
      assert.are.equal("$.blob", err.path)
      assert.matches("UTF%-8", encode_error({ ["\192\128"] = 1 }).message)
      encode_error("\237\160\128") -- a surrogate
      encode_error("\244\144\128\128") -- above U+10FFFF
    end)

    it("check the fields of value types", function()
      assert.matches("tb", encode_error(make(RecordID, { id = 1 })).message)
      assert.matches("missing field 'id'", encode_error(make(RecordID, { tb = "t" })).message)
      assert.matches("Uuid", encode_error(make(Uuid, { value = "nope" })).message)
      assert.matches("nanoseconds", encode_error(make(Datetime, { seconds = 1, nanoseconds = 1e9 })).message)
      assert.matches("seconds", encode_error(make(Datetime, { seconds = "1", nanoseconds = 0 })).message)
      assert.matches("negative", encode_error(make(Duration, { seconds = -1, nanoseconds = 0 })).message)
      assert.matches("kind", encode_error(make(Geometry, { kind = "Circle", coordinates = {} })).message)
      assert.matches("inclusive", encode_error(make(Range, { lower = { value = 1 } })).message)
      assert.matches("data", encode_error(make(Bytes, {})).message)
      assert.matches("tag", encode_error(make(Tagged, { value = 1 })).message)
    end)

    it("keep the buffer usable after an error", function()
      encode_error({ 1, print })
      assert.are.equal("820102", hex_of(cbor.encode({ 1, 2 })))
      local big = {}
      for i = 1, 100000 do big[i] = "item" .. i end
      assert.are.equal(100000, #cbor.decode(cbor.encode(big)))
      assert.are.equal("01", hex_of(cbor.encode(1)))
    end)
  end)

  describe("cbor.Encoded", function()
    local function people(n)
      local rows = {}
      for i = 1, n do rows[i] = { id = i, name = "person " .. i, tags = { "a", i % 3 == 0 } } end
      return rows
    end

    it("is embedded verbatim in maps, arrays and at the top level, and decodes to the rows", function()
      local rows = people(5)
      local enc = cbor.encode_rows(rows, 1, 5, math.maxinteger)
      assert.are.equal(Encoded, getmetatable(enc))
      assert.are.equal(cbor.encode(rows), enc.bytes)
      assert.are.equal(enc.bytes, cbor.encode(enc))
      local decoded = cbor.decode(cbor.encode({ rows = enc }))
      assert_same(rows, decoded.rows)
      assert.are.equal(shape.array_mt, getmetatable(decoded.rows), "decoding never makes an Encoded")
      assert.are.equal(cbor.encode({ rows = rows }), cbor.encode({ rows = enc }))
      assert.are.equal(cbor.encode({ 1, rows, "x" }), cbor.encode({ 1, enc, "x" }))
      assert.are.equal(cbor.encode({ a = { b = { rows, rows } } }), cbor.encode({ a = { b = { enc, enc } } }))
      assert.are.equal(cbor.encode(make(Set, { rows })), cbor.encode(make(Set, { enc })))
      assert.are.equal(cbor.encode(make(Tagged, { tag = 1000, value = rows })),
        cbor.encode(make(Tagged, { tag = 1000, value = enc })))
    end)

    -- Only the codec makes them; the specs below make some by hand to test the encoder alone.
    it("writes its bytes as they are wherever it stands", function()
      local enc = setmetatable({ bytes = bytes_of("820102") }, Encoded)
      assert.are.equal("820102", hex_of(cbor.encode(enc)))
      assert.are.equal(("a1 6161 820102"):gsub(" ", ""), hex_of(cbor.encode({ a = enc })))
      assert.are.equal(("83 01 820102 820102"):gsub(" ", ""), hex_of(cbor.encode({ 1, enc, enc })))
      assert.are.equal(("c882 6174 820102"):gsub(" ", ""), hex_of(cbor.encode(make(RecordID, { tb = "t", id = enc }))))
      assert.are.equal(("d838 81 820102"):gsub(" ", ""), hex_of(cbor.encode(make(Set, { enc }))))
    end)

    it("prints its size and has it as its length", function()
      local enc = setmetatable({ bytes = bytes_of("83010203") }, Encoded)
      assert.are.equal(4, #enc)
      assert.are.equal("cbor.Encoded(4 bytes)", tostring(enc))
      assert.is_nil(rawget(Encoded, "new"), "no public constructor")
    end)

    it("refuses an object whose bytes are not a non-empty string", function()
      local err = encode_error({ rows = setmetatable({ bytes = 1 }, Encoded) })
      assert.matches("cbor.Encoded field 'bytes' must be a non%-empty string, got number", err.message)
      assert.are.equal("$.rows", err.path)
      assert.matches("got an empty string", encode_error({ setmetatable({ bytes = "" }, Encoded) }).message)
    end)
  end)

  describe("encode_rows", function()
    local function people(n)
      local rows = {}
      for i = 1, n do rows[i] = { id = i, name = ("x"):rep(i % 40), score = i * 0.5, ok = i % 2 == 0 } end
      return rows
    end

    -- The reference: cbor.encode of the marked array rows[first .. first + n - 1].
    local function reference(rows, first, n)
      return cbor.encode(shape.array(table.move(rows, first, first + n - 1, 1, {})))
    end

    it("encodes every row when they all fit", function()
      local rows = people(100)
      local enc, n, size = cbor.encode_rows(rows, 1, 100, math.maxinteger)
      assert.are.equal(100, n)
      assert.are.equal(#enc.bytes, size)
      assert.are.equal(reference(rows, 1, 100), enc.bytes)
      enc, n = cbor.encode_rows(rows, 1, 100, size)
      assert.are.equal(100, n, "an array of exactly max_bytes fits")
      assert.are.equal(reference(rows, 1, 100), enc.bytes)
    end)

    it("stops at the byte limit exactly, for every limit", function()
      local rows = people(60)
      local full = #reference(rows, 1, 60)
      for max_bytes = 1, full + 1 do
        local enc, n, size = cbor.encode_rows(rows, 1, 60, max_bytes)
        if enc == nil then
          assert.are.equal(0, n)
          assert.is_true(#reference(rows, 1, 1) > max_bytes)
        else
          assert.is_true(n >= 1)
          assert.is_true(size <= max_bytes, "size " .. size .. " > " .. max_bytes)
          assert.are.equal(reference(rows, 1, n), enc.bytes)
          if n < 60 then
            assert.is_true(#reference(rows, 1, n + 1) > max_bytes, "row " .. (n + 1) .. " would have fit")
          end
        end
      end
    end)

    it("returns nil, 0 and the row's size when the first row alone does not fit", function()
      local rows = { { name = ("x"):rep(100) }, { a = 1 } }
      local row_size = #cbor.encode(rows[1])
      local enc, n, size = cbor.encode_rows(rows, 1, 2, row_size)
      assert.is_nil(enc)
      assert.are.equal(0, n)
      assert.are.equal(row_size, size)
      enc, n, size = cbor.encode_rows(rows, 1, 2, row_size + 1) -- the one-byte array head and the row
      assert.are.equal(1, n)
      assert.are.equal(row_size + 1, size)
      assert.are.equal(reference(rows, 1, 1), enc.bytes)
      enc, n, size = cbor.encode_rows(rows, 2, 1, 1)
      assert.are.same({ nil, 0, 4 }, { enc, n, size })
    end)

    it("writes the shortest array head across the 23/24/255/256/65535/65536 item boundaries", function()
      local rows = {}
      for i = 1, 70000 do rows[i] = i % 24 end -- one byte each
      for _, items in ipairs({ 1, 23, 24, 255, 256, 65535, 65536 }) do
        local head = items < 24 and 1 or items < 256 and 2 or items < 65536 and 3 or 5
        local expected = reference(rows, 1, items)
        assert.are.equal(head + items, #expected)
        -- count exactly the items (the head reserved is the right size) ...
        local enc, n, size = cbor.encode_rows(rows, 1, items, math.maxinteger)
        assert.are.equal(items, n)
        assert.are.equal(#expected, size)
        assert.is_true(enc.bytes == expected, "count " .. items)
        -- ... and many more, cut by the limit (the head reserved for 70000 items shrinks).
        enc, n, size = cbor.encode_rows(rows, 1, 70000, head + items)
        assert.are.equal(items, n)
        assert.are.equal(#expected, size)
        assert.is_true(enc.bytes == expected, "limit for " .. items)
      end
    end)

    it("starts at `first` and stops at #rows when count reaches beyond it", function()
      local rows = people(10)
      local enc, n = cbor.encode_rows(rows, 4, 3, math.maxinteger)
      assert.are.equal(3, n)
      assert.are.equal(reference(rows, 4, 3), enc.bytes)
      enc, n = cbor.encode_rows(rows, 8, 100, math.maxinteger)
      assert.are.equal(3, n)
      assert.are.equal(reference(rows, 8, 3), enc.bytes)
      enc, n = cbor.encode_rows(rows, 10, math.maxinteger, math.maxinteger)
      assert.are.equal(1, n)
      assert.are.equal(reference(rows, 10, 1), enc.bytes)
      assert_same(rows[10], cbor.decode(enc.bytes)[1])
    end)

    it("takes rows of any value and value type", function()
      local rows = { 1, "two", null.null, make(RecordID, { tb = "t", id = 1 }), { nested = { 1, { 2 } } },
        make(Datetime, { seconds = 1, nanoseconds = 2 }), shape.array() }
      local enc = cbor.encode_rows(rows, 1, #rows, math.maxinteger)
      assert.are.equal(reference(rows, 1, #rows), enc.bytes)
      local again = cbor.encode_rows({ { batch = enc } }, 1, 1, math.maxinteger)
      assert.are.equal(cbor.encode({ { batch = rows } }), again.bytes)
    end)

    it("raises the EncodeError of a row that cannot be encoded, naming it by its index in rows", function()
      local rows = people(2000)
      rows[1234].name = print
      local ok, err = pcall(cbor.encode_rows, rows, 1000, 1000, math.maxinteger)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "EncodeError"), tostring(err))
      assert.are.equal("$[1234].name", err.path)
      assert.matches("cannot encode a function at %$%[1234%]%.name", err.message)
      -- The row after the last that fits is encoded to learn its size (so its error is raised); the
      -- rows after it are never looked at.
      local limit = #reference(rows, 1231, 3)
      assert.are.equal("$[1234].name", select(2, pcall(cbor.encode_rows, rows, 1231, 1000, limit)).path)
      limit = #reference(rows, 1230, 3)
      local enc, n = cbor.encode_rows(rows, 1230, 1000, limit)
      assert.are.equal(3, n)
      assert.are.equal(reference(rows, 1230, 3), enc.bytes)
      rows[2] = { back = rows }
      assert.matches("cycle", select(2, pcall(cbor.encode_rows, rows, 1, 5, 100000)).message)
      rows[2] = "\255"
      assert.are.equal("$[2]", select(2, pcall(cbor.encode_rows, rows, 1, 5, 100000)).path)
      -- the buffer stays usable
      assert.are.equal(reference(rows, 3, 5), (cbor.encode_rows(rows, 3, 5, math.maxinteger)).bytes)
    end)

    it("checks its arguments", function()
      local raises = require("spec.helper").raises
      local rows = { 1, 2, 3 }
      raises(function() cbor.encode_rows(nil, 1, 1, 10) end, "rows must be a table (an array of rows), got nil")
      raises(function() cbor.encode_rows(rows, 0, 1, 10) end, "first must be an integer of at least 1, got 0")
      raises(function() cbor.encode_rows(rows, 1.5, 1, 10) end, "first must be an integer of at least 1, got 1.5")
      raises(function() cbor.encode_rows(rows, "1", 1, 10) end, "first must be an integer of at least 1, got string")
      raises(function() cbor.encode_rows(rows, 4, 1, 10) end, "first (4) is past the last row (#rows is 3)")
      raises(function() cbor.encode_rows({}, 1, 1, 10) end, "first (1) is past the last row (#rows is 0)")
      raises(function() cbor.encode_rows(rows, 1, 0, 10) end, "count must be an integer of at least 1, got 0")
      raises(function() cbor.encode_rows(rows, 1, nil, 10) end, "count must be an integer of at least 1, got nil")
      raises(function() cbor.encode_rows(rows, 1, 1, 0) end, "max_bytes must be an integer of at least 1, got 0")
      raises(function() cbor.encode_rows(rows, 1, 1, math.huge) end, "max_bytes must be an integer")
      local enc, n = cbor.encode_rows(rows, 2.0, 2.0, 100.0)
      assert.are.equal(2, n)
      assert.are.equal("820203", hex_of(enc.bytes))
      -- the core checks them too
      local core = require("surrealdb.core")
      assert.matches("first is past the last row", select(2, pcall(core.cbor_encode_rows, rows, 9, 1, 1)))
      assert.matches("count must be at least 1", select(2, pcall(core.cbor_encode_rows, rows, 1, -1, 1)))
    end)
  end)

  describe("decode errors", function()
    it("are DecodeErrors that name the byte offset", function()
      local err = decode_error("82 01 1c")
      assert.are.equal(2, err.offset)
      assert.matches("byte offset 2", err.message)
    end)

    it("turn an error of a string parser into a DecodeError at the tag", function()
      local err = decode_error("81 c0 63616263")
      assert.are.equal(1, err.offset)
      assert.matches("datetime", err.message)
      err = decode_error("c8 63616263")
      assert.matches("record id", err.message)
      assert.are.equal(0, err.offset)
    end)

    it("refuse a value that is not a string", function()
      local ok, err = pcall(cbor.decode, 42)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "DecodeError"))
    end)
  end)
end)
