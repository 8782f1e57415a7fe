-- Unit specs of surrealdb.types.file (no server needed).
local File = require("surrealdb.types.file")

local raises = require("spec.helper").raises

describe("File", function()
  it("makes { bucket, key } instances with a key starting with /", function()
    local f = File("avatars", "tobie.png")
    assert.equal(File, getmetatable(f))
    assert.equal("surrealdb.File", getmetatable(f).__name)
    assert.equal("avatars", f.bucket)
    assert.equal("/tobie.png", f.key)
    assert.equal("/a/b", File("b", "/a/b").key)
    assert.equal("/", File("b", "").key)
    assert.equal(f, File.new("avatars", "/tobie.png"))
  end)

  it("rejects bad buckets and keys", function()
    raises(function() File("", "k") end, "bucket must be a non-empty string, got an empty string")
    raises(function() File(nil, "k") end, "bucket must be a non-empty string, got nil")
    raises(function() File("b") end, "key must be a string, got nil")
    raises(function() File("b", "\255") end, "is not valid UTF-8")
  end)

  it("writes f\"bucket:/key\" with SurrealDB's escapes", function()
    assert.equal('f"avatars:/tobie.png"', tostring(File("avatars", "tobie.png")))
    assert.equal('f"docs:/reports/2024-01_a.pdf"', tostring(File("docs", "reports/2024-01_a.pdf")))
    assert.equal('f"my\\ bucket:/a\\ b.txt"', tostring(File("my bucket", "a b.txt")))
    assert.equal('f"a\\/b:/c"', tostring(File("a/b", "c")))
    assert.equal('f"b:/\\"q\\"\\:"', tostring(File("b", '"q":')))
    assert.equal('f"b:/\\é"', tostring(File("b", "é")))
  end)

  it("compares bucket and key", function()
    assert.equal(File("b", "k"), File("b", "/k"))
    assert.not_equal(File("b", "k"), File("c", "k"))
    assert.not_equal(File("b", "k"), File("b", "j"))
  end)
end)
