local surrealdb = require("surrealdb")
local log = require("surrealdb.log")
local raises = require("spec.helper").raises

describe("surrealdb.log", function()
  after_each(function() surrealdb.set_logger(nil) end)

  it("hands messages to the user's logger", function()
    local seen = {}
    surrealdb.set_logger(function(level, message) seen[#seen + 1] = level .. " " .. message end)
    log.write("debug", "one")
    log.once("spec-key", "warn", "two")
    log.once("spec-key", "warn", "two again")
    assert.are.same({ "debug one", "warn two" }, seen)
  end)

  it("warns once when TLS checks are turned off", function()
    local seen = {}
    surrealdb.set_logger(function(level, message) seen[#seen + 1] = { level, message } end)
    for _ = 1, 2 do
      local db = surrealdb.connect("https://127.0.0.1:1", { tls = { insecure = true } })
      db:close()
    end
    assert.are.equal(1, #seen)
    assert.are.equal("warn", seen[1][1])
    assert.matches("tls.insecure", seen[1][2], 1, true)
  end)

  it("rejects a logger that is not a function", function()
    raises(function() surrealdb.set_logger(42) end, "must be a function")
  end)
end)
