--- RPC framing shared by the HTTP and WebSocket transports: request encoding and response reading.
-- @module surrealdb.rpc
local cbor = require("surrealdb.cbor")
local errors = require("surrealdb.errors")
local shape = require("surrealdb.types.shape")

local rpc = {}

--- Encode one RPC request as CBOR.
-- @tparam integer id the request id
-- @tparam string method the RPC method
-- @tparam table params the parameters (an array; NONE and null travel as themselves)
-- @tparam[opt] table extra more request fields (`session`, `txn`)
-- @treturn string the CBOR bytes
-- @usage local bytes = rpc.encode_request(1, "ping", {})
function rpc.encode_request(id, method, params, extra)
  local request = { id = id, method = method, params = shape.array(params) }
  if extra then
    for k, v in pairs(extra) do request[k] = v end
  end
  return cbor.encode(request)
end

--- Read a decoded RPC response: return its result, or raise the error object its `error` maps to.
-- @tparam table response the decoded `{id, result}` or `{id, error}`
-- @tparam string method the method that was called (for the error)
-- @return the result
-- @usage local result = rpc.result_of(cbor.decode(bytes), "query")
function rpc.result_of(response, method)
  if type(response) ~= "table" then
    errors.raise("ProtocolError", ("the answer to %s is not an object"):format(method), { method = method })
  end
  if response.error ~= nil then
    error(errors.from_server(response.error, { method = method }), 0)
  end
  return response.result
end

return rpc
