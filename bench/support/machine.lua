--- What the benches say about the machine they ran on.
-- @module bench.support.machine
local machine = {}

--- The load averages over 1, 5 and 15 minutes, as `/proc/loadavg` gives them ("?" where it cannot be read).
-- @usage print("load average " .. machine.loadavg())
function machine.loadavg()
  local f = io.open("/proc/loadavg")
  local text = f and f:read("l")
  if f then f:close() end
  return text and text:match("^(%S+ %S+ %S+)") or "?"
end

return machine
