-- Interop of the client with the official JS SDK (`surrealdb` npm package) through a real server:
-- records holding every kind of value, written by one client and read back by the other, in the
-- same namespace and database (spec/support/client_interop.mjs is the JS side, with the same corpus).
--
-- Our client writes the corpus with `CREATE $id CONTENT $data` through `query` (the SurrealQL the JS
-- SDK sends for its `create`) and with each of its own methods `create`, `upsert`, `insert`, `update`
-- and `merge` (SurrealDB's RPC methods of those names); JS reads each record and compares each field
-- with its corpus. JS writes its corpus and our client reads it back, over WebSocket and over HTTP,
-- and compares it with ours. Record ids of every kind are checked as ids of records too.
-- A mismatch fails naming the field, with the expected and the actual value.
local helper = require("spec.helper")
local surrealdb = require("surrealdb")
local types = require("surrealdb.types")

local RecordID, Datetime, Duration, Decimal = surrealdb.RecordID, surrealdb.Datetime, surrealdb.Duration,
  surrealdb.Decimal
local Uuid, Range, Geometry, Set = surrealdb.Uuid, surrealdb.Range, surrealdb.Geometry, surrealdb.Set
local array, null, NONE = surrealdb.array, surrealdb.null, surrealdb.NONE

local SCRIPT = "spec/support/client_interop.mjs"
local SDK = "scripts/node_modules/surrealdb/package.json"
local NAMESPACE = "interop"

local uuid7 = "0190d4a4-9b3c-7d2e-8f00-123456789abc"
local uuid4 = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
local when = "2024-01-02T03:04:05.123456789Z"

local point = Geometry.point
local line = Geometry.line({ point(1.5, 2.5), point(3.5, 4.5) })
local ring = Geometry.line({ point(0.5, 0.5), point(1.5, 0.5), point(1.5, 1.5), point(0.5, 0.5) })
local polygon = Geometry.polygon({ ring })

-- The corpus of spec/support/client_interop.mjs, value for value. Arrays carry the array marker, as
-- every decoded array does; sets are in SurrealDB's value order, which the engine keeps.
local corpus = {
  int = 42,
  int_zero = 0,
  int_neg = -1000,
  int_2_53_plus_1 = 9007199254740993,
  int_max = math.maxinteger,
  int_min = math.mininteger,
  float = 1.5,
  float_neg = -2.25,
  float_tiny = 1e-300,
  float_inf = math.huge,
  float_ninf = -math.huge,
  float_nan = 0 / 0,
  str = "hello",
  str_empty = "",
  str_unicode = "héllo wörld 日本語 🎉",
  str_quotes = "it's \"quoted\" ⟨x⟩ `y`",
  bool_true = true,
  bool_false = false,
  null = null,
  none = NONE, -- not stored: read back as absent
  array = array({ 1, "two", null, 2.5, true }),
  array_empty = array(),
  object = { name = "Tobie", age = 33 },
  object_empty = {},
  nested = {
    tags = array({ "a", "b" }),
    deep = { x = { y = array({ 1, { z = null } }) } },
    none = NONE,
    when = Datetime.parse(when),
    refs = array({ RecordID("person", 1), RecordID("person", "two") }),
  },
  rid_string = RecordID("person", "tobie"),
  rid_string_escaped = RecordID("person", "a b-c ⟨d⟩"),
  rid_int = RecordID("person", 42),
  rid_array = RecordID("temp", array({ "london", 2 })),
  rid_object = RecordID("temp", { city = "london", n = 1 }),
  rid_uuid = RecordID("person", Uuid.parse(uuid7)),
  rid_range = RecordID("person", Range(1, 10)),
  table = surrealdb.Table("person"),
  datetime = Datetime.parse(when),
  datetime_epoch = Datetime.parse("1970-01-01T00:00:00Z"),
  datetime_pre_epoch = Datetime.parse("1969-12-31T23:59:59.5Z"),
  duration = Duration.parse("1h30m5s1ns"),
  duration_zero = Duration.parse("0ns"),
  duration_weeks = Duration.parse("52w"),
  uuid_v7 = Uuid.parse(uuid7),
  uuid_v4 = Uuid.parse(uuid4),
  decimal = Decimal("3.14159"),
  decimal_neg = Decimal("-0.000123"),
  decimal_wide = Decimal("1234567890.0123456789"),
  range = Range(1, 10),
  range_excl_incl = Range(Range.excluded("a"), Range.included("m")),
  range_upper_only = Range(nil, Range.included(5)),
  range_unbounded = Range(),
  geometry_point = point(1.5, 2.5),
  geometry_line = line,
  geometry_polygon = polygon,
  geometry_multipoint = Geometry.multipoint({ point(1.5, 2.5), point(3.5, 4.5) }),
  geometry_multiline = Geometry.multiline({ line, ring }),
  geometry_multipolygon = Geometry.multipolygon({ polygon, polygon }),
  geometry_collection = Geometry.collection({ point(1.5, 2.5), line, polygon }),
  set = Set({ 1, 2, "a", "b" }),
  set_empty = Set(),
  bytes = surrealdb.Bytes("\0\1\2\255"),
  bytes_empty = surrealdb.Bytes(""),
  file = surrealdb.File("bucket", "/a/b.txt"),
}

-- One record id of each kind, by kind (the ids of spec/support/client_interop.mjs).
local function ids(tb)
  return {
    string = RecordID(tb, "tobie"),
    string_escaped = RecordID(tb, "a b-c ⟨d⟩"),
    string_numeric = RecordID(tb, "123"),
    int = RecordID(tb, 42),
    int_neg = RecordID(tb, -7),
    array = RecordID(tb, array({ "london", 2, Datetime.parse(when) })),
    object = RecordID(tb, { city = "london", n = 1 }),
    uuid = RecordID(tb, Uuid.parse(uuid7)),
  }
end

-- Strict deep equality: same types, number subtypes and metatables, same raw fields; NaN equals
-- NaN; an expected NONE field must be absent.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if a ~= a then return b ~= b end
    return a == b
  end
  if type(a) ~= "table" or rawequal(a, b) then return rawequal(a, b) end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in next, a do
    if v == NONE then
      if rawget(b, k) ~= nil then return false end
    elseif not same(v, rawget(b, k)) then
      return false
    end
  end
  for k in next, b do
    if rawget(a, k) == nil then return false end
  end
  return true
end

-- The structure of a value, with its types: what tells apart values that print alike.
local function structure(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) .. (math.type(v) == "float" and "f" or "") end
  if v == null then return "NULL" end
  if v == NONE then return "NONE" end
  local mt = getmetatable(v)
  local parts = {}
  for k, x in next, v do parts[#parts + 1] = tostring(k) .. "=" .. structure(x) end
  table.sort(parts)
  return (mt and rawget(mt, "__name") or "") .. "{" .. table.concat(parts, ", ") .. "}"
end

local function render(v)
  if v == nil then return "(absent)" end
  local ok, text = pcall(types.surql, v)
  return ok and text or structure(v)
end

-- "name: expected ... / actual ..." with SurrealQL renderings, or the structures where those agree.
local function mismatch(name, expected, actual)
  local e, a = render(expected), render(actual)
  if e == a then e, a = structure(expected), structure(actual) end
  return ("%s:\n    expected %s\n    actual   %s"):format(name, e, a)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- Run the JS side; returns its rows (arrays of tab-separated fields).
local js = helper.node_rows

-- The failures among the JS side's rows; asserts that it checked every name of `names`.
local function js_failures(rows, names)
  local failures, seen = {}, {}
  for _, row in ipairs(rows) do
    local name, status = row[1], row[2]
    seen[name] = true
    if status == "mismatch" then
      failures[#failures + 1] = ("%s:\n    JS expected %s\n    JS read     %s"):format(name, row[3], row[4])
    elseif status ~= "ok" then
      failures[#failures + 1] = ("%s: %s %s"):format(name, tostring(status), tostring(row[3]))
    end
  end
  for _, name in ipairs(names) do
    if not seen[name] then failures[#failures + 1] = name .. ": not checked by JS" end
  end
  return failures
end

local function assert_none(failures)
  assert(#failures == 0, #failures .. " mismatches:\n" .. table.concat(failures, "\n"))
end

describe("client interop with the official JS SDK #integration", function()
  local db, ws_url, database

  setup(function()
    local f = io.open(os.getenv("SURREALDB_JS_SDK") or SDK)
    assert(f, "the surrealdb npm package is missing: run scripts/setup (npm ci in scripts/)")
    f:close()
    ws_url = helper.server_url():gsub("^http", "ws"):gsub("/+$", ""):gsub("/rpc$", "")
    database = helper.fresh_name("client")
    db = surrealdb.connect(ws_url, { namespace = NAMESPACE, database = database })
    -- Our records: the corpus through `create` and through `query`, and one record per kind of id.
    db:create(RecordID("lua_create", "all"), corpus)
    db:upsert(RecordID("lua_upsert", "all"), corpus)
    local row = {}
    for k, v in pairs(corpus) do row[k] = v end
    row.id = RecordID("lua_insert", "all")
    db:insert("lua_insert", row)
    db:create(RecordID("lua_update", "all"), {})
    db:update(RecordID("lua_update", "all"), corpus)
    db:create(RecordID("lua_merge", "all"), {})
    db:merge(RecordID("lua_merge", "all"), corpus)
    db:query("CREATE $id CONTENT $data", { id = RecordID("lua_query", "all"), data = corpus })
    for kind, id in pairs(ids("lua_ids")) do db:create(id, { kind = kind }) end
    -- Theirs.
    local rows = js({ SCRIPT, "write", ws_url .. "/rpc", NAMESPACE, database })
    assert(rows[1] and rows[1][1] == "written", "the JS side did not write its records")
  end)

  teardown(function()
    if db then db:close() end
  end)

  local function js_read(record)
    return js({ SCRIPT, "read", ws_url .. "/rpc", NAMESPACE, database, record })
  end

  it("JS reads every value our client wrote through query (the SurrealQL the JS SDK sends)", function()
    assert_none(js_failures(js_read("lua_query:all"), sorted_keys(corpus)))
  end)

  -- These go through SurrealDB's create/upsert/insert/update/merge RPC methods, which the official SDKs
  -- no longer use (they send SurrealQL through `query`). Measured on SurrealDB 3.0.2: those methods turn
  -- a set into an array and rewrite ranges (`'a'>..='m'` is stored as `'a'..'m'`, an unbounded side as
  -- a NONE bound), while the same bytes through `query` are stored as sent.
  it("JS reads every value our client wrote with create, upsert, insert, update and merge", function()
    local failures = {}
    for _, method in ipairs({ "create", "upsert", "insert", "update", "merge" }) do
      for _, failure in ipairs(js_failures(js_read("lua_" .. method .. ":all"), sorted_keys(corpus))) do
        failures[#failures + 1] = method .. " " .. failure
      end
    end
    assert_none(failures)
  end)

  it("JS reads the ids of every kind our client gave its records", function()
    local rows = js({ SCRIPT, "read-ids", ws_url .. "/rpc", NAMESPACE, database, "lua_ids" })
    assert_none(js_failures(rows, sorted_keys(ids("lua_ids"))))
  end)

  -- Our client over `scheme` (the WebSocket one of the other tests, or a new HTTP one) runs fn(client).
  local function with_client(scheme, fn)
    if scheme == "ws" then return fn(db) end
    local http <close> = surrealdb.connect(helper.server_url(), { namespace = NAMESPACE, database = database })
    return fn(http)
  end

  for _, scheme in ipairs({ "ws", "http" }) do
    it(("our client reads every value JS wrote (over %s)"):format(scheme), function()
      local record = with_client(scheme, function(client) return client:select(RecordID("js_values", "all")) end)
      assert(type(record) == "table", "the record js_values:all is missing")
      local failures = {}
      for _, name in ipairs(sorted_keys(corpus)) do
        local expected, actual = corpus[name], record[name]
        if expected == NONE then
          if actual ~= nil then failures[#failures + 1] = mismatch(name, nil, actual) end
        elseif not same(expected, actual) then
          failures[#failures + 1] = mismatch(name, expected, actual)
        end
      end
      for _, name in ipairs(sorted_keys(record)) do
        if name ~= "id" and corpus[name] == nil then failures[#failures + 1] = mismatch(name, nil, record[name]) end
      end
      assert_none(failures)
      assert.is_true(same(RecordID("js_values", "all"), record.id))
    end)

    it(("our client reads the ids of every kind JS gave its records (over %s)"):format(scheme), function()
      local records = with_client(scheme, function(client) return client:select("js_ids") end)
      local expected = ids("js_ids")
      local seen, failures = {}, {}
      for _, record in ipairs(records) do
        local kind = record.kind
        seen[kind] = true
        if expected[kind] == nil then
          failures[#failures + 1] = mismatch(tostring(kind), nil, record.id)
        elseif not same(expected[kind], record.id) then
          failures[#failures + 1] = mismatch(kind, expected[kind], record.id)
        end
      end
      for _, kind in ipairs(sorted_keys(expected)) do
        if not seen[kind] then failures[#failures + 1] = mismatch(kind, expected[kind], nil) end
      end
      assert_none(failures)
    end)
  end
end)
