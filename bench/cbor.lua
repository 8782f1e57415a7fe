-- Benchmark: surrealdb.cbor against lua-cjson on the same records, in the same process.
--
-- Builds 100,000 records of 8 mixed fields (an integer id, a string name, a float score, a boolean,
-- an array of 3 short strings, a nested object of 2 fields, a RecordID and a Datetime; the JSON side
-- carries the RecordID and the Datetime as strings, as JSON cannot carry them), then measures encode
-- and decode of the whole batch and of one record per call, best of 5 runs each, and prints
-- records/s and the ratios. Run from the project root:
--
--     LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;' lua5.4 bench/cbor.lua [records]
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
local RUNS = 5
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
    -- The value layouts of the contract (lua/surrealdb/cbor.lua): { tb, id } and { seconds, nanoseconds }.
    ours[i] = {
      id = i,
      name = name,
      score = score,
      active = active,
      tags = tags,
      meta = { level = i % 10, note = "n" .. (i % 100) },
      ref = setmetatable({ tb = "person", id = i }, RecordID),
      created = setmetatable({ seconds = seconds, nanoseconds = 123456789 }, Datetime),
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

-- Best time of RUNS runs of f().
local function best(f)
  local min = math.huge
  for _ = 1, RUNS do
    collectgarbage("collect")
    local t0 = clock()
    f()
    local dt = clock() - t0
    if dt < min then min = dt end
  end
  return min
end

local ours, json = build()

local results = {}
local function measure(label, ours_fn, json_fn)
  local t_ours, t_json = best(ours_fn), best(json_fn)
  results[#results + 1] = { label = label, ours = N / t_ours, json = N / t_json }
end

-- Whole batch: one call on the array of N records.
local batch_cbor = cbor.encode(ours)
local batch_json = cjson.encode(json)
measure("encode batch", function() cbor.encode(ours) end, function() cjson.encode(json) end)
measure("decode batch", function() cbor.decode(batch_cbor) end, function() cjson.decode(batch_json) end)

-- Per record: one call per record.
local each_cbor, each_json = {}, {}
for i = 1, N do
  each_cbor[i] = cbor.encode(ours[i])
  each_json[i] = cjson.encode(json[i])
end
local encode, decode = cbor.encode, cbor.decode
local jencode, jdecode = cjson.encode, cjson.decode
measure("encode per record", function()
  for i = 1, N do encode(ours[i]) end
end, function()
  for i = 1, N do jencode(json[i]) end
end)
measure("decode per record", function()
  for i = 1, N do decode(each_cbor[i]) end
end, function()
  for i = 1, N do jdecode(each_json[i]) end
end)

print(string.format("surrealdb.cbor vs lua-cjson %s: %d records of 8 fields, best of %d runs", cjson._VERSION, N, RUNS))
print(string.format("batch size: CBOR %d bytes, JSON %d bytes", #batch_cbor, #batch_json))
print(string.format("%-20s %16s %16s %8s", "", "cbor records/s", "cjson records/s", "ratio"))
for _, r in ipairs(results) do
  print(string.format("%-20s %16.0f %16.0f %7.2fx", r.label, r.ours, r.json, r.ours / r.json))
end
