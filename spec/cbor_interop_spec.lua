-- Interop of surrealdb.cbor with the official JS codec (`surrealdb` npm package, CborCodec), through
-- spec/support/cbor_interop.mjs: JS encodes its corpus and Lua decodes each value and compares it
-- with the same corpus built here; Lua encodes this corpus and JS decodes and compares. Where no
-- map is involved (map key order is free), the bytes of both sides must be identical too.
local helper = require("spec.helper")
local cbor = require("surrealdb.cbor")
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

local SCRIPT = "spec/support/cbor_interop.mjs"
local SDK = "scripts/node_modules/surrealdb/package.json"

local function make(class, fields) return setmetatable(fields, class) end
local array = shape.array

local function point(x, y) return make(Geometry, { kind = "Point", coordinates = array({ x, y }) }) end
local function geometry(kind, items) return make(Geometry, { kind = kind, coordinates = array(items) }) end
local line = geometry("LineString", { point(1.5, 2.5), point(3.5, 4.5) })
local ring = geometry("LineString", { point(0.5, 0.5), point(1.5, 0.5), point(1.5, 1.5), point(0.5, 0.5) })
local polygon = geometry("Polygon", { ring })
local uuid = "0190d4a4-9b3c-7d2e-8f00-123456789abc"
local function bound(value, inclusive) return { value = value, inclusive = inclusive } end
local function datetime(s, ns) return make(Datetime, { seconds = s, nanoseconds = ns }) end
local function duration(s, ns) return make(Duration, { seconds = s, nanoseconds = ns }) end
local function rid(tb, id) return make(RecordID, { tb = tb, id = id }) end

-- The corpus of spec/support/cbor_interop.mjs, value for value. Arrays carry the array marker,
-- as every decoded array does.
local corpus = {
  int_zero = 0,
  int_small = 23,
  int_24 = 24,
  int_neg = -1000,
  int_u32 = 4294967296,
  int_2_53_plus_1 = 9007199254740993,
  int_max = math.maxinteger,
  int_min = math.mininteger,
  float = 1.5,
  float_neg = -2.25,
  float_tiny = 1e-300,
  float_inf = math.huge,
  float_ninf = -math.huge,
  float_nan = 0 / 0,
  str_empty = "",
  str_ascii = "hello",
  str_unicode = "héllo wörld 日本語 🎉",
  str_long = ("x"):rep(1000),
  bytes = make(Bytes, { data = "\0\1\2\255" }),
  bytes_empty = make(Bytes, { data = "" }),
  bool_true = true,
  bool_false = false,
  null = null.null,
  none = null.NONE,
  array_empty = array(),
  array_mixed = array({ 1, "two", null.null, 2.5, true }),
  array_nested = array({ array({ 1 }), array({ array({ 2 }) }), array() }),
  object_empty = {},
  object = { name = "Tobie", age = 33, tags = array({ "a", "b" }), nested = { x = { y = null.null } } },
  object_none = { a = null.NONE, b = 1 },
  rid_string = rid("person", "tobie"),
  rid_int = rid("person", 42),
  rid_array = rid("temp", array({ "london", 2 })),
  rid_object = rid("temp", { city = "london", n = 1 }),
  rid_uuid = rid("person", make(Uuid, { value = uuid })),
  rid_range = rid("person", make(Range, { lower = bound(1, true), upper = bound(10, false) })),
  rid_range_open = rid("person", make(Range, { upper = bound("m", true) })),
  table = make(Table, { name = "person" }),
  uuid = make(Uuid, { value = uuid }),
  uuid_v4 = make(Uuid, { value = "f47ac10b-58cc-4372-a567-0e02b2c3d479" }),
  datetime = datetime(1704164645, 123456789),
  datetime_epoch = datetime(0, 0),
  datetime_pre_epoch = datetime(-1, 500000000),
  duration_zero = duration(0, 0),
  duration_seconds = duration(5400, 0),
  duration_nanos = duration(5, 1),
  duration_weeks = duration(31449600, 0),
  decimal = make(Decimal, { value = "3.14159" }),
  decimal_big = make(Decimal, { value = "123456789012345678901234567890.123456789" }),
  range = make(Range, { lower = bound(1, true), upper = bound(10, false) }),
  range_excl_incl = make(Range, { lower = bound("a", false), upper = bound("m", true) }),
  range_upper_only = make(Range, { upper = bound("z", true) }),
  range_unbounded = make(Range, {}),
  geometry_point = point(1.5, 2.5),
  geometry_line = line,
  geometry_polygon = polygon,
  geometry_multipoint = geometry("MultiPoint", { point(1.5, 2.5), point(3.5, 4.5) }),
  geometry_multiline = geometry("MultiLineString", { line, ring }),
  geometry_multipolygon = geometry("MultiPolygon", { polygon, polygon }),
  geometry_collection = geometry("GeometryCollection", { point(1.5, 2.5), line, polygon }),
  future = make(Future, { body = "time::now()" }),
  file = make(File, { bucket = "bucket", key = "/a/b.txt" }),
  set = make(Set, { 1, "two" }),
  set_empty = make(Set, {}),
  tagged = make(Tagged, { tag = 100, value = "x" }),
  tagged_nested = make(Tagged, {
    tag = 1000,
    value = array({ 1, { a = make(Tagged, { tag = 2000, value = null.null }) } }),
  }),
  record = {
    id = rid("person", "tobie"),
    name = "Tobie",
    score = 9.75,
    active = true,
    tags = array({ "a", "b", "c" }),
    meta = { level = 3, note = null.null, none = null.NONE },
    created = datetime(1704164645, 123456789),
    ttl = duration(90, 5),
    location = point(-0.5, 51.5),
    price = make(Decimal, { value = "19.99" }),
    friends = array({ rid("person", 1), rid("person", 2) }),
  },
}

-- Written only by JS (Lua writes the [table, id] form); what Lua makes of it.
local js_only = {
  rid_string_form = rid("person", "tobie"),
}

-- Values whose bytes may differ between the two sides: maps (key order is free) and NaN (its sign).
local free_bytes = {
  object = true, object_none = true, rid_object = true, tagged_nested = true, record = true, float_nan = true,
}

local function hex_of(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function bytes_of(hex)
  return (hex:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

-- Strict deep equality: same types, number subtypes and metatables, same raw fields; NaN equals NaN.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if a ~= a then return b ~= b end
    return a == b
  end
  if type(a) ~= "table" or a == b then return a == b end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in next, a do
    if not same(v, rawget(b, k)) then return false end
  end
  for k in next, b do
    if rawget(a, k) == nil then return false end
  end
  return true
end

local function render(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) .. (math.type(v) == "float" and "f" or "") end
  if v == null.null then return "NULL" end
  if v == null.NONE then return "NONE" end
  local mt = getmetatable(v)
  local parts = {}
  for k, x in next, v do parts[#parts + 1] = tostring(k) .. "=" .. render(x) end
  table.sort(parts)
  local name = mt == shape.array_mt and "array" or (mt and rawget(mt, "__name")) or ""
  return name .. "{" .. table.concat(parts, ", ") .. "}"
end

local run = helper.node_rows

describe("surrealdb.cbor interop with the official JS codec", function()
  setup(function()
    local f = io.open(os.getenv("SURREALDB_JS_SDK") or SDK)
    assert(f, "the surrealdb npm package is missing: run scripts/setup (npm ci in scripts/)")
    f:close()
  end)

  it("decodes every value JS encodes to the same value", function()
    local seen, failures = {}, {}
    for _, row in ipairs(run({ SCRIPT, "encode" })) do
      local name, hex = row[1], row[2]
      local expected = corpus[name]
      if expected == nil then expected = js_only[name] end
      seen[name] = true
      if expected == nil then
        failures[#failures + 1] = name .. ": not in the Lua corpus"
      else
        local ok, decoded = pcall(cbor.decode, bytes_of(hex))
        if not ok then
          failures[#failures + 1] = name .. ": " .. tostring(decoded)
        elseif not same(expected, decoded) then
          failures[#failures + 1] = name .. ":\n  expected " .. render(expected) .. "\n  decoded  " .. render(decoded)
        elseif not free_bytes[name] and js_only[name] == nil and hex ~= hex_of(cbor.encode(expected)) then
          failures[#failures + 1] = name .. ": bytes differ\n  JS  " .. hex .. "\n  Lua "
            .. hex_of(cbor.encode(expected))
        end
      end
    end
    for name in pairs(corpus) do
      if not seen[name] then failures[#failures + 1] = name .. ": not in the JS corpus" end
    end
    for name in pairs(js_only) do
      if not seen[name] then failures[#failures + 1] = name .. ": JS wrote nothing" end
    end
    table.sort(failures)
    assert(#failures == 0, #failures .. " mismatches:\n" .. table.concat(failures, "\n"))
  end)

  it("encodes every value so that JS decodes the same value", function()
    local names = {}
    for name in pairs(corpus) do names[#names + 1] = name end
    table.sort(names)
    local lines = {}
    for _, name in ipairs(names) do lines[#lines + 1] = name .. "\t" .. hex_of(cbor.encode(corpus[name])) .. "\n" end
    local path = os.tmpname()
    helper.write_file(path, table.concat(lines))
    local ok, rows = pcall(run, { SCRIPT, "decode", path })
    os.remove(path)
    assert(ok, rows)
    local failures, checked = {}, 0
    for _, row in ipairs(rows) do
      checked = checked + 1
      if row[2] == "mismatch" then
        failures[#failures + 1] = row[1] .. ":\n  JS corpus " .. row[3] .. "\n  from Lua  " .. row[4]
      elseif row[2] ~= "ok" then
        failures[#failures + 1] = row[1] .. ": " .. tostring(row[3])
      end
    end
    assert(#failures == 0, #failures .. " mismatches:\n" .. table.concat(failures, "\n"))
    assert.are.equal(#names, checked)
  end)
end)
