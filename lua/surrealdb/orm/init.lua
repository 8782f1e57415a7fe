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
-- * `orm.model`, `orm.edge` — models and graph edges, built on query sets (`surrealdb.orm.model`,
--   fields in `surrealdb.orm.fields`)
-- * `orm.diff_schema(db, models)` — what a database lacks of the models' schemas
--   (`surrealdb.orm.schema`)
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
local model = require("surrealdb.orm.model")
local schema = require("surrealdb.orm.schema")

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

--- Make a model of a table (see `surrealdb.orm.model`; fields are in `surrealdb.orm.fields`).
-- @function model
-- @tparam string name the table
-- @tparam table fields field name to field
-- @tparam[opt] table options `db`, `strict`, `description`, hooks
-- @return a Model
-- @usage local Person = orm.model("person", { name = f.String{ required = true } }, { db = db })
orm.model = model.new

--- Make a graph edge: a model of a relation table (see `surrealdb.orm.model.edge`).
-- @function edge
-- @tparam string name the edge table
-- @tparam table spec `from`, `to` (models), options and the edge's fields
-- @return an edge Model
-- @usage local Likes = orm.edge("likes", { from = Person, to = Post, weight = f.Int() })
orm.edge = model.edge

--- The changes that bring a database in line with models (see `surrealdb.orm.schema.diff`).
-- @function diff_schema
-- @param db a client
-- @tparam table models an array of models
-- @treturn table an array of `{ action, kind, table, name, statement, reverse }`
-- @usage for _, c in ipairs(orm.diff_schema(db, { Person })) do print(c.statement) end
orm.diff_schema = schema.diff

return orm
