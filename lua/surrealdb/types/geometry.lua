--- Geometries (CBOR tags 88..94): points, lines, polygons, their multi forms and collections.
--
-- Instances are `{ kind = K, coordinates = array }` with K one of "Point", "LineString",
-- "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection":
--
--  * Point: `coordinates = { x, y }` (numbers: longitude, latitude);
--  * LineString and MultiPoint: an array of Point geometries;
--  * Polygon and MultiLineString: an array of LineString geometries (a polygon's first ring is its
--    exterior, the others are holes);
--  * MultiPolygon: an array of Polygon geometries; GeometryCollection: an array of geometries.
--
-- Constructors take points as Point geometries or `{x, y}` pairs, and lines and polygons as
-- geometries or as nested arrays of pairs. They check that coordinates are finite numbers, that a
-- line has at least 2 points and that a polygon ring has at least 3 distinct points. A ring that
-- is not closed is closed by repeating its first point, as SurrealDB does when it stores it.
-- Coordinates are not checked against longitude/latitude ranges (SurrealDB allows any plane).
--
-- `tostring` is SurrealDB's form: a point is `(x, y)` with its coordinates as SurrealQL floats
-- (`(1f, 2f)`, SurrealDB stores them as f64), every other kind a GeoJSON-like object such as
-- `{ type: 'LineString', coordinates: [[1f, 2f], [3f, 4f]] }` and a collection
-- `{ type: 'GeometryCollection', geometries: [...] }`.
--
-- @classmod surrealdb.types.geometry
-- @usage
-- local Geometry = require("surrealdb.types.geometry")
-- local london = Geometry.point(-0.118092, 51.509865)
-- local route = Geometry.line{ london, { -0.1, 51.5 } }
-- print(london)                     --> (-0.118092f, 51.509865f)
-- local json = route:to_geojson()   -- { type = "LineString", coordinates = { {...}, {...} } }
local errors = require("surrealdb.errors")
local shape = require("surrealdb.types.shape")

local Geometry = { __name = "surrealdb.Geometry" }
Geometry.__index = Geometry

local array = shape.array

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

local function make(kind, coordinates)
  return setmetatable({ kind = kind, coordinates = coordinates }, Geometry)
end

local function is_geometry(v, kind)
  return getmetatable(v) == Geometry and (kind == nil or v.kind == kind)
end

-- The items of an array argument (a plain or marked array, or an empty table).
local function items_of(t, what)
  if type(t) ~= "table" or (getmetatable(t) ~= nil and getmetatable(t) ~= shape.array_mt)
    or (next(t) ~= nil and not shape.is_array(t)) then
    invalid("Geometry: " .. what .. " must be an array, got " .. (type(t) == "table" and "a table that is not one"
      or type(t)), { value = t })
  end
  return t
end

local function check_number(v, what)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
    invalid("Geometry: " .. what .. " must be a finite number, got " .. tostring(v) .. " (" .. type(v) .. ")",
      { value = v })
  end
end

--- A point.
-- @tparam number x longitude (or x)
-- @tparam number y latitude (or y)
-- @treturn Geometry
-- @raise ValidationError when a coordinate is not a finite number
-- @usage local p = Geometry.point(10, 20)
function Geometry.point(x, y)
  check_number(x, "the point's x")
  check_number(y, "the point's y")
  return make("Point", array({ x, y }))
end

local function to_point(p, what)
  if is_geometry(p, "Point") then return p end
  if type(p) == "table" and (getmetatable(p) == nil or getmetatable(p) == shape.array_mt) then
    if #p ~= 2 or not shape.is_array(p) then
      invalid("Geometry: " .. what .. " must be a Point or an {x, y} pair, got a table of " .. #p .. " items"
        .. " (SurrealDB points have exactly 2 coordinates)", { value = p })
    end
    check_number(p[1], what .. "'s x")
    check_number(p[2], what .. "'s y")
    return make("Point", array({ p[1], p[2] }))
  end
  invalid("Geometry: " .. what .. " must be a Point or an {x, y} pair, got "
    .. (is_geometry(p) and ("a " .. p.kind) or type(p)), { value = p })
end

local function points_of(t, what)
  local points = array()
  for i, p in ipairs(items_of(t, what)) do
    points[i] = to_point(p, what .. " item " .. i)
  end
  return points
end

--- A line (LineString) through at least 2 points.
-- @tparam table points Point geometries or `{x, y}` pairs
-- @treturn Geometry
-- @raise ValidationError for fewer than 2 points or bad coordinates
-- @usage local l = Geometry.line{ { 0, 0 }, { 1, 1 } }
function Geometry.line(points)
  if is_geometry(points, "LineString") then return points end
  local coordinates = points_of(points, "the line's points")
  if #coordinates < 2 then
    invalid("Geometry.line: a line needs at least 2 points, got " .. #coordinates, { value = points })
  end
  return make("LineString", coordinates)
end

local function same_point(a, b)
  return a.coordinates[1] == b.coordinates[1] and a.coordinates[2] == b.coordinates[2]
end

local function to_ring(r, what)
  local source = is_geometry(r, "LineString") and r.coordinates or r
  local points = points_of(source, what)
  if #points > 0 and not same_point(points[1], points[#points]) then
    points[#points + 1] = points[1]
  end
  if #points < 4 then
    invalid("Geometry.polygon: " .. what .. " needs at least 3 distinct points", { value = r })
  end
  return make("LineString", points)
end

local function to_polygon(rings, what)
  if is_geometry(rings, "Polygon") then return rings end
  local coordinates = array()
  for i, r in ipairs(items_of(rings, what)) do
    coordinates[i] = to_ring(r, what .. " ring " .. i)
  end
  if #coordinates == 0 then
    invalid("Geometry.polygon: " .. what .. " needs at least one ring (its exterior)", { value = rings })
  end
  return make("Polygon", coordinates)
end

--- A polygon: an exterior ring, then any holes.
-- Each ring is a LineString or an array of points/pairs; open rings are closed.
-- @tparam table rings
-- @treturn Geometry
-- @raise ValidationError for no rings, rings of fewer than 3 distinct points, or bad coordinates
-- @usage local square = Geometry.polygon{ { { 0, 0 }, { 0, 1 }, { 1, 1 }, { 1, 0 } } }
function Geometry.polygon(rings)
  return to_polygon(rings, "the polygon")
end

--- A set of points (MultiPoint).
-- @tparam table points Point geometries or `{x, y}` pairs
-- @treturn Geometry
-- @usage local m = Geometry.multipoint{ { 0, 0 }, { 1, 1 } }
function Geometry.multipoint(points)
  return make("MultiPoint", points_of(points, "the multipoint's points"))
end

--- A set of lines (MultiLineString).
-- @tparam table lines LineString geometries or arrays of points/pairs
-- @treturn Geometry
-- @usage local m = Geometry.multiline{ { { 0, 0 }, { 1, 1 } }, { { 2, 2 }, { 3, 3 } } }
function Geometry.multiline(lines)
  local coordinates = array()
  for i, l in ipairs(items_of(lines, "the multiline's lines")) do
    coordinates[i] = Geometry.line(is_geometry(l, "LineString") and l or points_of(l, "multiline item " .. i))
  end
  return make("MultiLineString", coordinates)
end

--- A set of polygons (MultiPolygon).
-- @tparam table polygons Polygon geometries or arrays of rings
-- @treturn Geometry
-- @usage local m = Geometry.multipolygon{ square, other }
function Geometry.multipolygon(polygons)
  local coordinates = array()
  for i, p in ipairs(items_of(polygons, "the multipolygon's polygons")) do
    coordinates[i] = to_polygon(p, "multipolygon item " .. i)
  end
  return make("MultiPolygon", coordinates)
end

--- A collection of geometries of any kinds (GeometryCollection).
-- @tparam table geometries Geometry values
-- @treturn Geometry
-- @raise ValidationError when an item is not a Geometry
-- @usage local c = Geometry.collection{ Geometry.point(0, 0), route }
function Geometry.collection(geometries)
  local coordinates = array()
  for i, g in ipairs(items_of(geometries, "the collection's geometries")) do
    if not is_geometry(g) then
      invalid("Geometry.collection: item " .. i .. " must be a Geometry, got " .. type(g), { value = g })
    end
    coordinates[i] = g
  end
  return make("GeometryCollection", coordinates)
end

local function pairs_of(points)
  local out = array()
  for i, p in ipairs(points) do out[i] = array({ p.coordinates[1], p.coordinates[2] }) end
  return out
end

local function nested(geometries, convert)
  local out = array()
  for i, g in ipairs(geometries) do out[i] = convert(g.coordinates) end
  return out
end

local function rings_of(rings) return nested(rings, pairs_of) end

--- The geometry as a GeoJSON table: `{ type = "Point", coordinates = { x, y } }`, ... and
-- `{ type = "GeometryCollection", geometries = { ... } }`. Arrays carry the array marker.
-- @treturn table
-- @usage local json = Geometry.point(1, 2):to_geojson()  -- { type = "Point", coordinates = { 1, 2 } }
function Geometry:to_geojson()
  local kind, c = self.kind, self.coordinates
  if kind == "Point" then return { type = kind, coordinates = array({ c[1], c[2] }) } end
  if kind == "LineString" or kind == "MultiPoint" then return { type = kind, coordinates = pairs_of(c) } end
  if kind == "Polygon" or kind == "MultiLineString" then return { type = kind, coordinates = rings_of(c) } end
  if kind == "MultiPolygon" then return { type = kind, coordinates = nested(c, rings_of) } end
  local geometries = array()
  for i, g in ipairs(c) do geometries[i] = g:to_geojson() end
  return { type = kind, geometries = geometries }
end

local from_geojson_kind = {
  Point = function(t)
    local c = items_of(t.coordinates, "a GeoJSON Point's coordinates")
    return to_point(c, "a GeoJSON Point's coordinates")
  end,
  LineString = function(t) return Geometry.line(t.coordinates) end,
  Polygon = function(t) return Geometry.polygon(t.coordinates) end,
  MultiPoint = function(t) return Geometry.multipoint(t.coordinates) end,
  MultiLineString = function(t) return Geometry.multiline(t.coordinates) end,
  MultiPolygon = function(t) return Geometry.multipolygon(t.coordinates) end,
  GeometryCollection = function(t)
    local geometries = array()
    for i, g in ipairs(items_of(t.geometries, "a GeoJSON GeometryCollection's geometries")) do
      geometries[i] = Geometry.from_geojson(g)
    end
    return make("GeometryCollection", geometries)
  end,
}

--- Make a geometry from a GeoJSON geometry table (as `to_geojson` writes, or decoded JSON).
-- @tparam table t `{ type = ..., coordinates = ... }` or `{ type = "GeometryCollection", geometries = ... }`
-- @treturn Geometry
-- @raise ValidationError for unknown types and bad coordinates
-- @usage local g = Geometry.from_geojson({ type = "Point", coordinates = { 1, 2 } })
function Geometry.from_geojson(t)
  if type(t) ~= "table" then
    invalid("Geometry.from_geojson: expected a GeoJSON table, got " .. type(t), { value = t })
  end
  local build = from_geojson_kind[t.type]
  if not build then
    invalid("Geometry.from_geojson: unknown GeoJSON geometry type " .. tostring(t.type)
      .. " (expected Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon or GeometryCollection)",
      { value = t })
  end
  return build(t)
end

local function write_pairs(points, out, float_text)
  out[#out + 1] = "["
  for i, p in ipairs(points) do
    if i > 1 then out[#out + 1] = ", " end
    out[#out + 1] = "[" .. float_text(p.coordinates[1]) .. ", " .. float_text(p.coordinates[2]) .. "]"
  end
  out[#out + 1] = "]"
end

local function write_list(items, out, write_item)
  out[#out + 1] = "["
  for i, item in ipairs(items) do
    if i > 1 then out[#out + 1] = ", " end
    write_item(item.coordinates, out)
  end
  out[#out + 1] = "]"
end

--- SurrealDB's form (see the module description).
-- @treturn string
-- @usage print(Geometry.point(1, 2))  --> (1f, 2f)
function Geometry:__tostring()
  local float_text = require("surrealdb.types").float_text
  local kind, c = self.kind, self.coordinates
  if kind == "Point" then return "(" .. float_text(c[1]) .. ", " .. float_text(c[2]) .. ")" end
  local out = { "{ type: '" .. kind .. "', " }
  local function points(items, o) write_pairs(items, o, float_text) end
  local function rings(items, o) write_list(items, o, points) end
  if kind == "GeometryCollection" then
    out[#out + 1] = "geometries: ["
    for i, g in ipairs(c) do
      if i > 1 then out[#out + 1] = ", " end
      out[#out + 1] = tostring(g)
    end
    out[#out + 1] = "]"
  else
    out[#out + 1] = "coordinates: "
    if kind == "LineString" or kind == "MultiPoint" then
      points(c, out)
    elseif kind == "Polygon" or kind == "MultiLineString" then
      rings(c, out)
    else
      write_list(c, out, rings)
    end
  end
  out[#out + 1] = " }"
  return table.concat(out)
end

--- Two geometries are equal when they are of the same kind with equal coordinates.
-- @treturn boolean
-- @usage assert(Geometry.point(1, 2) == Geometry.point(1.0, 2.0))
function Geometry.__eq(a, b)
  return getmetatable(a) == Geometry and getmetatable(b) == Geometry and a.kind == b.kind
    and shape.equal(a.coordinates, b.coordinates)
end

return Geometry
