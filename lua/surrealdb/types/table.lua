--- A table name as a SurrealDB value (CBOR tag 7).
--
-- Instances are `{ name = string }`. `tostring` gives the escaped identifier: `person`, or
-- `⟨my table⟩` when the name is not a plain identifier (see `surrealdb.types.escape_ident`).
--
-- @classmod surrealdb.types.table
-- @usage
-- local Table = require("surrealdb.types.table")
-- local people = Table("person")
-- print(people, people.name)  --> person  person
local errors = require("surrealdb.errors")

local Table = { __name = "surrealdb.Table" }
Table.__index = Table

--- Make a table name.
-- Also reachable as `Table(name)`.
-- @tparam string name a non-empty table name
-- @treturn Table
-- @raise ValidationError when `name` is not a non-empty string
-- @usage local t = Table.new("person")
function Table.new(name)
  if type(name) ~= "string" or name == "" then
    errors.raise("ValidationError", "Table: name must be a non-empty string, got "
      .. (type(name) == "string" and "an empty string" or type(name)), { details = { name = name } })
  end
  return setmetatable({ name = name }, Table)
end

--- The escaped identifier, as SurrealQL writes the table.
-- @treturn string
-- @usage print(Table("my table"))  --> ⟨my table⟩
function Table:__tostring()
  return require("surrealdb.types").escape_ident(self.name)
end

--- Two Tables are equal when their names are.
-- @treturn boolean
-- @usage assert(Table("a") == Table("a"))
function Table.__eq(a, b)
  return getmetatable(a) == Table and getmetatable(b) == Table and a.name == b.name
end

return setmetatable(Table, { __call = function(_, ...) return Table.new(...) end })
