-- surrealdb.cbor.decode on untrusted input: every malformation is a DecodeError naming the byte
-- offset, and random mutations of valid encodings never crash nor raise anything else.
-- Run it under ASan too (scripts/test does): build-asan with LD_PRELOAD of libasan and libubsan.
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

local function make(class, fields) return setmetatable(fields, class) end

local function bytes_of(hex)
  hex = hex:gsub("%s", "")
  return (hex:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

-- Decodes hex, expects a DecodeError at `offset` whose message says so and matches `pattern`.
local function rejects(hex, offset, pattern)
  local ok, err = pcall(cbor.decode, bytes_of(hex))
  assert.is_false(ok, "accepted: " .. hex)
  assert.is_true(errors.is(err, "DecodeError"), "not a DecodeError for " .. hex .. ": " .. tostring(err))
  assert.are.equal(offset, err.offset, "offset for " .. hex .. ": " .. err.message)
  assert.is_truthy(err.message:find("byte offset " .. offset, 1, true), err.message)
  if pattern then
    assert.is_truthy(err.message:find(pattern, 1, true), "message for " .. hex .. ": " .. err.message)
  end
  return err
end

describe("surrealdb.cbor.decode on malformed input", function()
  it("rejects empty and truncated input", function()
    rejects("", 0, "unexpected end of input")
    rejects("19 01", 0, "needs 2 more bytes")
    rejects("1b 00000000", 0, "needs 8 more bytes")
    rejects("83 01 02", 0, "array of 3 items is longer than the 2 bytes left")
    rejects("83 01 19 01 02", 5, "unexpected end of input")
    rejects("62 61", 0, "longer than the 1 bytes left")
    rejects("a1 61 61", 3, "unexpected end of input")
    rejects("c8", 1, "unexpected end of input")
    rejects("cc 82 01", 3, "unexpected end of input")
    rejects("fb 3ff0", 0, "needs 8 more bytes")
    rejects("9f 01", 2, "no break code")
    rejects("bf 61 61 01", 4, "no break code")
    rejects("7f 61 61", 3, "no break code")
  end)

  it("rejects lengths longer than the input before allocating", function()
    local before = collectgarbage("count")
    rejects("5b ffffffffffffffff", 0, "byte string of 18446744073709551615 bytes is longer than the 0 bytes left")
    rejects("7a 7fffffff 00", 0, "longer than the 1 bytes left")
    rejects("9b 00000000ffffffff 01", 0, "array of 4294967295 items is longer than the 1 bytes left")
    rejects("9b ffffffffffffffff", 0, "array of 18446744073709551615 items")
    rejects("bb 7fffffffffffffff 0101", 0, "map of 9223372036854775807 pairs")
    rejects("a2 0101", 0, "map of 2 pairs is longer than the 2 bytes left")
    rejects("d838 9a 7fffffff", 2, "array of 2147483647 items")
    rejects("5f 5a 7fffffff ff", 1, "chunk of 2147483647 bytes")
    assert.is_true(collectgarbage("count") - before < 1024, "a bad length allocated memory")
  end)

  it("rejects nesting deeper than 512 levels", function()
    rejects(("81"):rep(513) .. "00", 512, "deeper than 512")
    rejects(("a16161"):rep(513) .. "00", 512 * 3, "deeper than 512")
    rejects(("d864"):rep(513) .. "00", 1024, "deeper than 512")
    rejects(("9f"):rep(600), 512, "deeper than 512")
    assert.are.equal(0, cbor.decode(bytes_of(("81"):rep(511) .. "00"))[1][1][1] and 0)
  end)

  it("rejects indefinite lengths where they are invalid", function()
    rejects("1f", 0, "cannot have an indefinite length")
    rejects("3f", 0, "cannot have an indefinite length")
    rejects("df 01", 0, "cannot have an indefinite length")
    rejects("5f 5f ff ff", 1, "indefinite-length byte string chunk inside")
    rejects("7f 7f ff ff", 1, "indefinite-length text string chunk inside")
    rejects("5f 61 61 ff", 1, "chunk of an indefinite-length byte string is a text string")
    rejects("7f 41 61 ff", 1, "chunk of an indefinite-length text string is a byte string")
    rejects("7f 01 ff", 1, "is an unsigned integer")
    rejects("bf 61 61 ff", 3, "ends after a key without a value")
  end)

  it("rejects invalid UTF-8 in text, keys and chunks", function()
    rejects("62 c3 28", 1, "invalid UTF-8")
    rejects("63 61 c0 80", 2, "invalid UTF-8") -- overlong
    rejects("63 ed a0 80", 1, "invalid UTF-8") -- surrogate
    rejects("64 f4 90 80 80", 1, "invalid UTF-8") -- above U+10FFFF
    rejects("62 e2 82", 1, "invalid UTF-8") -- cut sequence
    rejects("61 ff", 1, "invalid UTF-8")
    rejects("a1 61 ff 01", 2, "invalid UTF-8")
    rejects("7f 61 c3 61 a9 ff", 2, "invalid UTF-8") -- a code point split across chunks
  end)

  it("rejects the reserved additional information 28 to 30", function()
    for major = 0, 7 do
      for ai = 28, 30 do
        rejects(string.format("%02x", major * 32 + ai), 0, "reserved additional information " .. ai)
      end
    end
    rejects("82 01 1c", 2, "reserved")
  end)

  it("rejects break codes in the wrong place", function()
    rejects("ff", 0, "unexpected break code")
    rejects("81 ff", 1, "unexpected break code")
    rejects("a1 ff", 0, "map of 1 pairs is longer than the 1 bytes left")
    rejects("a2 ff 01 01 01", 1, "unexpected break code in place of a map key")
    rejects("a1 61 61 ff", 3, "unexpected break code")
    rejects("c1 ff", 1, "unexpected break code")
    rejects("9f 81 ff ff", 2, "unexpected break code")
  end)

  it("rejects trailing bytes", function()
    rejects("01 02", 1, "1 trailing bytes")
    rejects("80 00 00 00", 1, "3 trailing bytes")
    rejects("9f ff ff", 2, "1 trailing bytes")
  end)

  it("accepts text and integer map keys and rejects the others", function()
    assert.are.equal(1, cbor.decode(bytes_of("a1 01 01"))[1])
    rejects("a1 f6 01", 1, "map key is a simple value or float")
    rejects("a1 f9 3c00 01", 1, "map key is a simple value or float")
    rejects("a1 41 61 01", 1, "map key is a byte string")
    rejects("a1 80 01", 1, "map key is an array")
    rejects("a1 a0 01", 1, "map key is a map")
    rejects("a1 c1 01 01", 1, "map key is a tag")
    rejects("a1 1b 8000000000000000 01", 1, "64-bit signed range")
  end)

  it("rejects unknown simple values", function()
    rejects("e0", 0, "unknown simple value 0")
    rejects("f3", 0, "unknown simple value 19")
    rejects("f8 20", 0, "unknown simple value 32")
    rejects("f8 ff", 0, "unknown simple value 255")
    rejects("f8 14", 0, "not well-formed")
  end)

  it("rejects integers beyond the 64-bit signed range", function()
    rejects("1b 8000000000000000", 0, "64-bit signed range")
    rejects("3b 8000000000000000", 0, "64-bit signed range")
    rejects("82 01 1b ffffffffffffffff", 2, "64-bit signed range")
  end)

  it("rejects SurrealDB tags with content of the wrong shape", function()
    rejects("c7 01", 1, "a table name (tag 7) must be a text string")
    rejects("c8 83 6161 01 01", 1, "must be an array of 2 to 2 items")
    rejects("c8 82 01 01", 2, "the table of a record id (tag 8) must be a text string")
    rejects("c8 9f 6161 01 01 ff", 5, "too many items")
    rejects("c8 9f 6161 ff", 4, "too few items")
    rejects("c8 01", 1, "must be an array")
    rejects("ca 01", 1, "a decimal (tag 10) must be a text string")
    rejects("cf 01", 1, "a future (tag 15) must be a text string")
    rejects("cc 83 01 02 03", 1, "must be an array of 0 to 2 items, got 3")
    rejects("cc 9f 01 02 03 ff", 0, "at most 2 integers")
    rejects("cc 82 01 1a 3b9aca00", 0, "nanoseconds out of range")
    rejects("cc 82 01 20", 0, "nanoseconds out of range")
    rejects("cc 81 61 61", 2, "must be a 64-bit integer")
    rejects("ce 81 20", 0, "negative seconds")
    rejects("cc 01", 1, "must be an array")
    rejects("d825 41 00", 0, "must be 16 bytes")
    rejects("d825 01", 2, "must be a byte string")
    rejects("d831 81 f6", 2, "2 to 2 items")
    rejects("d831 82 01 f6", 3, "a range bound must be tag 50, tag 51 or null")
    rejects("d831 82 d834 01 f6", 3, "a range bound must be tag 50, tag 51 or null")
    rejects("d837 82 01 02", 3, "the bucket of a file pointer (tag 55) must be a text string")
    rejects("d838 01", 2, "a set (tag 56) must be an array")
    rejects("d858 81 01", 2, "a geometry point (tag 88) must be an array of 2 numbers")
    rejects("d858 82 6161 01", 2, "a geometry point (tag 88) must be an array of numbers")
    rejects("d858 01", 2, "must be an array")
    rejects("d859 81 01", 2, "a geometry line (tag 89) must be an array of geometry points")
    rejects("d85a 81 d858 82 01 02", 2, "must be an array of geometry lines")
    rejects("d85e 81 01", 2, "must be an array of geometries")
  end)

  it("turns errors of the string parsers into DecodeErrors at the tag", function()
    rejects("c0 63 616263", 0, "invalid datetime string (tag 0)")
    rejects("82 01 c9 61 78", 2, "invalid UUID string (tag 9)")
    rejects("cd 61 78", 0, "invalid duration string (tag 13)")
    rejects("c8 61 78", 0, "invalid record id string (tag 8)")
  end)

  it("survives a memory error at every allocation (spec/support/cbor_oom.c)", function()
    local helper = require("spec.helper")
    local exe = os.tmpname()
    local compile = "cc -std=c11 -O1 spec/support/cbor_oom.c $(pkg-config --cflags --libs lua5.4) -o "
      .. helper.shell_quote(exe) .. " 2>&1"
    local pipe = assert(io.popen(compile))
    local out = pipe:read("a")
    assert(pipe:close(), "could not build spec/support/cbor_oom.c:\n" .. out)
    -- The harness loads the core from package.cpath: under the sanitizer build it needs the
    -- sanitizer runtime preloaded like this process (spec/helper.lua strips it from children).
    pipe = assert(io.popen("LD_PRELOAD=" .. helper.shell_quote(os.getenv("LD_PRELOAD") or "")
      .. " LUA_PATH=" .. helper.shell_quote(package.path) .. " LUA_CPATH="
      .. helper.shell_quote(package.cpath) .. " " .. helper.shell_quote(exe) .. " 2>&1"))
    out = pipe:read("a")
    local ok = pipe:close()
    os.remove(exe)
    assert(ok, out)
    assert.matches("%d+ allocation points tried, %d+ memory errors", out)
  end)

  describe("fuzz: random mutations of valid encodings", function()
    local function corpus()
      local function point(x, y) return make(Geometry, { kind = "Point", coordinates = { x, y } }) end
      local line = make(Geometry, { kind = "LineString", coordinates = { point(1, 2), point(3.5, 4) } })
      local values = {
        0, -1, 24, 1000000, math.maxinteger, math.mininteger, 1.5, -0.0, "", "text", "héllo wörld 🎉",
        true, false, null.null, null.NONE, {}, shape.array(), { 1, 2, 3 }, { a = 1, b = { c = "d" } },
        { list = { null.null, { x = { y = { 1, 2, { z = "deep" } } } } }, name = "n", score = 2.25 },
        make(Bytes, { data = "\0\1\2\255" }),
        make(RecordID, { tb = "person", id = "tobie" }), make(RecordID, { tb = "person", id = 42 }),
        make(RecordID, { tb = "t", id = { "a", 1 } }), make(RecordID, { tb = "t", id = { k = "v" } }),
        make(RecordID, { tb = "t", id = make(Range, { lower = { value = 1, inclusive = true } }) }),
        make(Table, { name = "person" }), make(Uuid, { value = "0190d4a4-9b3c-7d2e-8f00-123456789abc" }),
        make(Datetime, { seconds = 1704164645, nanoseconds = 123456789 }),
        make(Duration, { seconds = 90, nanoseconds = 1 }), make(Decimal, { value = "1.50" }),
        make(Range, { lower = { value = "a", inclusive = false }, upper = { value = "z", inclusive = true } }),
        point(1.5, 2.5), line, make(Geometry, { kind = "Polygon", coordinates = { line } }),
        make(Geometry, { kind = "GeometryCollection", coordinates = { point(0, 0), line } }),
        make(Future, { body = "time::now()" }), make(File, { bucket = "b", key = "/k" }),
        make(Set, { 1, "two" }), make(Tagged, { tag = 1000, value = { 1, { a = 2 } } }),
      }
      local encoded = {}
      for i, v in ipairs(values) do encoded[i] = cbor.encode(v) end
      encoded[#encoded + 1] = cbor.encode(values) -- all of them in one array
      for _, hex in ipairs({
        "9f 01 82 02 03 bf 61 61 01 ff ff", "7f 62 6162 62 6364 ff", "5f 41 00 42 0102 ff",
        "c0 78 1e 323032342d30312d30325430333a30343a30352e3132333435363738395a",
        "c9 78 24 30313930643461342d396233632d376432652d386630302d313233343536373839616263",
        "cd 62 3173", "c8 68 706572736f6e3a31", "f9 3c00", "fa 47c35000", "f7",
      }) do
        encoded[#encoded + 1] = bytes_of(hex)
      end
      return encoded
    end

    local function mutate(s)
      local n = #s
      local kind = math.random(6)
      if kind == 1 and n > 0 then -- flip a bit
        local i = math.random(n)
        return s:sub(1, i - 1) .. string.char(s:byte(i) ~ (1 << math.random(0, 7))) .. s:sub(i + 1)
      elseif kind == 2 and n > 0 then -- set a byte to anything
        local i = math.random(n)
        return s:sub(1, i - 1) .. string.char(math.random(0, 255)) .. s:sub(i + 1)
      elseif kind == 3 then -- truncate
        return s:sub(1, math.random(0, n))
      elseif kind == 4 then -- insert random bytes
        local i = math.random(0, n)
        local ins = {}
        for k = 1, math.random(1, 4) do ins[k] = string.char(math.random(0, 255)) end
        return s:sub(1, i) .. table.concat(ins) .. s:sub(i + 1)
      elseif kind == 5 and n > 0 then -- delete a slice
        local i = math.random(n)
        return s:sub(1, i - 1) .. s:sub(i + math.random(1, 4))
      else -- duplicate a slice
        local i = math.random(0, n)
        local j = math.min(n, i + math.random(1, 8))
        return s:sub(1, j) .. s:sub(i + 1, j) .. s:sub(j + 1)
      end
    end

    it("decode returns a value or raises a DecodeError, 20,000 cases with a fixed seed", function()
      math.randomseed(20240102)
      local seeds = corpus()
      local decoded, rejected = 0, 0
      for case = 1, 20000 do
        local input = seeds[math.random(#seeds)]
        for _ = 1, math.random(1, 3) do input = mutate(input) end
        local ok, result = pcall(cbor.decode, input)
        if ok then
          decoded = decoded + 1
          -- What decodes must encode again, or be refused as an EncodeError (say, mixed keys).
          local eok, eerr = pcall(cbor.encode, result)
          if not eok and not errors.is(eerr, "EncodeError") then
            error(string.format("case %d: encode raised %s", case, tostring(eerr)))
          end
        else
          rejected = rejected + 1
          if not errors.is(result, "DecodeError") then
            error(string.format("case %d: decode raised %s", case, tostring(result)))
          end
          assert.is_truthy(result.message:find("byte offset " .. result.offset, 1, true))
          assert.is_true(result.offset >= 0 and result.offset <= #input)
        end
      end
      assert.are.equal(20000, decoded + rejected)
      assert.is_true(decoded > 100 and rejected > 100, "the mutations should both pass and fail")
    end)

    it("decodes random byte strings safely, 5,000 cases", function()
      math.randomseed(7)
      for _ = 1, 5000 do
        local b = {}
        for k = 1, math.random(1, 24) do b[k] = string.char(math.random(0, 255)) end
        local ok, result = pcall(cbor.decode, table.concat(b))
        assert.is_true(ok or errors.is(result, "DecodeError"), tostring(result))
      end
    end)
  end)
end)
