--- SurrealDB's NULL and NONE as Lua values.
--
-- Lua's `nil` means "absent" (an object field set to nil does not exist), so SurrealDB's two empty
-- values need sentinels: `null` (SQL NULL, CBOR null) and `NONE` (no value, CBOR tag 6). They are
-- two distinct, unique tables; compare them by identity (`v == null`). They are immutable: setting
-- a field raises, and their metatables are protected.
--
-- @module surrealdb.types.null
-- @usage
-- local null, NONE = require("surrealdb.types.null").null, require("surrealdb.types.null").NONE
-- db:merge("person:tobie", { nickname = null })   -- store NULL
-- print(tostring(null), tostring(NONE))          --> NULL  NONE
local errors = require("surrealdb.errors")

local function sentinel(text)
  local mt = {
    __name = "surrealdb." .. (text == "NULL" and "null" or "NONE"),
    __tostring = function() return text end,
    __newindex = function(_, key)
      errors.raise("ValidationError", text .. " is immutable: cannot set field " .. tostring(key),
        { details = { key = key } })
    end,
  }
  mt.__metatable = mt.__name
  return setmetatable({}, mt)
end

return {
  --- SQL NULL (CBOR null).
  null = sentinel("NULL"),
  --- NONE, no value (CBOR tag 6; CBOR undefined decodes to it too).
  NONE = sentinel("NONE"),
}
