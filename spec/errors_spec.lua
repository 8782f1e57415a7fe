local errors = require("surrealdb.errors")

describe("surrealdb.errors", function()
  it("makes error objects of a class with a message and fields", function()
    local err = errors.new("QueryError", "the statement failed", { code = -32003, kind = "Query" })
    assert.are.equal("QueryError", err.name)
    assert.are.equal("the statement failed", err.message)
    assert.are.equal(-32003, err.code)
    assert.are.equal("QueryError: the statement failed [Query, code -32003]", tostring(err))
  end)

  it("knows the hierarchy", function()
    local err = errors.new("EncodeError", "cannot encode a function", { path = "$.f" })
    assert.is_true(errors.is(err, "EncodeError"))
    assert.is_true(errors.is(err, "ValidationError"))
    assert.is_true(errors.is(err, "SurrealError"))
    assert.is_false(errors.is(err, "QueryError"))
    assert.is_false(errors.is("a string", "SurrealError"))
    assert.is_false(errors.is({ name = "QueryError" }, "QueryError"))
    local lock = errors.new("LockError", "another runner holds the migrations lock")
    assert.is_true(errors.is(lock, "MigrationError"))
    assert.is_true(errors.is(lock, "SurrealError"))
    assert.is_false(errors.is(errors.new("MigrationError", "x"), "LockError"))
  end)

  it("raises error objects at the caller's level", function()
    local ok, err = pcall(errors.raise, "AuthError", "wrong password")
    assert.is_false(ok)
    assert.is_true(errors.is(err, "AuthError"))
  end)

  it("rejects an unknown class", function()
    local ok, err = pcall(errors.new, "NoSuchError", "x")
    assert.is_false(ok)
    assert.is_true(errors.is(err, "ValidationError"))
    assert.matches("NoSuchError", err.message)
  end)

  it("reads the 2.x error shape", function()
    local err = errors.from_server({ code = -32002, message = "There was a problem with authentication" })
    assert.is_true(errors.is(err, "AuthError"))
    assert.are.equal(-32002, err.code)
    assert.is_nil(err.kind)
  end)

  it("reads the 3.x error shape with kind, details and cause", function()
    local err = errors.from_server({
      code = -32003,
      message = "Transaction conflict: Write conflict, retry the transaction. This transaction can be retried",
      kind = "Query",
      details = { kind = "NotExecuted" },
      cause = { code = -32000, message = "inner", kind = "Internal" },
    }, { method = "query" })
    assert.is_true(errors.is(err, "QueryError"))
    assert.are.equal("NotExecuted", err.details.kind)
    assert.are.equal("query", err.method)
    assert.is_true(err.retryable)
    assert.is_true(errors.is(err.cause, "ServerError"))
    assert.matches("caused by ServerError: inner", tostring(err))
  end)

  it("ignores a cause that is NONE or NULL and keeps a string cause", function()
    local none = setmetatable({}, { __metatable = "surrealdb.NONE" })
    assert.is_nil(errors.from_server({ code = -32000, message = "x", cause = none }).cause)
    assert.are.equal("disk full", errors.from_server({ code = -32000, message = "x", cause = "disk full" }).cause)
  end)

  it("marks the 3.1 transaction conflict code as retryable", function()
    assert.is_true(errors.from_server({ code = -32009, message = "conflict" }).retryable)
    assert.is_false(errors.from_server({ code = -32000, message = "boom" }).retryable)
  end)

  it("maps unknown codes to ServerError and non-objects to ProtocolError", function()
    assert.is_true(errors.is(errors.from_server({ code = 1, message = "?" }), "ServerError"))
    assert.is_true(errors.is(errors.from_server("oops"), "ProtocolError"))
    local err = errors.from_server({ code = -32000 })
    assert.matches("without a message", err.message)
  end)
end)
