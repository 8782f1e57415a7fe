--- The event loop and the scheduler behind every client call.
--
-- The C core owns one private libuv loop per Lua state (never the host's default loop). A call that
-- waits for an answer (an RPC, a live notification) waits on a *waiter*. Outside a coroutine started
-- with `spawn`, waiting runs the loop until the answer comes: the call blocks. Inside one, waiting
-- yields, and whoever runs the loop (a blocking call, `gather`, `run` or a host calling `poll`)
-- resumes it when its answer is there. So many calls can share one connection at once.
--
-- Transports register an event handler per connection or request (`on`), and complete waiters.
-- @module surrealdb.runtime
local core = require("surrealdb.core")
local errors = require("surrealdb.errors")

local runtime = {}

local loop -- created on first use
local handlers = {} -- event key -> function(event)
local timed = {} -- the waiters with a deadline: a binary min-heap on `deadline`, `waiter.slot` is the index
local timers = {} -- timer -> true, callbacks due at a deadline (they keep nothing pending)
local ready = {} -- queue of tasks to resume
local tasks = setmetatable({}, { __mode = "k" }) -- coroutine -> task

local clock = core.clock_monotonic

--- The core loop of this Lua state, created on first use.
-- @return the loop userdata of surrealdb.core
-- @usage local loop = runtime.loop()
function runtime.loop()
  if loop == nil then loop = core.loop_new() end
  return loop
end

--- The current monotonic time in seconds.
-- @usage local started = runtime.now()
runtime.now = clock

--- Route the loop's events with key `key` (see `event_key`) to `handler`; nil removes it.
-- @usage runtime.on("http:12", function(event) ... end)
function runtime.on(key, handler)
  handlers[key] = handler
end

--- The key an event is routed by: `"http:<id>"` for HTTP answers, `"ws:<conn>"` for WebSocket events.
local function event_key(event)
  if event.type == "http" then return "http:" .. event.id end
  return "ws:" .. tostring(event.conn)
end
runtime.event_key = event_key

-- The heap of waiters with a deadline. Many calls in flight each have one; a heap keeps finding the
-- next deadline and the expired waiters at O(log n) per call instead of a scan of all of them per poll.
local function sift_up(i)
  local entry = timed[i]
  while i > 1 do
    local parent = i // 2
    local above = timed[parent]
    if above.deadline <= entry.deadline then break end
    timed[i], above.slot = above, i
    i = parent
  end
  timed[i], entry.slot = entry, i
end

local function sift_down(i)
  local n, entry = #timed, timed[i]
  while true do
    local child = 2 * i
    if child > n then break end
    if child < n and timed[child + 1].deadline < timed[child].deadline then child = child + 1 end
    local below = timed[child]
    if entry.deadline <= below.deadline then break end
    timed[i], below.slot = below, i
    i = child
  end
  timed[i], entry.slot = entry, i
end

local function timed_add(waiter)
  local n = #timed + 1
  timed[n], waiter.slot = waiter, n
  sift_up(n)
end

local function timed_remove(waiter)
  local i = waiter.slot
  if i == nil then return end
  waiter.slot = nil
  local n = #timed
  local last = timed[n]
  timed[n] = nil
  if i < n then
    timed[i], last.slot = last, i
    sift_down(i)
    sift_up(last.slot)
  end
end

local Waiter = {}
Waiter.__index = Waiter

--- Make a waiter: something a call can wait on until `complete` or `fail` is called.
-- @tparam[opt] number timeout seconds before it fails by itself with a TimeoutError
-- @tparam[opt] string what the operation, for the timeout's message
-- @usage local w = runtime.waiter(30, "query"); ...; local value = w:wait()
function runtime.waiter(timeout, what)
  local waiter = setmetatable({ done = false, what = what }, Waiter)
  if timeout then
    waiter.deadline = clock() + timeout
    waiter.timeout = timeout
    timed_add(waiter)
  end
  return waiter
end

local function wake(waiter)
  timed_remove(waiter)
  local task = waiter.task
  if task then
    waiter.task = nil
    ready[#ready + 1] = task
  end
  if waiter.on_done then waiter.on_done(waiter) end
end

--- Complete the waiter with a value (a second completion is ignored: a late answer is dropped).
function Waiter:complete(value)
  if self.done then return end
  self.done, self.value = true, value
  wake(self)
end

--- Fail the waiter with an error object (ignored when already done).
function Waiter:fail(err)
  if self.done then return end
  self.done, self.err = true, err
  wake(self)
end

-- Seconds until the next deadline of a waiter or timer (nil when there is none).
local function time_to_next_deadline()
  local next_deadline = timed[1] and timed[1].deadline
  for entry in pairs(timers) do
    if next_deadline == nil or entry.deadline < next_deadline then next_deadline = entry.deadline end
  end
  return next_deadline and math.max(0, next_deadline - clock()) or nil
end

-- Fail the waiters whose deadline has passed (or complete them, for sleeps) and run due timers.
-- Due entries are collected first: completing a waiter or running a timer may add new ones.
local function expire()
  local now = clock()
  local due_waiters, due_timers
  while timed[1] ~= nil and timed[1].deadline <= now do
    local waiter = timed[1]
    timed_remove(waiter)
    due_waiters = due_waiters or {}
    due_waiters[#due_waiters + 1] = waiter
  end
  for timer in pairs(timers) do
    if timer.deadline <= now then
      due_timers = due_timers or {}
      due_timers[#due_timers + 1] = timer
    end
  end
  for _, waiter in ipairs(due_waiters or {}) do
    if waiter.sleeping then
      waiter:complete(true)
    else
      waiter:fail(errors.new("TimeoutError",
        ("%s timed out after %g s"):format(waiter.what or "the request", waiter.timeout),
        { timeout = waiter.timeout }))
    end
  end
  for _, timer in ipairs(due_timers or {}) do
    if timers[timer] then
      timers[timer] = nil
      timer.fn()
    end
  end
end

--- Call `fn()` once, `delay` seconds from now, from the loop (when something runs it).
-- @treturn table a timer with `cancel()`
-- @usage local t = runtime.after(5, function() conn:ping() end); t.cancel()
function runtime.after(delay, fn)
  local timer = { deadline = clock() + delay, fn = fn }
  function timer.cancel() timers[timer] = nil end
  timers[timer] = true
  return timer
end

local function resume_ready()
  while #ready > 0 do
    local batch = ready
    ready = {}
    for _, task in ipairs(batch) do
      local ok, err = coroutine.resume(task.co)
      if not ok then
        task.done, task.err = true, err
      elseif coroutine.status(task.co) == "dead" then
        task.done = true
      end
      if task.done and task.waiter then task.waiter:complete(true) end
    end
  end
end

local function dispatch(events)
  for _, event in ipairs(events) do
    local handler = handlers[event_key(event)]
    if handler then handler(event) end
  end
end

--- Run ready tasks and the loop once, waiting at most `timeout` seconds for an event.
-- Hosts that drive their own loop call this regularly (with 0 to never block).
-- @tparam[opt=0] number timeout seconds to wait at most
-- @treturn boolean whether anything is still pending (tasks or waiters)
-- @usage while surrealdb.poll(0.05) do host_work() end
function runtime.poll(timeout)
  resume_ready()
  local wait = time_to_next_deadline()
  if #ready > 0 then
    wait = 0
  elseif timeout ~= nil and (wait == nil or timeout < wait) then
    wait = timeout
  end
  -- Events first, deadlines after: an answer (or pong) already waiting in a socket is taken before
  -- its deadline is judged, even when nothing ran the loop for a while.
  dispatch(runtime.loop():poll(wait or 0))
  expire()
  resume_ready()
  return timed[1] ~= nil or #ready > 0
end

--- Wait `seconds` (yields inside a task, blocks elsewhere while running the loop).
-- @usage runtime.sleep(0.5)
function runtime.sleep(seconds)
  local waiter = runtime.waiter(seconds, "sleep")
  waiter.sleeping = true
  waiter:wait()
end

--- The delay before attempt `attempt + 1` of something retried with exponential backoff: `base`
-- doubling with each attempt up to `max`, less a random part of up to `jitter` of it (0: none,
-- 1: anything from 0 up), so that many clients that failed together do not retry together.
-- The one backoff of the library: client retries, pool reconnects, bulk batches.
-- @tparam integer attempt the attempt that failed, from 1
-- @tparam number base the first delay, in seconds
-- @tparam number max the longest delay, in seconds
-- @tparam number jitter the random part, from 0 to 1
-- @treturn number seconds
-- @usage runtime.sleep(runtime.backoff(attempt, 0.05, 2, 0.5))  -- 25-50 ms, then 50-100 ms, ...
function runtime.backoff(attempt, base, max, jitter)
  return math.min(base * 2 ^ (attempt - 1), max) * (1 - jitter * math.random())
end

--- Wait until the waiter is done; return its value or raise its error.
-- Inside a task started with `spawn` this yields; elsewhere it runs the loop (blocks).
function Waiter:wait()
  local co = coroutine.running()
  local task = tasks[co]
  if task then
    while not self.done do
      self.task = task
      coroutine.yield()
    end
  else
    while not self.done do
      runtime.poll(1)
    end
  end
  if self.err ~= nil then error(self.err, 0) end
  return self.value
end

--- Start `fn(...)` as a task: its client calls yield instead of blocking, so tasks run concurrently.
-- It starts running the next time the loop runs (a blocking call, `gather`, `run` or `poll`).
-- @tparam function fn the task's body
-- @return the task; `task:result()` waits for it and returns its results or raises its error
-- @usage local t = surrealdb.spawn(function() return db:query("RETURN 1") end); print(t:result())
function runtime.spawn(fn, ...)
  if type(fn) ~= "function" then
    errors.raise("ValidationError", "spawn expects a function, got " .. type(fn), nil, 2)
  end
  local args = table.pack(...)
  local task = {}
  task.co = coroutine.create(function()
    task.results = table.pack(fn(table.unpack(args, 1, args.n)))
  end)
  task.waiter = runtime.waiter(nil, "task")
  tasks[task.co] = task
  ready[#ready + 1] = task
  function task.result()
    task.waiter:wait()
    if task.err ~= nil then error(task.err, 0) end
    return table.unpack(task.results, 1, task.results.n)
  end
  return task
end

--- Run functions as concurrent tasks and wait for all; returns an array of their first results.
-- Raises the first error (in the order given) after every task has finished.
-- @tparam table fns an array of functions
-- @usage local a, b = table.unpack(surrealdb.gather{ function() return db:select("a") end,
--   function() return db:select("b") end })
function runtime.gather(fns)
  local started = {}
  for i, fn in ipairs(fns) do started[i] = runtime.spawn(fn) end
  local results = {}
  local first_err
  for i, task in ipairs(started) do
    task.waiter:wait()
    if task.err ~= nil then
      first_err = first_err or task.err
    else
      results[i] = task.results[1]
    end
  end
  if first_err ~= nil then error(first_err, 0) end
  return results
end

return runtime
