--- The migrations lock: one record that at most one runner holds at a time.
--
-- The record (`<table>_lock:lock`) holds the owner (host, process and a random part), when it was
-- taken and when it expires, in the server's clock. It is taken with a `CREATE`, which fails when the
-- record exists, so two runners can never both succeed. The holder renews the expiry every third of
-- its time to live while it waits on the server (a timer of the client's loop). A runner that
-- crashed stops renewing; once its lock has expired, another runner takes it over with an `UPDATE`
-- conditional on the old owner and expiry (so of two runners taking over at once only one gets it),
-- never by deleting it blindly. Release deletes the record only when this runner still owns it.
-- @module surrealdb.migrate.lock
-- @usage
-- local lock = require("surrealdb.migrate.lock").acquire(db, { table = "_migrations", timeout = 30, ttl = 30 })
-- ... -- apply migrations; lock:check() raises a LockError if the lock was lost
-- lock:release()
local errors = require("surrealdb.errors")
local runtime = require("surrealdb.runtime")
local types = require("surrealdb.types")

local Lock = { __name = "surrealdb.migrate.Lock" }
Lock.__index = Lock

local function hostname()
  local f = io.open("/proc/sys/kernel/hostname")
  local name = f and f:read("l")
  if f then f:close() end
  return name or os.getenv("HOSTNAME") or "localhost"
end

local function pid()
  local f = io.open("/proc/self/stat")
  local stat = f and f:read("l")
  if f then f:close() end
  return stat and stat:match("^(%d+)") or "?"
end

-- An owner name that says who holds the lock: host, process and a random part.
local function owner_name()
  return ("%s:%s:%s"):format(hostname(), pid(), tostring(types.Uuid.v7()):sub(-8))
end

local function seconds(value)
  return types.Duration.from_seconds(value)
end

--- Take the lock, waiting up to `timeout` seconds for another runner to release it or for its lock to expire.
-- @param db a client
-- @tparam table options `table` (the migrations table; the lock is `<table>_lock:lock`), `timeout` (seconds to
--   wait, default 30), `ttl` (seconds a lock lives without renewal, default 30), `on_wait`
--   (`function(holder)`, called once when the lock is held by another runner: `{ owner =, expires_at = }`),
--   `on_takeover` (`function(holder)`, called when an expired lock is taken over)
-- @return the Lock
-- @raise LockError when the lock was not taken within `timeout`
-- @usage local lock = Lock.acquire(db, { table = "_migrations", timeout = 10 })
function Lock.acquire(db, options)
  local self = setmetatable({
    db = db,
    table = types.Table((options.table or "_migrations") .. "_lock"),
    owner = owner_name(),
    ttl = options.ttl or 30,
  }, Lock)
  self.id = types.RecordID(self.table.name, "lock")
  local timeout = options.timeout or 30
  local deadline = runtime.now() + timeout
  local told
  while true do
    local holder = self:try()
    if holder == nil then break end
    if holder.expired then
      if self:take_over(holder) then
        if options.on_takeover then options.on_takeover(holder) end
        break
      end
    else
      if not told and options.on_wait then options.on_wait(holder) end
      told = true
      if runtime.now() >= deadline then
        errors.raise("LockError", ("another runner holds the migrations lock (%s, until %s); gave up after %g s "
          .. "(--lock-timeout)"):format(tostring(holder.owner), tostring(holder.expires_at), timeout),
          { owner = holder.owner, expires_at = holder.expires_at }, 2)
      end
      runtime.sleep(math.min(0.2, math.max(0, deadline - runtime.now())) + 0.01)
    end
  end
  self.held = true
  self:schedule()
  return self
end

-- One attempt at the conditional create. Returns nil when this runner holds the lock, else the holder
-- (`{ owner, expires_at, expired }`; an unknown holder when the attempt conflicted with another).
function Lock:try()
  local ok, err = pcall(self.db.query, self.db,
    "CREATE ONLY $sdb_lock CONTENT { owner: $sdb_owner, acquired_at: time::now(), expires_at: time::now() + $sdb_ttl }"
    .. " RETURN NONE", { sdb_lock = self.id, sdb_owner = self.owner, sdb_ttl = seconds(self.ttl) })
  if ok then return nil end
  if not errors.is(err, "QueryError") then error(err, 0) end
  -- It exists (or another runner created it at the same moment): who holds it, and is it expired?
  local holder = self.db:query("SELECT owner, expires_at, expires_at < time::now() AS expired FROM ONLY $sdb_lock",
    { sdb_lock = self.id })
  if holder == nil or holder == types.NONE or holder == types.null then
    return { owner = "(released meanwhile)", expired = false, released = true, expires_at = "now" }
  end
  if holder.owner == self.owner then return nil end -- our create landed, its answer was lost
  return holder
end

-- Take over an expired lock: only if it still has the owner and expiry seen.
function Lock:take_over(holder)
  local ok, taken = pcall(self.db.query, self.db,
    "UPDATE $sdb_lock SET owner = $sdb_owner, acquired_at = time::now(), expires_at = time::now() + $sdb_ttl, "
    .. "taken_over_from = $sdb_old WHERE owner = $sdb_old AND expires_at = $sdb_old_expires "
    .. "AND expires_at < time::now() RETURN AFTER",
    { sdb_lock = self.id, sdb_owner = self.owner, sdb_ttl = seconds(self.ttl), sdb_old = holder.owner,
      sdb_old_expires = holder.expires_at })
  if not ok then
    if errors.is(taken, "QueryError") then return false end -- another runner took it at the same moment
    error(taken, 0)
  end
  return type(taken) == "table" and taken[1] ~= nil and taken[1].owner == self.owner
end

-- Renew the lock every third of its time to live, from the loop's timer.
function Lock:schedule()
  self.timer = runtime.after(self.ttl / 3, function()
    if not self.held then return end
    runtime.spawn(function()
      local ok, err = pcall(self.renew, self)
      if not ok and self.held then self.lost = self.lost or err end
      if self.held and not self.lost then self:schedule() end
    end)
  end)
end

--- Push the lock's expiry `ttl` seconds from now; raises a LockError when this runner no longer holds it.
-- @usage lock:renew()
function Lock:renew()
  local renewed = self.db:query("UPDATE $sdb_lock SET expires_at = time::now() + $sdb_ttl WHERE owner = $sdb_owner "
    .. "RETURN AFTER", { sdb_lock = self.id, sdb_owner = self.owner, sdb_ttl = seconds(self.ttl) })
  if type(renewed) ~= "table" or renewed[1] == nil then
    self.lost = errors.new("LockError", "the migrations lock was lost: it expired and another runner took it over "
      .. "(raise --lock-ttl for migrations that keep the server busy longer)")
    error(self.lost, 0)
  end
end

--- Raise a LockError if the lock was lost (checked before each migration is committed).
-- @usage lock:check()
function Lock:check()
  if self.lost then error(self.lost, 0) end
end

--- Release the lock if this runner still holds it (idempotent).
-- @usage lock:release()
function Lock:release()
  if not self.held then return end
  self.held = false
  if self.timer then self.timer.cancel() end
  pcall(self.db.query, self.db, "DELETE $sdb_lock WHERE owner = $sdb_owner", { sdb_lock = self.id,
    sdb_owner = self.owner })
end

Lock.__close = Lock.release

return Lock
