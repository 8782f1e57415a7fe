-- Benchmark: surrealdb.cbor against lua-cjson on the same records, in the same process.
--
-- Builds 100,000 records of 8 mixed fields (an integer id, a string name, a float score, a boolean,
-- an array of 3 short strings, a nested object of 2 fields, a RecordID and a Datetime; the JSON side
-- carries the RecordID and the Datetime as strings, as JSON cannot carry them), then measures encode
-- and decode of the whole batch and of one record per call, best of 5 runs each, and prints
-- records/s and the ratios; then cbor.encode_rows (one array, and 1 MiB batches) beside cbor.encode
-- of the same array. Run from the project root:
--
--     LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;' lua5.4 bench/cbor.lua [records [runs]]
--
-- It reports; it asserts nothing about timing.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath

local cbor = require("surrealdb.cbor")
local core = require("surrealdb.core")
local cjson = require("cjson")
local RecordID = require("surrealdb.types.record_id")
local Datetime = require("surrealdb.types.datetime")

local N = tonumber(arg and arg[1]) or 100000
-- Best of 5 by default; on a shared machine whose speed wanders, more runs find its quiet moments.
local RUNS = tonumber(arg and arg[2]) or 5
local clock = core.clock_monotonic

local words = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta" }

local function build()
  local ours, json = {}, {}
  for i = 1, N do
    local tags = { words[i % 8 + 1], words[(i * 3) % 8 + 1], words[(i * 5) % 8 + 1] }
    local name = "user_" .. i
    local score = i * 0.731 + 0.5
    local active = i % 3 == 0
    local seconds = 1700000000 + i
    ours[i] = {
      id = i,
      name = name,
      score = score,
      active = active,
      tags = tags,
      meta = { level = i % 10, note = "n" .. (i % 100) },
      ref = RecordID("person", i),
      created = Datetime.from_epoch(seconds, 123456789),
    }
    json[i] = {
      id = i,
      name = name,
      score = score,
      active = active,
      tags = { tags[1], tags[2], tags[3] },
      meta = { level = i % 10, note = "n" .. (i % 100) },
      ref = "person:" .. i,
      created = os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. ".123456789Z",
    }
  end
  return ours, json
end

-- One timed run of f(), started after a full collection. With `stopped`, the collector is stopped
-- during the run: the codec's own work, without the collection work its allocations cause (which
-- depends on everything else alive in the heap).
local function timed(f, stopped)
  collectgarbage("collect")
  if stopped then collectgarbage("stop") end
  local t0 = clock()
  f()
  local dt = clock() - t0
  collectgarbage("restart")
  return dt
end

local ours, json = build()

-- Best of RUNS runs for each side. The runs of the two sides alternate, so that a machine whose
-- speed drifts (a shared VM) slows both alike.
local results = {}
local function measure(label, ours_fn, json_fn)
  for _, stopped in ipairs({ false, true }) do
    local t_ours, t_json = math.huge, math.huge
    for _ = 1, RUNS do
      t_ours = math.min(t_ours, timed(ours_fn, stopped))
      t_json = math.min(t_json, timed(json_fn, stopped))
    end
    results[#results + 1] = {
      label = label .. (stopped and " (gc stopped)" or ""), ours = N / t_ours, json = N / t_json,
    }
  end
end

local encode, decode = cbor.encode, cbor.decode
local jencode, jdecode = cjson.encode, cjson.decode

-- Encoding, whole batch (one call on the array of N records) and one call per record.
measure("encode batch", function() encode(ours) end, function() jencode(json) end)
measure("encode per record", function()
  for i = 1, N do encode(ours[i]) end
end, function()
  for i = 1, N do jencode(json[i]) end
end)

-- encode_rows against cbor.encode of the same array: one call for all N records (the same bytes),
-- and the bulk-insert use, batches of at most 1 MiB until every record is in one.
assert(cbor.encode_rows(ours, 1, N, math.maxinteger).bytes == encode(ours), "encode_rows differs from encode")
local encode_rows = cbor.encode_rows
local MiB = 1024 * 1024
local batches = 0
local rows_results = {}
local function measure_rows(label, rows_fn)
  local t_rows, t_encode = math.huge, math.huge
  for _ = 1, RUNS do
    t_rows = math.min(t_rows, timed(rows_fn))
    t_encode = math.min(t_encode, timed(function() encode(ours) end))
  end
  rows_results[#rows_results + 1] = { label = label, rows = N / t_rows, encode = N / t_encode }
end
measure_rows("encode_rows, one array", function() encode_rows(ours, 1, N, math.maxinteger) end)
measure_rows("encode_rows, 1 MiB batches", function()
  local first = 1
  batches = 0
  while first <= N do
    local _, n = encode_rows(ours, first, N, MiB)
    first = first + n
    batches = batches + 1
  end
end)

-- Decoding works on the encoded bytes alone: the source records are dropped first, so that neither
-- side's decode pays the collector for 2 x N records it does not touch.
local batch_cbor, batch_json = encode(ours), jencode(json)
local each_cbor, each_json = {}, {}
for i = 1, N do
  each_cbor[i] = encode(ours[i])
  each_json[i] = jencode(json[i])
end
ours, json = nil, nil -- luacheck: ignore 311
collectgarbage("collect")
measure("decode batch", function() decode(batch_cbor) end, function() jdecode(batch_json) end)
measure("decode per record", function()
  for i = 1, N do decode(each_cbor[i]) end
end, function()
  for i = 1, N do jdecode(each_json[i]) end
end)

print(string.format("surrealdb.cbor vs lua-cjson %s: %d records of 8 fields, best of %d runs", cjson._VERSION, N, RUNS))
print(string.format("batch size: CBOR %d bytes, JSON %d bytes", #batch_cbor, #batch_json))
print(string.format("%-32s %15s %15s %7s", "", "cbor records/s", "cjson records/s", "ratio"))
for _, r in ipairs(results) do
  print(string.format("%-32s %15.0f %15.0f %6.2fx", r.label, r.ours, r.json, r.ours / r.json))
end
print()
print(string.format("cbor.encode_rows vs cbor.encode of the same %d records (%d batches of at most 1 MiB)", N, batches))
print(string.format("%-32s %15s %15s %7s", "", "rows records/s", "encode rec/s", "ratio"))
for _, r in ipairs(rows_results) do
  print(string.format("%-32s %15.0f %15.0f %6.2fx", r.label, r.rows, r.encode, r.rows / r.encode))
end
