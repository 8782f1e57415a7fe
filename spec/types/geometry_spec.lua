-- Unit specs of surrealdb.types.geometry (no server needed).
local types = require("surrealdb.types")
local Geometry = require("surrealdb.types.geometry")

local raises = require("spec.helper").raises

local square = { { 0, 0 }, { 0, 1 }, { 1, 1 }, { 1, 0 } }
local hole = { { 0.25, 0.25 }, { 0.25, 0.5 }, { 0.5, 0.5 }, { 0.25, 0.25 } }

describe("Geometry", function()
  describe("constructors", function()
    it("makes points with the contract's layout", function()
      local p = Geometry.point(1, 2)
      assert.equal(Geometry, getmetatable(p))
      assert.equal("surrealdb.Geometry", getmetatable(p).__name)
      assert.equal("Point", p.kind)
      assert.same({ 1, 2 }, p.coordinates)
      assert.equal(types.array_mt, getmetatable(p.coordinates))
    end)

    it("checks point coordinates", function()
      raises(function() Geometry.point(1) end, "the point's y must be a finite number, got nil")
      raises(function() Geometry.point("1", 2) end, "the point's x must be a finite number")
      raises(function() Geometry.point(0 / 0, 2) end, "finite number, got")
      raises(function() Geometry.point(1, math.huge) end, "finite number")
    end)

    it("makes lines of points given as Points or pairs", function()
      local l = Geometry.line{ Geometry.point(1, 2), { 3, 4 } }
      assert.equal("LineString", l.kind)
      assert.equal(2, #l.coordinates)
      assert.equal(Geometry.point(1, 2), l.coordinates[1])
      assert.equal(Geometry.point(3, 4), l.coordinates[2])
      assert.equal(l, Geometry.line(l))
    end)

    it("checks lines", function()
      raises(function() Geometry.line{ { 1, 2 } } end, "a line needs at least 2 points, got 1")
      raises(function() Geometry.line{ { 1, 2, 3 }, { 1, 2 } } end, "exactly 2 coordinates")
      raises(function() Geometry.line{ { 1 }, { 1, 2 } } end, "got a table of 1 items")
      raises(function() Geometry.line{ { 1, "a" }, { 1, 2 } } end, "item 1's y must be a finite number")
      raises(function() Geometry.line{ Geometry.line{ { 0, 0 }, { 1, 1 } }, { 1, 2 } } end, "got a LineString")
      raises(function() Geometry.line("nope") end, "must be an array, got string")
      raises(function() Geometry.line{ x = 1 } end, "must be an array, got a table that is not one")
    end)

    it("makes polygons, closing open rings", function()
      local p = Geometry.polygon{ square, hole }
      assert.equal("Polygon", p.kind)
      assert.equal(2, #p.coordinates)
      assert.equal("LineString", p.coordinates[1].kind)
      assert.equal(5, #p.coordinates[1].coordinates)
      assert.equal(Geometry.point(0, 0), p.coordinates[1].coordinates[5])
      assert.equal(4, #p.coordinates[2].coordinates)
      assert.equal(p, Geometry.polygon{ Geometry.line(square), hole })
    end)

    it("checks polygons", function()
      raises(function() Geometry.polygon{} end, "needs at least one ring")
      raises(function() Geometry.polygon{ { { 0, 0 }, { 1, 1 } } } end, "needs at least 3 distinct points")
      raises(function() Geometry.polygon{ { { 0, 0 }, { 1, 1 }, { 0, 0 } } } end, "needs at least 3 distinct points")
    end)

    it("makes the multi kinds and collections", function()
      local mp = Geometry.multipoint{ { 1, 2 }, Geometry.point(3, 4) }
      assert.equal("MultiPoint", mp.kind)
      assert.equal(Geometry.point(3, 4), mp.coordinates[2])
      local ml = Geometry.multiline{ { { 0, 0 }, { 1, 1 } }, Geometry.line{ { 2, 2 }, { 3, 3 } } }
      assert.equal("MultiLineString", ml.kind)
      assert.equal("LineString", ml.coordinates[2].kind)
      local mpoly = Geometry.multipolygon{ { square }, Geometry.polygon{ square, hole } }
      assert.equal("MultiPolygon", mpoly.kind)
      assert.equal("Polygon", mpoly.coordinates[1].kind)
      local c = Geometry.collection{ mp, ml, Geometry.collection{} }
      assert.equal("GeometryCollection", c.kind)
      assert.equal(3, #c.coordinates)
      assert.equal(0, #Geometry.multipoint{}.coordinates)
      raises(function() Geometry.collection{ { 1, 2 } } end, "item 1 must be a Geometry, got table")
      raises(function() Geometry.multiline{ { { 0, 0 } } } end, "a line needs at least 2 points")
    end)
  end)

  describe("tostring", function()
    it("writes points as SurrealDB does, with float coordinates", function()
      assert.equal("(0f, 0f)", tostring(Geometry.point(0, 0)))
      assert.equal("(1f, 2f)", tostring(Geometry.point(1, 2)))
      assert.equal("(-123.45f, 67.89f)", tostring(Geometry.point(-123.45, 67.89)))
      assert.equal("(-0.118092f, 51.509865f)", tostring(Geometry.point(-0.118092, 51.509865)))
    end)

    it("writes the other kinds as GeoJSON-like objects", function()
      assert.equal("{ type: 'LineString', coordinates: [[1f, 2f], [3f, 4f]] }",
        tostring(Geometry.line{ { 1, 2 }, { 3, 4 } }))
      assert.equal("{ type: 'Polygon', coordinates: [[[0f, 0f], [0f, 1f], [1f, 1f], [1f, 0f], [0f, 0f]]] }",
        tostring(Geometry.polygon{ square }))
      assert.equal("{ type: 'MultiPoint', coordinates: [[1f, 2f], [3.5f, 4f]] }",
        tostring(Geometry.multipoint{ { 1, 2 }, { 3.5, 4 } }))
      assert.equal("{ type: 'MultiLineString', coordinates: [[[0f, 0f], [1f, 1f]], [[2f, 2f], [3f, 3f]]] }",
        tostring(Geometry.multiline{ { { 0, 0 }, { 1, 1 } }, { { 2, 2 }, { 3, 3 } } }))
      assert.equal("{ type: 'MultiPolygon', coordinates: [[[[0f, 0f], [0f, 1f], [1f, 1f], [0f, 0f]]]] }",
        tostring(Geometry.multipolygon{ { { { 0, 0 }, { 0, 1 }, { 1, 1 } } } }))
      assert.equal("{ type: 'GeometryCollection', geometries: [(1f, 2f), { type: 'MultiPoint', coordinates: [] }] }",
        tostring(Geometry.collection{ Geometry.point(1, 2), Geometry.multipoint{} }))
    end)
  end)

  describe("GeoJSON", function()
    it("writes GeoJSON tables", function()
      assert.same({ type = "Point", coordinates = { 1, 2 } }, Geometry.point(1, 2):to_geojson())
      assert.same({ type = "LineString", coordinates = { { 1, 2 }, { 3, 4 } } },
        Geometry.line{ { 1, 2 }, { 3, 4 } }:to_geojson())
      assert.same({ type = "Polygon", coordinates = { { { 0, 0 }, { 0, 1 }, { 1, 1 }, { 0, 0 } } } },
        Geometry.polygon{ { { 0, 0 }, { 0, 1 }, { 1, 1 } } }:to_geojson())
      assert.same({ type = "GeometryCollection", geometries = { { type = "Point", coordinates = { 1, 2 } } } },
        Geometry.collection{ Geometry.point(1, 2) }:to_geojson())
      assert.equal(types.array_mt, getmetatable(Geometry.multipoint{}:to_geojson().coordinates))
    end)

    it("reads back every kind", function()
      local all = {
        Geometry.point(1, 2), Geometry.line{ { 1, 2 }, { 3, 4 } }, Geometry.polygon{ square, hole },
        Geometry.multipoint{ { 1, 2 } }, Geometry.multiline{ { { 0, 0 }, { 1, 1 } } },
        Geometry.multipolygon{ { square }, { hole } },
      }
      all[#all + 1] = Geometry.collection(all)
      for _, g in ipairs(all) do
        assert.equal(g, Geometry.from_geojson(g:to_geojson()))
      end
    end)

    it("rejects what is not GeoJSON", function()
      raises(function() Geometry.from_geojson({ type = "Circle" }) end, "unknown GeoJSON geometry type Circle")
      raises(function() Geometry.from_geojson("x") end, "expected a GeoJSON table, got string")
      raises(function() Geometry.from_geojson({ type = "Point", coordinates = { 1, 2, 3 } }) end, "exactly 2")
      raises(function() Geometry.from_geojson({ type = "Point" }) end, "must be an array, got nil")
      raises(function() Geometry.from_geojson({ type = "GeometryCollection", geometries = { 5 } }) end,
        "expected a GeoJSON table, got number")
    end)
  end)

  it("compares kind and coordinates", function()
    assert.equal(Geometry.point(1, 2), Geometry.point(1.0, 2.0))
    assert.not_equal(Geometry.point(1, 2), Geometry.point(2, 1))
    assert.not_equal(Geometry.multipoint{ { 1, 2 } }, Geometry.line{ { 1, 2 }, { 1, 2 } })
    assert.equal(Geometry.polygon{ square }, Geometry.polygon{ { { 0, 0 }, { 0, 1 }, { 1, 1 }, { 1, 0 }, { 0, 0 } } })
  end)
end)
