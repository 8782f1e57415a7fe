--- Filters: Django-style lookups and `Q` objects, compiled to parameterized SurrealQL.
--
-- A filter is a Lua table of lookups, `{ age__gte = 18, address__city = "Paris" }`: every key is a
-- field path (segments joined by `__`) optionally ending in an operator (`__gte`); all lookups of
-- one table must hold (AND). `Q` objects combine filters with `|` (OR), `&` (AND) and `~` (NOT), and
-- may stand in a filter table's array part: `{ Q{ role = "admin" } | Q{ age__gte = 18 }, active = true }`.
--
-- The compiler never writes a value into the SurrealQL text: every value is a bound variable
-- (`$p1`, `$p2`, ... numbered in the order they appear in the text). Field names cannot be bound, so
-- each segment must be an identifier: ASCII letters, digits and `_`, not starting with a digit.
-- Anything else raises a ValidationError before a query is sent. Segments that SurrealQL would read
-- as a keyword or a literal (`select`, `value`, `true`, `null`, ... the reserved words of SurrealDB's
-- parser) are written `⟨select⟩`. The Qs of a filter table's array part come first, in their order,
-- then its lookups in byte order of their keys, so the text and the variable numbers do not depend
-- on the order in which a Lua table iterates.
--
-- Operators (SurrealDB 3; `f` is the field, `$p` the bound value):
--
--     field = v             f = $p
--     field__eq = v         f = $p          (explicit: `tags__in__eq` is the field `tags.in`)
--     field__ne = v         f != $p
--     field__gt = v         f > $p          (also __gte >=, __lt <, __lte <=)
--     field__in = {...}     f INSIDE $p     (v an array; an empty array matches nothing)
--     field__not_in = {...} f NOTINSIDE $p  (an empty array matches everything)
--     field__contains = v   f CONTAINS $p   (an array holding v, or a string holding the substring v)
--     field__contains_any = {...}  f CONTAINSANY $p
--     field__startswith = s (type::is_string(f) AND string::starts_with(f, $p))
--     field__endswith = s   (type::is_string(f) AND string::ends_with(f, $p))
--     field__icontains = s  (type::is_string(f) AND string::contains(string::lowercase(f), string::lowercase($p)))
--     field__is_null = true   (f IS NONE OR f IS NULL)
--     field__is_null = false  (f IS NOT NONE AND f IS NOT NULL)
--     field__between = {lo, hi}  (f >= $p1 AND f <= $p2)   (both ends included)
--
-- A record of a model given as a value (alone, in an array, in a Q) stands for its id:
-- `{ friend = ann }`, `Q{ author__in = { ann, bob } }`; an unsaved record is refused.
--
-- `INSIDE`/`NOTINSIDE` are the names SurrealDB itself prints for `IN`/`NOT IN`. The string
-- operators check the field's type first: SurrealDB's string functions raise on a field that is not
-- a string (a missing field, a NULL, a number), which would fail the whole query; with the check
-- such a record simply does not match. `__is_null = true` matches a field that is missing (NONE)
-- as well as one set to NULL, which is what "has no value" means to most users; to tell them apart
-- compare with the sentinels: `{ email = surrealdb.NONE }` (missing only), `{ email = surrealdb.null }`
-- (NULL only). Comparisons follow SurrealDB's ordering across types (a string sorts after every
-- number, so `age__gte = 18` also matches `age = "x"`).
--
-- Compound filters: a filter table's lookups are joined with ` AND `; `Q` combinations join their
-- parts with ` AND ` / ` OR ` and put parentheses around a part of the other kind; `~q` is `!(...)`.
-- An empty filter (`{}` or `Q{}`) matches everything, and is left out of `&` and `|` (as Django does),
-- so `q = Q{}; for ... do q = q | Q{...} end` builds an OR from nothing.
--
-- @module surrealdb.orm.filter
-- @usage
-- local filter = require("surrealdb.orm.filter")
-- local Q = filter.Q
-- local params = filter.params()
-- local sql = filter.compile({ Q{ name__startswith = "A" } | Q{ age__gte = 18 }, active = true }, params)
-- --> ((type::is_string(name) AND string::starts_with(name, $p1)) OR age >= $p2) AND active = $p3
-- -- params.vars == { p1 = "A", p2 = 18, p3 = true }
local errors = require("surrealdb.errors")
local types = require("surrealdb.types")
local fields = require("surrealdb.orm.fields")

local filter = {}

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

-- Words SurrealQL may read as a keyword or literal where a field name stands: the RESERVED_KEYWORD
-- set of SurrealDB's lexer (surrealdb/core/src/syn/lexer/keywords.rs), plus DELETE and EXPLAIN,
-- which the 3.0.2 parser also rejects as the first word of a condition.
local reserved = {}
for word in ([[
  after all alter before begin break by cancel commit continue create define delete diff explain
  false for function if info insert kill let live none null option rand rebuild relate remove
  return select sequence show sleep table throw true update upsert use value where
]]):gmatch("%S+") do
  reserved[word] = true
end

-- The SurrealQL text of one segment of a field path, or nil when it is not an identifier.
local function segment_text(segment)
  if not segment:find("^[A-Za-z_][A-Za-z0-9_]*$") then return nil end
  if reserved[segment:lower()] then
    return "⟨" .. segment .. "⟩" -- an identifier has nothing to escape inside the brackets
  end
  return types.escape_ident(segment)
end

--- The SurrealQL text of one identifier (a field or table name), or nil when it is not one.
-- An identifier is made of ASCII letters, digits and `_` and does not start with a digit; reserved
-- words of SurrealQL (`select`, `value`, `true`, ...) are written `⟨...⟩`.
-- @tparam string name
-- @treturn string|nil
-- @usage filter.identifier("age")    --> age
-- filter.identifier("select")        --> ⟨select⟩
-- filter.identifier("my table")      --> nil
function filter.identifier(name)
  return segment_text(name)
end

-- The segments of a path written with `__` between them.
local function split(path)
  local segments = {}
  for segment in (path .. "__"):gmatch("(.-)__") do segments[#segments + 1] = segment end
  return segments
end

-- The SurrealQL text of a path's segments `segments[1..n]`; `path` and `what` name it in errors.
local function path_text(segments, n, path, what)
  local parts = {}
  for i = 1, n do
    local text = segment_text(segments[i])
    if text == nil then
      local hint = path:find(".", 1, true) and " (nested fields are written with __, as in address__city)" or ""
      invalid(("%s %q is not a valid field path: each part must be made of ASCII letters, digits and _ "
        .. "and not start with a digit, and parts are joined with __%s"):format(what, path, hint), { field = path })
    end
    parts[i] = text
  end
  return table.concat(parts, ".")
end

--- The SurrealQL text of a field path written with `__` between segments (`address__city`).
-- Each segment must be an identifier (ASCII letters, digits and `_`, not starting with a digit);
-- reserved words are written `⟨...⟩`.
-- @tparam string path such as `"age"` or `"address__city"`
-- @tparam[opt="field"] string what names the argument in the error (`"order_by field"`, ...)
-- @treturn string such as `address.city`
-- @raise ValidationError naming the path and the rule
-- @usage filter.field_path("address__city")  --> address.city
-- filter.field_path("value")                 --> ⟨value⟩
function filter.field_path(path, what)
  what = what or "field"
  if type(path) ~= "string" then
    invalid(("%s must be a string such as \"age\" or \"address__city\", got %s"):format(what, type(path)),
      { field = path })
  end
  local segments = split(path)
  return path_text(segments, #segments, path, what)
end

-- Bound variables ---------------------------------------------------------------------------------

local Params = { __name = "surrealdb.orm.Params" }
Params.__index = Params

--- A new set of bound variables: `vars` (name to value) and `count` (of `$pN` names given).
-- @treturn table with the method `bind`
-- @usage local params = filter.params(); local name = params:bind(18)  --> "$p1"
function filter.params()
  return setmetatable({ vars = {}, count = 0 }, Params)
end

--- Bind `value` to the next `$pN` name and return that name with its `$`.
-- @param value any value the CBOR codec carries
-- @treturn string such as `"$p1"`
-- @usage local name = params:bind("Paris")
function Params:bind(value)
  self.count = self.count + 1
  local name = "p" .. self.count
  self.vars[name] = value
  return "$" .. name
end

-- Operators ---------------------------------------------------------------------------------------

-- A value as it is bound: a record of a model (see `surrealdb.orm.model`) stands for its id.
local function check_plain(value, key)
  local kind = type(value)
  if kind == "function" or kind == "thread" or kind == "userdata" then
    invalid(("filter %s: a %s cannot be sent to SurrealDB"):format(key, kind), { field = key })
  end
  local is_record, id = fields.record_id_of(value)
  if is_record then
    if id == nil then
      invalid(("filter %s: the record %s is not saved, so it has no id to compare with"):format(key,
        tostring(value)), { field = key })
    end
    return id
  end
  return value
end

-- A copy of an array value marked as an array (so an empty one is sent as []), or an error.
local function check_array(value, key, op)
  if type(value) == "table" and getmetatable(value) == nil and next(value) == nil then
    return types.array()
  end
  if not types.is_array(value) then
    invalid(("filter %s: __%s expects an array such as { 1, 2 }, got %s"):format(key, op,
      type(value) == "table" and "a table that is not an array" or type(value)), { field = key, operator = op })
  end
  local copy = types.array()
  for i = 1, #value do copy[i] = check_plain(value[i], key) end
  return copy
end

local function check_string(value, key, op)
  if type(value) ~= "string" then
    invalid(("filter %s: __%s expects a string, got %s"):format(key, op, type(value)), { field = key, operator = op })
  end
  return value
end

local function comparison(symbol)
  return function(f, value, params, key)
    return f .. " " .. symbol .. " " .. params:bind(check_plain(value, key))
  end
end

local function membership(keyword)
  return function(f, value, params, key, op)
    return f .. " " .. keyword .. " " .. params:bind(check_array(value, key, op))
  end
end

local function string_test(fn)
  return function(f, value, params, key, op)
    local p = params:bind(check_string(value, key, op))
    return "(type::is_string(" .. f .. ") AND " .. fn(f, p) .. ")"
  end
end

local operators = {
  eq = comparison("="),
  ne = comparison("!="),
  gt = comparison(">"),
  gte = comparison(">="),
  lt = comparison("<"),
  lte = comparison("<="),
  ["in"] = membership("INSIDE"),
  not_in = membership("NOTINSIDE"),
  contains = comparison("CONTAINS"),
  contains_any = membership("CONTAINSANY"),
  startswith = string_test(function(f, p) return "string::starts_with(" .. f .. ", " .. p .. ")" end),
  endswith = string_test(function(f, p) return "string::ends_with(" .. f .. ", " .. p .. ")" end),
  icontains = string_test(function(f, p)
    return "string::contains(string::lowercase(" .. f .. "), string::lowercase(" .. p .. "))"
  end),
  is_null = function(f, value, _, key)
    if type(value) ~= "boolean" then
      invalid(("filter %s: __is_null expects true or false, got %s"):format(key, type(value)),
        { field = key, operator = "is_null" })
    end
    if value then return "(" .. f .. " IS NONE OR " .. f .. " IS NULL)" end
    return "(" .. f .. " IS NOT NONE AND " .. f .. " IS NOT NULL)"
  end,
  between = function(f, value, params, key)
    local bounds = check_array(value, key, "between")
    if #bounds ~= 2 then
      invalid(("filter %s: __between expects two values { low, high }, got %d"):format(key, #bounds),
        { field = key, operator = "between" })
    end
    return "(" .. f .. " >= " .. params:bind(bounds[1]) .. " AND " .. f .. " <= " .. params:bind(bounds[2]) .. ")"
  end,
}

--- The names of the lookup operators, sorted.
-- @usage for _, name in ipairs(filter.operator_names) do print(name) end
filter.operator_names = {}
for name in pairs(operators) do filter.operator_names[#filter.operator_names + 1] = name end
table.sort(filter.operator_names)

-- One lookup (`key = value`) as SurrealQL: the last segment is the operator when it names one.
local function lookup(key, value, params)
  local segments = split(key)
  local n, op = #segments, "eq"
  if n > 1 and operators[segments[n]] then
    n, op = n - 1, segments[n]
  end
  return operators[op](path_text(segments, n, key, "filter field"), value, params, key, op)
end

-- Q objects ---------------------------------------------------------------------------------------

local Q = { __name = "surrealdb.orm.Q" }
Q.__index = Q

local function is_q(value)
  return getmetatable(value) == Q
end

-- A filter table (copied) or a Q as a Q; its lookups are checked when compiled.
local function as_q(value, where)
  if is_q(value) then return value end
  if type(value) == "table" and getmetatable(value) == nil then
    local copy = {}
    for k, v in pairs(value) do copy[k] = v end
    return setmetatable({ kind = "filter", spec = copy }, Q)
  end
  invalid(("%s expects a filter table or a Q, got %s"):format(where,
    type(value) == "table" and "a table with a metatable" or type(value)))
end

--- Make a `Q` object from a filter table, to combine with `|`, `&` and `~`.
-- Also reachable as `orm.Q`. The table is copied: changing it later does not change the Q.
-- @tparam[opt] table spec a filter table (lookups, and Qs or filter tables in its array part)
-- @treturn Q
-- @usage local adults_or_admins = Q{ age__gte = 18 } | Q{ role = "admin" }
-- local not_banned = ~Q{ status = "banned" }
function filter.Q(spec)
  return as_q(spec == nil and {} or spec, "Q")
end

--- `a & b`: both must hold.
-- @treturn Q
-- @usage local q = Q{ age__gte = 18 } & Q{ age__lt = 65 }
function Q.__band(a, b)
  return setmetatable({ kind = "and", a = as_q(a, "&"), b = as_q(b, "&") }, Q)
end

--- `a | b`: either holds.
-- @treturn Q
-- @usage local q = Q{ city = "Paris" } | Q{ city = "Rome" }
function Q.__bor(a, b)
  return setmetatable({ kind = "or", a = as_q(a, "|"), b = as_q(b, "|") }, Q)
end

--- `~a`: does not hold.
-- @treturn Q
-- @usage local q = ~Q{ status = "banned" }
function Q.__bnot(a)
  return setmetatable({ kind = "not", a = a }, Q)
end

-- Compilation -------------------------------------------------------------------------------------

-- A compiled part: { text = string, kind = "leaf"|"and"|"or"|"not" }, or nil when it matches all.
local compile_node

local function compile_spec(spec, params, depth)
  local parts = {}
  local keys = {}
  for k in pairs(spec) do
    if type(k) == "string" then
      keys[#keys + 1] = k
    elseif math.type(k) ~= "integer" or k < 1 or k > #spec then
      invalid(("a filter key must be a string such as \"age__gte\" (or an array index holding a Q), got %s")
        :format(type(k) == "number" and tostring(k) or type(k)), { key = k })
    end
  end
  for i = 1, #spec do
    local part = compile_node(as_q(spec[i], "a filter's array part"), params, depth + 1)
    if part then parts[#parts + 1] = part end
  end
  table.sort(keys, types.byte_less)
  for _, key in ipairs(keys) do
    parts[#parts + 1] = { text = lookup(key, spec[key], params), kind = "leaf" }
  end
  return parts
end

-- Join parts with AND/OR, flattening parts of the same kind and bracketing parts of the other.
local function join(parts, kind)
  if #parts == 0 then return nil end
  if #parts == 1 then return parts[1] end
  local texts = {}
  for i, part in ipairs(parts) do
    local bracket = (part.kind == "and" or part.kind == "or") and part.kind ~= kind
    texts[i] = bracket and ("(" .. part.text .. ")") or part.text
  end
  return { text = table.concat(texts, kind == "and" and " AND " or " OR "), kind = kind }
end

local MAX_DEPTH = 200

compile_node = function(node, params, depth)
  if depth > MAX_DEPTH then
    invalid("filter nested deeper than " .. MAX_DEPTH .. " levels (a cycle?)")
  end
  if node.kind == "filter" then
    return join(compile_spec(node.spec, params, depth), "and")
  elseif node.kind == "not" then
    local inner = compile_node(as_q(node.a, "~"), params, depth + 1)
    if inner == nil then return nil end
    return { text = "!(" .. inner.text .. ")", kind = "not" }
  end
  local parts = {}
  for _, side in ipairs({ node.a, node.b }) do
    local part = compile_node(side, params, depth + 1)
    if part then parts[#parts + 1] = part end
  end
  return join(parts, node.kind)
end

--- Compile a filter to a SurrealQL condition, binding its values into `params`.
-- @param where a filter table, a Q, or nil
-- @tparam table params from `filter.params()`; values are bound as `$p1`, `$p2`, ... after those
--   already there
-- @treturn string|nil the condition (without `WHERE`), or nil when the filter matches everything
-- @raise ValidationError for a field that is not an identifier, an unknown shape of value for an
--   operator, or a key that is not a string
-- @usage local params = filter.params()
-- local cond = filter.compile({ age__between = { 18, 65 } }, params)
-- --> (age >= $p1 AND age <= $p2)
function filter.compile(where, params)
  if where == nil then return nil end
  local part = compile_node(as_q(where, "filter"), params, 0)
  return part and part.text or nil
end

--- Whether `value` is a Q object.
-- @param value any value
-- @treturn boolean
-- @usage if filter.is_q(where) then ... end
filter.is_q = is_q

return filter
