-- Integration: db:bulk() over HTTP and WebSocket against the real engine: every kind, returning modes,
-- id generation, batches split by size, bad rows, errors, progress and cancellation.
-- Faults (cut connections, a killed server, Ctrl-C) are in bulk_fault_spec.lua.
local helper = require("spec.helper")
local surrealdb = require("surrealdb")
local errors = surrealdb.errors
local RecordID = surrealdb.RecordID

local base = helper.server_url()
local schemes = { http = base, ws = (base:gsub("^http", "ws")) }

local function count(db, tb)
  local rows = db:query("SELECT count() AS n FROM type::table($tb) GROUP ALL", { tb = tb })
  return rows[1] and rows[1].n or 0
end

-- An iterator over `n` generated rows that records how many were taken.
local function generator(n, make)
  local source = { taken = 0 }
  function source.next()
    if source.taken >= n then return nil end
    source.taken = source.taken + 1
    return make(source.taken)
  end
  return source
end

describe("bulk (options) #unit", function()
  it("rejects unknown and bad options with ValidationErrors naming them", function()
    local db = setmetatable({}, { __index = require("surrealdb.client") })
    local bulk = require("surrealdb.bulk")
    local cases = {
      { { batch_size = 0 }, "batch_size" },
      { { batch_size = "big" }, "batch_size" },
      { { parallel = 1.5 }, "parallel" },
      { { max_retries = -1 }, "max_retries" },
      { { returning = "some" }, "returning" },
      { { ids = "random" }, "ids" },
      { { progress = 3 }, "progress" },
      { { max_batch_bytes = 10 }, "max_batch_bytes" },
      { { timeout = 0 }, "timeout" },
      { { batchsize = 10 }, "batchsize" },
    }
    for _, case in ipairs(cases) do
      helper.raises(function() bulk.new(db, case[1]) end, case[2], "ValidationError")
    end
    helper.raises(function() bulk.new(db, "fast") end, "must be a table", "ValidationError")
  end)
end)

for scheme, url in pairs(schemes) do
  describe("bulk over " .. scheme .. " #integration", function()
    local db

    before_each(function()
      db = surrealdb.connect(url, { namespace = "spec", database = helper.fresh_name("bulk_" .. scheme), timeout = 20 })
      db:query("DEFINE TABLE person SCHEMALESS; DEFINE TABLE post SCHEMALESS; DEFINE TABLE likes TYPE RELATION")
    end)

    after_each(function() db:close() end)

    it("inserts rows from an array and from an iterator, holding at most (parallel + 1) x batch_size", function()
      local rows = {}
      for i = 1, 1000 do rows[i] = { n = i, name = "p" .. i } end
      local result = db:bulk{ batch_size = 100 }:insert("person", rows)
      assert.are.equal(1000, result.success_count)
      assert.are.equal(0, result.error_count)
      assert.are.equal(10, result.batches)
      assert.are.equal(100, result.batch_size)
      assert.is_true(result.elapsed > 0)
      assert.are.equal(1000, count(db, "person"))

      local source = generator(5000, function(i) return { n = i } end)
      local max_ahead = 0
      result = db:bulk{ batch_size = 50, parallel = 3, progress = function(done)
        max_ahead = math.max(max_ahead, source.taken - done)
      end }:insert("post", source.next)
      assert.are.equal(5000, result.success_count)
      assert.are.equal(5000, count(db, "post"))
      -- Three batches in flight and the next one made while they run.
      assert.is_true(max_ahead <= (3 + 1) * 50, "rows taken ahead of those sent: " .. max_ahead)
      assert.is_nil(result.results)
    end)

    it("generates time-ordered UUID ids for rows without one and keeps given ids", function()
      local rows = { { name = "a" }, { name = "b", id = "given" }, { name = "c" } }
      local result = db:bulk{ ids = "generate", returning = "ids" }:insert("person", rows)
      assert.are.equal(3, #result.results)
      assert.are.equal(RecordID("person", "given"), result.results[2])
      assert.is_true(getmetatable(rows[1].id) == RecordID, "the generated id is written into the row")
      assert.are.equal(7, rows[1].id.id:version())
      assert.is_true(rows[1].id.id < rows[3].id.id)
      assert.are.equal("a", db:select(rows[1].id).name)
    end)

    it("returns ids or full records in the order of the rows", function()
      local rows = {}
      for i = 1, 250 do rows[i] = { id = i, n = i } end
      local result = db:bulk{ batch_size = 40, parallel = 3, returning = "full" }:insert("person", rows)
      assert.are.equal(250, #result.results)
      for i, record in ipairs(result.results) do
        assert.are.equal(i, record.n)
        assert.are.equal(RecordID("person", i), record.id)
      end
      local plain = {}
      for i = 1, 30 do plain[i] = { n = i } end
      result = db:bulk{ batch_size = 7, returning = "ids" }:insert("post", plain)
      assert.are.equal(30, #result.results)
      for _, id in ipairs(result.results) do assert.are.equal("post", id.tb) end
    end)

    it("upserts, updates (merge or replace), relates and deletes", function()
      local people = {}
      for i = 1, 300 do people[i] = { id = i, name = "p" .. i, age = i } end
      db:bulk{ batch_size = 64 }:upsert("person", people)
      people[1] = { id = 1, name = "replaced" }
      local result = db:bulk{ batch_size = 64 }:upsert("person", people)
      assert.are.equal(300, result.success_count)
      assert.are.equal(300, count(db, "person"))
      assert.is_nil(db:select(RecordID("person", 1)).age)

      local items = {}
      for i = 2, 101 do items[#items + 1] = { id = i, data = { age = 1000 + i }, merge = true } end
      items[#items + 1] = { id = RecordID("person", 102), data = { only = true } }
      items[#items + 1] = { id = "missing", data = { ghost = true }, merge = true }
      result = db:bulk{ batch_size = 30, returning = "full" }:update("person", items)
      assert.are.equal(102, result.success_count)
      assert.are.equal(101, #result.results, "a missing record is left alone")
      local p2 = db:select(RecordID("person", 2))
      assert.are.equal("p2", p2.name)
      assert.are.equal(1002, p2.age)
      local p102 = db:select(RecordID("person", 102))
      assert.is_true(p102.only)
      assert.is_nil(p102.name)
      assert.are.equal(300, count(db, "person"))

      db:bulk():insert("post", { { id = "x" }, { id = "y" } })
      local edges = {}
      for i = 1, 40 do
        edges[i] = { from = RecordID("person", i), to = i % 2 == 0 and "post:x" or "post:y", data = { weight = i } }
      end
      result = db:bulk{ batch_size = 16, ids = "generate" }:relate("likes", edges)
      assert.are.equal(40, result.success_count)
      local liked = db:query("SELECT VALUE count(<-likes) FROM post:x")
      assert.are.equal(20, liked[1])
      local weights = db:query("SELECT VALUE math::sum(->likes.weight) FROM person:4")
      assert.are.equal(4, weights[1])

      local ids = {}
      for i = 1, 150 do ids[i] = i end
      ids[#ids + 1] = RecordID("person", 151)
      result = db:bulk{ batch_size = 50, returning = "ids" }:delete("person", ids)
      assert.are.equal(151, result.success_count)
      assert.are.equal(151, #result.results)
      assert.are.equal(149, count(db, "person"))
    end)

    it("splits a batch that would pass max_batch_bytes and fails a row that cannot fit alone", function()
      local rows = {}
      for i = 1, 40 do rows[i] = { id = i, text = ("x"):rep(1000) } end
      rows[25].text = ("y"):rep(20000)
      local ok, err = pcall(function()
        return db:bulk{ batch_size = 40, max_batch_bytes = 8192, ignore_errors = true }:insert("person", rows)
      end)
      assert.is_true(ok, tostring(err))
      local result = err
      assert.are.equal(39, result.success_count)
      assert.are.equal(1, result.error_count)
      assert.are.same({ 25, 25 }, result.errors[1].rows)
      assert.is_true(errors.is(result.errors[1].error, "ValidationError"))
      assert.matches("row 25 encodes to %d+ bytes", result.errors[1].error.message)
      assert.is_true(result.batches > 5, "split into batches of at most 8 KiB")
      assert.are.equal(39, count(db, "person"))
      assert.are.equal(0, #db:query("SELECT * FROM $id", { id = RecordID("person", 25) }))
    end)

    it("reports rows that cannot be sent by their number and stops at the first failed batch", function()
      local rows = {}
      for i = 1, 100 do rows[i] = { id = i } end
      rows[30] = "not a row"
      local ok, err = pcall(function() return db:bulk{ batch_size = 10, parallel = 1 }:insert("person", rows) end)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "BulkOperationError"), tostring(err))
      assert.matches("row 30 cannot be sent", err.message)
      local result = err.result
      assert.are.same({ 30, 30 }, result.errors[1].rows)
      assert.are.equal(29, result.success_count, "the rows before it landed, in batches that end before it")
      assert.are.equal(29, count(db, "person"))

      -- A batch the server refuses (a duplicate id) is reported with its rows; with ignore_errors the rest goes on.
      local again = {}
      for i = 1, 100 do again[i] = { id = i + 20 } end
      local result2 = db:bulk{ batch_size = 10, parallel = 2, ignore_errors = true }:insert("person", again)
      assert.are.equal(1, #result2.errors)
      assert.are.same({ 1, 10 }, result2.errors[1].rows)
      assert.are.equal("AlreadyExists", result2.errors[1].error.kind)
      assert.are.equal(90, result2.success_count)
      assert.are.equal(119, count(db, "person"))
    end)

    it("refuses a row whose id is a record of another table instead of storing it under this one", function()
      local rows = { { id = 1 }, { id = surrealdb.RecordID("elsewhere", 2) }, { id = surrealdb.RecordID("stray", 3) } }
      local ok, err = pcall(function() return db:bulk{ batch_size = 10 }:insert("stray", rows) end)
      assert.is_false(ok)
      assert.matches("row 2 cannot be sent: the row's id elsewhere:2 belongs to table elsewhere, not stray",
        err.message)
      assert.are.equal(1, count(db, "stray"), "the row before it landed, as with any row that cannot be sent")
      local edge = { from = "person:1", to = "person:2", id = surrealdb.RecordID("person", 9) }
      ok, err = pcall(function() return db:bulk():relate("knows", { edge }) end)
      assert.is_false(ok)
      assert.matches("row 1 cannot be sent: the edge's id person:9 belongs to table person, not knows", err.message)
    end)

    it("still sends the rows before a row it cannot send while it makes batches ahead of the senders", function()
      local rows = {}
      for i = 1, 200 do rows[i] = { id = i } end
      rows[95] = "not a row"
      local ok, err = pcall(function() return db:bulk{ batch_size = 10, parallel = 3 }:insert("late", rows) end)
      assert.is_false(ok)
      assert.matches("row 95 cannot be sent", err.message)
      assert.are.same({ 95, 95 }, err.result.errors[1].rows)
      assert.are.equal(94, err.result.success_count)
      assert.are.equal(94, count(db, "late"))
    end)

    it("raises a BulkOperationError carrying the result when a batch fails", function()
      db:query("DEFINE TABLE strict SCHEMAFULL; DEFINE FIELD n ON strict TYPE int")
      local rows = {}
      for i = 1, 50 do rows[i] = { n = i } end
      rows[33] = { n = "thirty-three" }
      local ok, err = pcall(function() return db:bulk{ batch_size = 10, parallel = 1 }:insert("strict", rows) end)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "BulkOperationError"))
      assert.matches("batch 4 %(rows 31%-40%) failed", err.message)
      assert.are.equal(30, err.result.success_count)
      assert.are.equal(10, err.result.error_count)
      assert.is_true(errors.is(err.cause, "QueryError"))
      assert.are.equal(30, count(db, "strict"))
    end)

    it("reports progress, stops on cancel, and stops when progress raises", function()
      local bulk
      local calls = 0
      bulk = db:bulk{ batch_size = 10, parallel = 2, progress = function(done, total)
        calls = calls + 1
        assert.are.equal(1000, total)
        if done >= 200 then bulk:cancel() end
      end }
      local rows = {}
      for i = 1, 1000 do rows[i] = { n = i } end
      local ok, err = pcall(bulk.insert, bulk, "person", rows)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "BulkOperationError"))
      assert.is_true(err.cancelled)
      assert.is_true(err.result.cancelled)
      local landed = err.result.success_count
      assert.is_true(landed >= 200 and landed <= 220, "landed " .. landed)
      assert.are.equal(landed, count(db, "person"))
      assert.is_true(calls >= 20)

      ok, err = pcall(function()
        return db:bulk{ batch_size = 10, parallel = 1, progress = function() error("stop here") end }
          :insert("post", rows)
      end)
      assert.is_false(ok)
      assert.matches("progress function raised", err.message)
      assert.matches("stop here", tostring(err.cause))
      assert.are.equal(10, err.result.success_count)
    end)

    it("chooses a batch size with batch_size = \"auto\" and says what it measured", function()
      local source = generator(50000, function(i) return { n = i, name = "row" .. i } end)
      local result = db:bulk{ ids = "generate" }:insert("person", source.next)
      assert.are.equal(50000, result.success_count)
      assert.are.equal("number", math.type(result.batch_size) and "number")
      assert.is_true(#result.tuning >= 1,
        ("nothing measured in %.2f s, %d batches"):format(result.elapsed, result.batches))
      for _, tried in ipairs(result.tuning) do
        assert.is_true(tried.size >= 25 and tried.rows_per_s > 0)
      end
      assert.are.equal(50000, count(db, "person"))
    end)

    it("validates its arguments", function()
      local bulk = db:bulk()
      helper.raises(function() bulk:insert(42, {}) end, "table name", "ValidationError")
      helper.raises(function() bulk:insert("", {}) end, "empty", "ValidationError")
      helper.raises(function() bulk:insert("person", "rows") end, "array or an iterator", "ValidationError")
      local ok, err = pcall(bulk.upsert, bulk, "person", { { name = "no id" } })
      assert.is_false(ok)
      assert.matches("needs an id", err.message)
      ok, err = pcall(bulk.delete, bulk, "person", { RecordID("post", 1) })
      assert.is_false(ok)
      assert.matches("belongs to table post", err.message)
      ok, err = pcall(bulk.relate, bulk, "likes", { { from = "person:1" } })
      assert.is_false(ok)
      assert.matches("edge's to", err.message)
      local result = bulk:insert("person", {})
      assert.are.equal(0, result.success_count)
    end)
  end)
end
