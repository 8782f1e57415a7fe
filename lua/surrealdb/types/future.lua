--- A SurrealDB future: a value computed when read (CBOR tag 15; SurrealDB 2.x only).
--
-- Instances are `{ body = string }`: the future's block as SurrealQL text, as the server sends it
-- (with its braces, such as `"{ time::now() }"`). Futures were removed in SurrealDB 3.0.
--
-- `tostring` is SurrealQL's `<future> { ... }`; a body given without its braces is shown inside
-- `{ }` (the body itself is kept as given).
--
-- @classmod surrealdb.types.future
-- @usage
-- local Future = require("surrealdb.types.future")
-- local f = Future("{ time::now() }")
-- print(f)  --> <future> { time::now() }
local errors = require("surrealdb.errors")

local Future = { __name = "surrealdb.Future" }
Future.__index = Future

--- Make a future from its SurrealQL block. Also reachable as `Future(body)`.
-- @tparam string body such as `"{ time::now() }"`
-- @treturn Future
-- @raise ValidationError when `body` is not a string
-- @usage local f = Future.new("{ created + 1d }")
function Future.new(body)
  if type(body) ~= "string" then
    errors.raise("ValidationError", "Future: body must be a string of SurrealQL, got " .. type(body),
      { details = { body = body } })
  end
  return setmetatable({ body = body }, Future)
end

--- SurrealQL's form: `<future> { ... }`.
-- @treturn string
-- @usage print(Future("{ 1 + 1 }"))  --> <future> { 1 + 1 }
function Future:__tostring()
  local body = self.body
  if not body:find("^%s*{") then body = body == "" and "{}" or ("{ " .. body .. " }") end
  return "<future> " .. body
end

--- Two futures are equal when their bodies are the same text.
-- @treturn boolean
-- @usage assert(Future("{ 1 }") == Future("{ 1 }"))
function Future.__eq(a, b)
  return getmetatable(a) == Future and getmetatable(b) == Future and a.body == b.body
end

return setmetatable(Future, { __call = function(_, ...) return Future.new(...) end })
