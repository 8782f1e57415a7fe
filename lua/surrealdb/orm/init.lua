--- surrealdb.orm: filters, query sets and CRUD helpers over parameterized SurrealQL.
--
-- Every value a user gives becomes a bound variable, and so does a record id. Names cannot be
-- bound: field names, and table names given as strings, must be identifiers (checked before any
-- query is sent); a table given as a `Table` value may have any name and is escaped as SurrealDB
-- escapes identifiers. The parts:
--
-- * `orm.Q` — filters combined with `|`, `&`, `~` (`surrealdb.orm.filter`, which also documents
--   the lookups such as `age__gte` and the SurrealQL of each)
-- * `orm.query(db, table)` — immutable, chainable query sets (`surrealdb.orm.query`)
-- * `orm.helpers(db)` — one-call CRUD (`surrealdb.orm.helpers`)
-- * `orm.model` — models, built on query sets (`surrealdb.orm.model`, to come)
--
-- @module surrealdb.orm
-- @usage
-- local orm = require("surrealdb.orm")
-- local Q = orm.Q
-- local h = orm.helpers(db)
-- h:insert_many("person", { { name = "Ann", age = 31 }, { name = "Bob", age = 17 } })
-- local adults = orm.query(db, "person"):where(Q{ age__gte = 18 } | Q{ guardian__is_null = false })
-- for _, p in ipairs(adults:order_by("-age"):limit(10):all()) do print(p.name) end
local filter = require("surrealdb.orm.filter")
local query = require("surrealdb.orm.query")
local helpers = require("surrealdb.orm.helpers")

local orm = {}

--- Make a Q object from a filter table (see `surrealdb.orm.filter.Q`).
-- @function Q
-- @tparam[opt] table spec a filter table such as `{ age__gte = 18 }`
-- @return a Q, to combine with `|`, `&` and `~`
-- @usage local q = orm.Q{ city = "Paris" } | orm.Q{ city = "Rome" }
orm.Q = filter.Q

--- Start a query set over a table or a record (see `surrealdb.orm.query`).
-- @function query
-- @param db a client (nil for a query set that is only compiled)
-- @param source a table name, a record id string, a Table or a RecordID
-- @return a QuerySet
-- @usage local top = orm.query(db, "person"):where{ age__gte = 18 }:order_by("-age"):limit(10):all()
orm.query = query.new

--- The CRUD helpers of a client (see `surrealdb.orm.helpers`).
-- @function helpers
-- @param db a client
-- @return a Helpers object: `h:insert_one(...)`, `h:select_many(...)`, ...
-- @usage local h = orm.helpers(db); local ann = h:insert_one("person", { name = "Ann" })
orm.helpers = helpers.new

-- Models (`orm.model`) come with the models part of the ORM issue, in surrealdb/orm/model.lua;
-- they are built on `orm.query` and `orm.Q` and are exported from here.

return orm
