--- Live queries: a stream of notifications for one live query id.
-- @module surrealdb.live
local errors = require("surrealdb.errors")
local runtime = require("surrealdb.runtime")

local LiveQuery = { __name = "surrealdb.LiveQuery" }
LiveQuery.__index = LiveQuery

--- The most notifications kept while nobody reads; one more marks the stream as overflowed.
LiveQuery.DEFAULT_BUFFER = 10000

--- Make a live query stream (the client does this; see `Client:live`).
-- @param client the client that owns it
-- @param id the live query's Uuid
-- @tparam[opt] integer buffer the most notifications kept unread
-- @usage local live = LiveQuery.new(db, uuid)
function LiveQuery.new(client, id, buffer)
  return setmetatable({
    client = client,
    id = id,
    queue = {},
    first = 1,
    last = 0,
    limit = buffer or LiveQuery.DEFAULT_BUFFER,
    killed = false,
  }, LiveQuery)
end

--- Take a notification from the server (the client calls this).
function LiveQuery:push(notification)
  if self.overflowed then return end
  if self.last - self.first + 1 >= self.limit then
    self.overflowed = true
  else
    self.last = self.last + 1
    self.queue[self.last] = notification
  end
  if notification.action == "KILLED" then self.killed = true end
  local waiter = self.waiter
  if waiter then
    self.waiter = nil
    waiter:complete(true)
  end
end

--- The next notification `{ action =, record =, result = }`, waiting at most `timeout` seconds.
-- Returns nil when the timeout passes or after the KILLED notification was read; raises a
-- ConnectionError when the connection is lost and a SurrealError when notifications overflowed.
-- @tparam[opt] number timeout seconds (default: wait as long as it takes)
-- @usage local note = live:next(5); if note then print(note.action, note.result.name) end
function LiveQuery:next(timeout)
  if self.first > self.last then
    if self.overflowed then
      errors.raise("SurrealError", ("live query %s dropped notifications: more than %d were unread")
        :format(tostring(self.id), self.limit), { kind = "Overflow" }, 2)
    end
    if self.finished then return nil end
    if self.client:is_closed() then
      errors.raise("ConnectionError", "the connection of this live query is closed", nil, 2)
    end
    local waiter = runtime.waiter(timeout, "waiting for a live notification")
    self.waiter = waiter
    local ok, err = pcall(waiter.wait, waiter)
    if self.waiter == waiter then self.waiter = nil end
    if not ok then
      if errors.is(err, "TimeoutError") then return nil end
      error(err, 2)
    end
    if self.first > self.last then return self:next(0) end
  end
  local note = self.queue[self.first]
  self.queue[self.first] = nil
  self.first = self.first + 1
  if note.action == "KILLED" then self.finished = true end
  return note
end

--- Iterate over the notifications: `for note in live:notifications() do ... end`, until killed.
-- @tparam[opt] number timeout seconds to wait for each one; the loop ends when one does not come
-- @usage for note in live:notifications() do print(note.action) end
function LiveQuery:notifications(timeout)
  return function() return self:next(timeout) end
end

--- Stop the live query on the server (idempotent).
-- @usage live:kill()
function LiveQuery:kill()
  if self.finished then return end
  self.finished = true
  self.client:kill(self.id)
end

--- Called by the client when the connection is lost: wakes a waiting reader.
function LiveQuery:disconnect(err)
  local waiter = self.waiter
  if waiter then
    self.waiter = nil
    waiter:fail(err)
  end
end

LiveQuery.__close = LiveQuery.kill

return LiveQuery
