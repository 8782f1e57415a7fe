--- Bulk operations: many rows inserted, upserted, updated, deleted or related in parallel batches.
--
-- Rows come from an array or an iterator, so an import of millions of rows holds at most
-- `(parallel + 1) × batch_size` of them in memory (the batches in flight and the next one, made while
-- they run). Each batch is encoded once, in C, into one CBOR array
-- (split further when it would pass `max_batch_bytes`, the server's message limit), and sent as one
-- parameterized statement; `parallel` batches are in flight at once across the client's pool.
--
-- A batch that fails with a retryable transaction conflict, or that could not be sent, is sent
-- again (up to `max_retries` times, with backoff). A batch whose answer was lost may or may not
-- have landed: it is sent again only when that cannot duplicate rows: upserts, updates and deletes
-- are idempotent, and inserts whose rows all have ids are sent again as `INSERT IGNORE`, which skips
-- the rows that already landed. `ids = "generate"` gives every row without an id a time-ordered
-- UUID (v7) id before it is sent, so that holds for every insert.
--
-- The result (a BulkResult) says exactly which rows landed: `success_count`, `error_count`,
-- `errors` (`{ batch =, rows = { first, last }, error = }`, row numbers counted from 1 in the order
-- given), `results` (with `returning`), `batch_size` (the one chosen, with `"auto"`), `elapsed`,
-- `batches`, `retries` and `cancelled`. With `ignore_errors = false` (the default) the first failed
-- batch stops new batches; those in flight finish, and a BulkOperationError carrying the result as
-- `err.result` is raised. Ctrl-C (SIGINT) while a bulk runs, or `bulk:cancel()`, stops the same way:
-- no batch is cut in half, and the error's result tells what landed. A second Ctrl-C interrupts at once.
-- @module surrealdb.bulk
-- @usage
-- local bulk = db:bulk{ parallel = 2, ids = "generate", progress = function(done) print(done) end }
-- local result = bulk:insert("person", io.lines("people.csv"), ...)
local cbor = require("surrealdb.cbor")
local core = require("surrealdb.core")
local errors = require("surrealdb.errors")
local log = require("surrealdb.log")
local runtime = require("surrealdb.runtime")
local types = require("surrealdb.types")

local Bulk = { __name = "surrealdb.Bulk" }
Bulk.__index = Bulk

-- The server's default limit of an HTTP RPC body is 4 MiB; the statement and envelope need a little.
local DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024 - 16 * 1024
local AUTO_START = 100 -- crud-bench's size, and the best fixed size measured (see shared/PROTOCOL.md)
local AUTO_MIN, AUTO_MAX = 25, 6400

local DEFAULTS = {
  batch_size = "auto",
  parallel = 2,
  max_retries = 5,
  ignore_errors = false,
  returning = "none",
  ids = "keep",
  max_batch_bytes = DEFAULT_MAX_BATCH_BYTES,
}

local RETURNING = { none = " RETURN NONE", ids = " RETURN id", full = " RETURN AFTER" }

-- The statements of each kind. `sql(returning)` is the statement; `again` the one for a batch whose
-- first answer was lost (nil: only an idempotent statement may be sent again). `$sdb_table` is the
-- Table and `$sdb_rows` the batch.
local KINDS = {
  insert = {
    -- Without results, a loop of CREATEs: one statement (the batch lands whole or not at all) that
    -- the engine runs in time linear in the batch, where one INSERT of n rows costs more per row as
    -- n grows (in-process, 2 cores, 8-field rows: 43,000 against 37,000 rows/s at 200 rows a batch,
    -- 49,000 against 17,700 at 1,000).
    sql = function(returning)
      if returning == "none" then
        return "FOR $sdb_row IN $sdb_rows { CREATE $sdb_table CONTENT $sdb_row RETURN NONE }"
      end
      return "INSERT INTO $sdb_table $sdb_rows" .. RETURNING[returning]
    end,
    again = function(returning)
      if returning == "full" then return "INSERT IGNORE INTO $sdb_table $sdb_rows RETURN NONE; SELECT * FROM "
        .. "$sdb_rows.id" end
      return "INSERT IGNORE INTO $sdb_table $sdb_rows" .. RETURNING[returning]
    end,
  },
  relate = {
    sql = function(returning) return "INSERT RELATION INTO $sdb_table $sdb_rows" .. RETURNING[returning] end,
    again = function(returning)
      if returning == "full" then return "INSERT RELATION IGNORE INTO $sdb_table $sdb_rows RETURN NONE; "
        .. "SELECT * FROM $sdb_rows.id" end
      return "INSERT RELATION IGNORE INTO $sdb_table $sdb_rows" .. RETURNING[returning]
    end,
  },
  upsert = {
    idempotent = true,
    sql = function(returning)
      local sql = "FOR $sdb_row IN $sdb_rows { UPSERT $sdb_row.id CONTENT $sdb_row RETURN NONE }"
      if returning == "full" then sql = sql .. "; SELECT * FROM $sdb_rows.id" end
      return sql
    end,
  },
  update = {
    idempotent = true,
    sql = function(returning)
      local sql = "FOR $sdb_item IN $sdb_rows { IF $sdb_item.merge { UPDATE $sdb_item.id MERGE $sdb_item.data "
        .. "RETURN NONE } ELSE { UPDATE $sdb_item.id CONTENT $sdb_item.data RETURN NONE } }"
      if returning == "full" then sql = sql .. "; SELECT * FROM $sdb_rows.id" end
      return sql
    end,
  },
  delete = {
    idempotent = true,
    sql = function(returning)
      return "DELETE $sdb_rows" .. (returning == "none" and " RETURN NONE" or " RETURN BEFORE")
    end,
  },
}

--- The statement a batch of `kind` is sent as, with `$sdb_table` (a Table) and `$sdb_rows` (the rows) bound.
-- @tparam string kind `"insert"`, `"upsert"`, `"update"`, `"delete"` or `"relate"`
-- @tparam[opt="none"] string returning `"none"`, `"ids"` or `"full"`
-- @treturn string SurrealQL
-- @usage print(Bulk.statement("insert", "ids")) --> INSERT INTO $sdb_table $sdb_rows RETURN id
function Bulk.statement(kind, returning)
  return KINDS[kind].sql(returning or "none")
end

local function invalid(message, level)
  errors.raise("ValidationError", message, nil, (level or 1) + 1)
end

--- Make a bulk operation runner for a client (see `Client:bulk`).
-- @param db the client
-- @tparam[opt] table options `batch_size` (`"auto"` or rows per batch), `parallel` (batches in flight, default 2),
--   `max_retries` (per batch, default 5), `ignore_errors` (default false), `returning` (`"none"`, `"ids"` or
--   `"full"`), `ids` (`"keep"` or `"generate"`), `progress` (`function(done, total)`; total is nil for an
--   iterator), `max_batch_bytes` (default just under 4 MiB), `timeout` (seconds per batch)
-- @return a Bulk
-- @usage local result = db:bulk{ batch_size = 500, parallel = 4 }:insert("person", rows)
function Bulk.new(db, options)
  if options ~= nil and type(options) ~= "table" then
    invalid("bulk options must be a table, got " .. type(options), 2)
  end
  local self = setmetatable({ db = db }, Bulk)
  for k, v in pairs(DEFAULTS) do self[k] = v end
  for k, v in pairs(options or {}) do
    if DEFAULTS[k] == nil and k ~= "progress" and k ~= "timeout" then
      invalid(("bulk has no option %q"):format(tostring(k)), 2)
    end
    self[k] = v
  end
  local size = self.batch_size
  if size ~= "auto" and (math.type(size) ~= "integer" or size < 1) then
    invalid("batch_size must be \"auto\" or a positive integer, got " .. tostring(size), 2)
  end
  if math.type(self.parallel) ~= "integer" or self.parallel < 1 then
    invalid("parallel must be a positive integer, got " .. tostring(self.parallel), 2)
  end
  if math.type(self.max_retries) ~= "integer" or self.max_retries < 0 then
    invalid("max_retries must be an integer of at least 0, got " .. tostring(self.max_retries), 2)
  end
  if not RETURNING[self.returning] then
    invalid("returning must be \"none\", \"ids\" or \"full\", got " .. tostring(self.returning), 2)
  end
  if self.ids ~= "keep" and self.ids ~= "generate" then
    invalid("ids must be \"keep\" or \"generate\", got " .. tostring(self.ids), 2)
  end
  if self.progress ~= nil and type(self.progress) ~= "function" then
    invalid("progress must be a function, got " .. type(self.progress), 2)
  end
  if math.type(self.max_batch_bytes) ~= "integer" or self.max_batch_bytes < 64 then
    invalid("max_batch_bytes must be an integer of at least 64, got " .. tostring(self.max_batch_bytes), 2)
  end
  if self.timeout ~= nil and (type(self.timeout) ~= "number" or self.timeout <= 0) then
    invalid("timeout must be a positive number of seconds, got " .. tostring(self.timeout), 2)
  end
  return self
end

--- Stop the running operation after the batches in flight (from a progress callback or another task).
-- @usage db:bulk{ progress = function(done) if done >= 1000 then bulk:cancel() end end }
function Bulk:cancel()
  self.cancel_requested = true
end

-- ---- rows ----

-- The rows of `rows`: an array, or an iterator function returning one row per call and nil at the end.
local function row_source(rows, what)
  if type(rows) == "function" then return rows, nil end
  if type(rows) ~= "table" then
    invalid(("%s expects an array or an iterator function of rows, got %s"):format(what, type(rows)), 3)
  end
  local i, n = 0, #rows
  return function()
    if i >= n then return nil end
    i = i + 1
    return rows[i]
  end, n
end

-- A record id of `tb` from an id given as a RecordID or as the id part alone.
local function record_of(tb, id, what)
  if getmetatable(id) == types.RecordID then
    if id.tb ~= tb then
      return nil, ("%s %s belongs to table %s, not %s"):format(what, tostring(id), id.tb, tb)
    end
    return id
  end
  local ok, record = pcall(types.RecordID.new, tb, id)
  if not ok then return nil, ("%s is not a valid record id: %s"):format(what, tostring(record.message or record)) end
  return record
end

local function endpoint(value, name)
  if type(value) == "string" then
    local ok, record = pcall(types.RecordID.parse, value)
    if ok then return record end
    return nil, ("%s %q is not a record id: %s"):format(name, value, tostring(record.message or record))
  end
  if getmetatable(value) == types.RecordID then return value end
  return nil, ("%s must be a record id (a RecordID or a \"table:id\" string), got %s"):format(name, type(value))
end

-- A row of insert or relate with its id settled: one made when it has none and ids = "generate";
-- a RecordID of another table refused. Returns the row, or nil and why it cannot be sent.
local function with_own_id(run, row, what)
  if row.id == nil and run.ids == "generate" then row.id = types.RecordID(run.table_name, types.Uuid.v7()) end
  if getmetatable(row.id) == types.RecordID then
    local id, why = record_of(run.table_name, row.id, what)
    if not id then return nil, why end
  end
  return row
end

-- Each kind's row as sent: returns the row, or nil and why it cannot be sent.
local PREPARE = {
  insert = function(run, row)
    if type(row) ~= "table" then return nil, "a row must be a table, got " .. type(row) end
    return with_own_id(run, row, "the row's id")
  end,
  upsert = function(run, row)
    if type(row) ~= "table" then return nil, "a row must be a table, got " .. type(row) end
    if row.id == nil then
      if run.ids ~= "generate" then return nil, "an upserted row needs an id (or ids = \"generate\")" end
      row.id = types.RecordID(run.table_name, types.Uuid.v7())
      return row
    end
    local id, why = record_of(run.table_name, row.id, "the row's id")
    if not id then return nil, why end
    row.id = id
    return row
  end,
  update = function(run, item)
    if type(item) ~= "table" then return nil, "an update item must be a table { id =, data =, merge = }" end
    local id, why = record_of(run.table_name, item.id, "the item's id")
    if not id then return nil, why end
    if type(item.data) ~= "table" then return nil, "the item's data must be a table, got " .. type(item.data) end
    return { id = id, data = item.data, merge = item.merge == true }
  end,
  delete = function(run, id)
    local record, why = record_of(run.table_name, id, "the id")
    if not record then return nil, why end
    return record
  end,
  relate = function(run, edge)
    if type(edge) ~= "table" then return nil, "an edge must be a table { from =, to =, data = }, got " .. type(edge) end
    local row = {}
    for k, v in pairs(edge.data or {}) do row[k] = v end
    for k, v in pairs(edge) do
      if k ~= "from" and k ~= "to" and k ~= "data" then row[k] = v end
    end
    local why
    row["in"], why = endpoint(edge.from or edge["in"], "the edge's from")
    if not row["in"] then return nil, why end
    row.out, why = endpoint(edge.to or edge.out, "the edge's to")
    if not row.out then return nil, why end
    return with_own_id(run, row, "the edge's id")
  end,
}

-- Whether every row of the batch names its record (then sending it again cannot duplicate one).
local function all_have_ids(rows, first, last)
  for i = first, last do
    if rows[i].id == nil then return false end
  end
  return true
end

-- ---- automatic batch size ----

-- Picks the batch size from measured throughput. After a warm-up (the first batches on a fresh
-- connection and table run slow), each size is measured for at least MEASURE_BATCHES batches and
-- MEASURE_SECONDS: the rows of the batches that started after the size was set, over the wall time
-- since then. Starting at AUTO_START, the size doubles while that pays more than 10%; when the first
-- doubling does not pay, half the start is tried the same way. When the best is not the start, the
-- start is measured once more (the server itself may still have been warming up the first time),
-- and the better of the two is kept.
local WARMUP_SECONDS, WARMUP_BATCHES = 0.25, 4
local MEASURE_SECONDS, MEASURE_BATCHES = 0.5, 8
local Tuner = {}
Tuner.__index = Tuner

local function new_tuner(parallel)
  local now = runtime.now()
  return setmetatable({
    size = AUTO_START,
    parallel = parallel,
    phase_start = now,
    warm_until = now + WARMUP_SECONDS,
    warmup_batches = WARMUP_BATCHES + parallel,
    phase_rows = 0,
    phase_batches = 0,
    tried = {},
    direction = 1,
    settled = false,
  }, Tuner)
end

-- Measure `size` from now on.
function Tuner:start(size)
  self.size, self.phase_start, self.phase_rows, self.phase_batches = size, runtime.now(), 0, 0
end

-- A batch of `size` rows that started at `started` is done with `rows` rows landed.
function Tuner:record(size, rows, started)
  if self.settled then return end
  local now = runtime.now()
  if self.warmup_batches > 0 or now < self.warm_until then
    self.warmup_batches = self.warmup_batches - 1
    if self.warmup_batches <= 0 and now >= self.warm_until then self:start(self.size) end
    return
  end
  if size ~= self.size or started < self.phase_start then return end
  self.phase_rows, self.phase_batches = self.phase_rows + rows, self.phase_batches + 1
  local elapsed = now - self.phase_start
  if self.phase_batches < MEASURE_BATCHES or elapsed < MEASURE_SECONDS then return end
  local rate = self.phase_rows / elapsed
  self.tried[#self.tried + 1] = { size = size, rows_per_s = rate }
  if self.verifying then
    if rate > self.best.rows_per_s then self.best = { size = size, rows_per_s = rate } end
    return self:settle()
  end
  local best = self.best
  if best == nil or rate > best.rows_per_s * 1.1 then
    self.best = { size = size, rows_per_s = rate }
    local next_size = self.direction > 0 and size * 2 or size // 2
    if next_size >= AUTO_MIN and next_size <= AUTO_MAX then
      self:start(next_size)
      return
    end
  elseif self.direction > 0 and best.size == AUTO_START then
    self.direction = -1
    self:start(AUTO_START // 2)
    return
  end
  if self.best.size ~= AUTO_START then
    self.verifying = true
    self:start(AUTO_START)
    return
  end
  self:settle()
end

function Tuner:settle()
  self.size, self.settled = self.best.size, true
  log.write("debug", ("bulk: batch size %d chosen (%.0f rows/s)"):format(self.best.size, self.best.rows_per_s))
end

-- ---- running ----

-- The error of a failed statement inside a successful query call, or nil when every one succeeded.
local function statement_error(raw)
  for i, statement in ipairs(raw) do
    if statement.status ~= "OK" then
      local err = errors.new("QueryError", ("statement %d failed: %s"):format(i, tostring(statement.result)),
        { kind = statement.kind, details = statement.details, statement = i })
      err.retryable = errors.is_retryable_conflict(err)
      return err
    end
  end
  return nil
end

-- Send one batch: rows[first..last] (rows number row_first.. of the source), already encoded; retry
-- what is safe to retry.
-- Returns the statement results, or raises the last error (with `attempts`).
function Bulk:send(run, encoded, rows, first, last, row_first)
  local kind = run.kind
  local sql = kind.sql(self.returning)
  local vars = { sdb_table = run.table, sdb_rows = encoded }
  local attempt, previous = 0, nil
  while true do
    attempt = attempt + 1
    local ok, raw = pcall(self.db.query_raw, self.db, sql, vars, { timeout = self.timeout, retry = false })
    local err
    if ok then
      err = statement_error(raw)
      if not err then return raw, attempt end
    else
      err = raw
    end
    if type(err) == "table" and err.cause == nil then err.cause = previous end
    local retry
    if type(err) ~= "table" or err.final or attempt > self.max_retries or self.db:is_closed() then
      retry = false
    elseif err.retryable or err.sent == false then
      retry = true
    elseif errors.is(err, "ConnectionError") or errors.is(err, "TimeoutError") then
      -- Lost answer: the batch may have landed.
      if kind.idempotent then
        retry = true
      elseif kind.again and all_have_ids(rows, first, last) then
        retry, sql = true, kind.again(self.returning)
      else
        err = errors.new("ConnectionError", ("the answer to a batch was lost, so it may or may not have landed; "
          .. "it was not sent again because some rows have no id (ids = \"generate\" avoids this): %s")
          :format(err.message), { outcome = "unknown", cause = err })
      end
    end
    if not retry then
      err.attempts = attempt
      error(err, 0)
    end
    run.retries = run.retries + 1
    previous = err
    local delay = runtime.backoff(attempt, 0.1, 5, 0.5)
    log.write("debug", ("bulk: batch of rows %d-%d sent again in %.2f s (attempt %d): %s"):format(
      row_first, row_first + last - first, delay, attempt + 1, tostring(err.message)))
    runtime.sleep(delay)
  end
end

-- The ids or records a batch's answer holds, as `returning` asks.
function Bulk:collect(run, raw, rows, first, last)
  local returning = self.returning
  if returning == "none" then return nil end
  if returning == "ids" and all_have_ids(rows, first, last) then
    local ids = types.array()
    for i = first, last do
      local id = rows[i].id
      if getmetatable(id) ~= types.RecordID then id = types.RecordID(run.table_name, id) end
      ids[#ids + 1] = id
    end
    return ids
  end
  local values = raw[#raw].result
  if returning == "ids" then
    local ids = types.array()
    for i, record in ipairs(values) do ids[i] = record.id end
    return ids
  end
  return values
end

-- Whether the run should take no new batch.
function Bulk:stopping(run)
  if run.stop then return true end
  if self.cancel_requested or core.interrupted() > 0 then
    run.stop, run.result.cancelled = true, true
    return true
  end
  return false
end

-- Pull the next rows from the source (at most `size`), prepared. A row that cannot be sent is
-- reported as a failed batch of its own and ends the batch before it, so the rows of a batch are
-- always consecutive rows of the source. Returns the rows and the number of the first, or nil.
function Bulk:pull(run, size)
  local rows, first_number = {}, nil
  repeat
    local row = run.next_row()
    if row == nil then
      run.exhausted = true
      break
    end
    run.pulled = run.pulled + 1
    local prepared, why = PREPARE[run.kind_name](run, row)
    if prepared == nil then
      run.batch_count = run.batch_count + 1
      self:failed(run, run.batch_count, run.pulled, run.pulled, errors.new("ValidationError",
        ("row %d cannot be sent: %s"):format(run.pulled, why), { row = run.pulled }))
      if #rows > 0 or run.last_row then break end
    else
      first_number = first_number or run.pulled
      rows[#rows + 1] = prepared
    end
  until #rows >= size
  if #rows == 0 then return nil end
  return rows, first_number
end

-- Record a failed batch; without ignore_errors, stop. A batch the server refused (`sent`) stops the
-- run: no batch is taken after it. Rows the producer could not make into a batch (it runs ahead of
-- the senders) stop it from making more, while the batches of the rows before them are still sent,
-- as they would have been without the look-ahead: `run.last_row` is then the last row to send.
function Bulk:failed(run, batch, first, last, err, sent)
  local result = run.result
  result.error_count = result.error_count + (last - first + 1)
  result.errors[#result.errors + 1] = { batch = batch, rows = { first, last }, error = err }
  if self.ignore_errors then return end
  if sent then
    run.stop = true
  elseif run.last_row == nil or first - 1 < run.last_row then
    run.last_row = first - 1
  end
end

-- ---- the producer and the senders ----
--
-- One producer task pulls the rows, prepares them and encodes them into batches; `parallel` sender
-- tasks send them. The producer hands one batch over at a time and makes the next while the senders
-- wait for their answers, so a sender whose answer came sends its next batch at once: the server
-- always has `parallel` batches to run, and the client's own work overlaps with the server's.
-- So at most `parallel + 1` batches are held at once (`parallel` in flight, one ready).

-- Wake every task waiting for the hand-over to change (a batch offered or taken, the producer done,
-- the run stopping).
local function wake_all(run)
  local waiting = run.waiting
  run.waiting = {}
  for _, waiter in ipairs(waiting) do waiter:complete(true) end
end

local function wait_for_change(run)
  local waiter = runtime.waiter(nil, "bulk batch hand-over")
  run.waiting[#run.waiting + 1] = waiter
  waiter:wait()
end

-- Rows pulled that will never be sent (the run stopped): neither landed nor failed.
local function not_sent(run, count)
  run.result.not_sent = (run.result.not_sent or 0) + count
end

-- Encode the rows from `first` on that fit in one message as the next batch; returns how many rows
-- it took and the batch, or no batch when they failed (recorded).
function Bulk:encode_batch(run, rows, number, first, size)
  run.batch_count = run.batch_count + 1
  local batch, row_first = run.batch_count, number + first - 1
  local encoded_ok, encoded, n, bytes = pcall(cbor.encode_rows, rows, first, #rows - first + 1,
    self.max_batch_bytes)
  if not encoded_ok then
    -- A row that CBOR cannot carry (its path names it): the rest of the pulled rows are not sent.
    self:failed(run, batch, row_first, number + #rows - 1, encoded)
    return #rows - first + 1
  elseif encoded == nil then
    self:failed(run, batch, row_first, row_first, errors.new("ValidationError",
      ("row %d encodes to %d bytes, more than max_batch_bytes (%d)"):format(row_first, bytes,
        self.max_batch_bytes), { row = row_first }))
    return 1
  end
  return n, { number = batch, encoded = encoded, rows = rows, first = first, last = first + n - 1,
    row_first = row_first, size = size }
end

-- The producer: pull rows, encode them into batches (several when they are too large for one
-- message) and hand each over when the previous one was taken.
function Bulk:produce(run)
  while not self:stopping(run) and not run.exhausted and not run.last_row do
    local size = run.tuner and run.tuner.size or self.batch_size
    local rows, number = self:pull(run, size)
    local first = 1
    while rows and first <= #rows do
      while run.ready and not run.stop do wait_for_change(run) end
      if run.stop or (run.last_row and number + first - 1 > run.last_row) then
        not_sent(run, #rows - first + 1)
        break
      end
      local n, batch = self:encode_batch(run, rows, number, first, size)
      first = first + n
      if batch then
        run.ready = batch
        wake_all(run)
      end
    end
  end
  run.produced = true
  wake_all(run)
end

-- The next batch to send, or nil when there is none left or the run stops.
function Bulk:take(run)
  while true do
    if self:stopping(run) then
      local left = run.ready
      if left then
        run.ready = nil
        not_sent(run, left.last - left.first + 1)
        wake_all(run)
      end
      return nil
    end
    local batch = run.ready
    if batch then
      run.ready = nil
      wake_all(run)
      return batch
    end
    if run.produced then return nil end
    wait_for_change(run)
  end
end

-- One of the `parallel` senders: take a batch, send it, record what happened, repeat.
function Bulk:send_batches(run)
  while true do
    local batch = self:take(run)
    if batch == nil then break end
    self:send_batch(run, batch)
  end
  wake_all(run)
end

function Bulk:send_batch(run, batch)
  local rows, first, last, row_first = batch.rows, batch.first, batch.last, batch.row_first
  local n = last - first + 1
  local started = runtime.now()
  local ok, raw = pcall(self.send, self, run, batch.encoded, rows, first, last, row_first)
  local result = run.result
  if ok then
    result.success_count = result.success_count + n
    if run.tuner then run.tuner:record(batch.size, n, started) end
    local values = self:collect(run, raw, rows, first, last)
    if values then run.results[#run.results + 1] = { row_first, values } end
  else
    self:failed(run, batch.number, row_first, row_first + n - 1, raw, true)
  end
  if self.progress then
    local called, err = pcall(self.progress, result.success_count + result.error_count, run.total)
    if not called then
      run.stop = true
      run.progress_error = err
    end
  end
end

-- Run `kind` over `rows` into `tb`; returns the BulkResult or raises a BulkOperationError.
function Bulk:run(kind_name, tb, rows)
  if type(tb) == "string" then
    if tb == "" then invalid("bulk " .. kind_name .. " expects a table name, got an empty string", 3) end
    tb = types.Table(tb)
  elseif getmetatable(tb) ~= types.Table then
    invalid(("bulk %s expects a table name or a Table, got %s"):format(kind_name, type(tb)), 3)
  end
  local next_row, total = row_source(rows, "bulk " .. kind_name)
  self.cancel_requested = false
  local started = runtime.now()
  local run = {
    kind = KINDS[kind_name],
    kind_name = kind_name,
    table = tb,
    table_name = tb.name,
    ids = self.ids,
    next_row = next_row,
    total = total,
    pulled = 0,
    batch_count = 0,
    retries = 0,
    results = {},
    waiting = {}, -- tasks waiting for the hand-over between the producer and the senders
    ready = nil, -- the batch made and not yet taken
    produced = false, -- the producer is done
    tuner = self.batch_size == "auto" and new_tuner(self.parallel) or nil,
    result = { success_count = 0, error_count = 0, errors = {}, cancelled = false },
  }
  core.interrupt_watch(true)
  local workers = { runtime.spawn(self.produce, self, run) }
  for i = 1, self.parallel do
    workers[i + 1] = runtime.spawn(self.send_batches, self, run)
  end
  local crashed
  for _, worker in ipairs(workers) do
    local ok, err = pcall(worker.result)
    if not ok then crashed = crashed or err end
  end
  core.interrupt_watch(false)
  local result = run.result
  -- The producer runs ahead: a row it could not send may be recorded before a batch of earlier rows failed.
  table.sort(result.errors, function(a, b) return a.rows[1] < b.rows[1] end)
  result.elapsed = runtime.now() - started
  result.batches = run.batch_count
  result.retries = run.retries
  result.batch_size = run.tuner and (run.tuner.best and run.tuner.best.size or run.tuner.size) or self.batch_size
  if run.tuner then result.tuning = run.tuner.tried end
  if self.returning ~= "none" then
    table.sort(run.results, function(a, b) return a[1] < b[1] end)
    local all = types.array()
    for _, part in ipairs(run.results) do
      for _, value in ipairs(part[2]) do all[#all + 1] = value end
    end
    result.results = all
  end
  if crashed then error(crashed, 0) end
  local landed = ("%d rows landed, %d failed"):format(result.success_count, result.error_count)
  if run.progress_error then
    error(errors.new("BulkOperationError", ("bulk %s stopped: the progress function raised an error (%s)")
      :format(kind_name, landed), { result = result, cause = run.progress_error }), 3)
  end
  if result.cancelled then
    error(errors.new("BulkOperationError", ("bulk %s was cancelled (%s)"):format(kind_name, landed),
      { result = result, cancelled = true }), 3)
  end
  if #result.errors > 0 and not self.ignore_errors then
    local first = result.errors[1]
    error(errors.new("BulkOperationError", ("bulk %s: batch %d (rows %d-%d) failed: %s (%s)"):format(kind_name,
      first.batch, first.rows[1], first.rows[2], tostring(first.error and first.error.message or first.error),
      landed), { result = result, cause = first.error }), 3)
  end
  return result
end

--- Insert rows into a table (a `FOR` loop of `CREATE`s, or `INSERT` when results are returned; a row
-- that already exists fails its batch).
-- @param tb a table name or Table
-- @param rows an array of rows (tables) or an iterator function returning one row per call
-- @return the BulkResult
-- @usage local result = db:bulk{ ids = "generate" }:insert("person", { { name = "Ann" }, { name = "Bob" } })
function Bulk:insert(tb, rows)
  return self:run("insert", tb, rows)
end

--- Create or replace rows by id (`UPSERT ... CONTENT`); every row needs an `id` (the id part or a RecordID).
-- @usage db:bulk():upsert("person", { { id = "ann", name = "Ann" } })
function Bulk:upsert(tb, rows)
  return self:run("upsert", tb, rows)
end

--- Update records: items `{ id =, data =, merge = }` (`merge = true` merges `data`, else it replaces the content).
-- Records that do not exist are left alone.
-- @usage db:bulk():update("person", { { id = "ann", data = { age = 31 }, merge = true } })
function Bulk:update(tb, items)
  return self:run("update", tb, items)
end

--- Delete records by id (the id part or a RecordID of this table).
-- @usage db:bulk():delete("person", { "ann", "bob" })
function Bulk:delete(tb, ids)
  return self:run("delete", tb, ids)
end

--- Relate records through an edge table: edges `{ from =, to =, data = }` (or `{ ["in"] =, out =, ... }`),
-- endpoints as RecordIDs or `"table:id"` strings.
-- @usage db:bulk():relate("likes", { { from = "person:ann", to = "post:1", data = { at = now } } })
function Bulk:relate(tb, edges)
  return self:run("relate", tb, edges)
end

return Bulk
