-- Unit specs of surrealdb.types.datetime (no server needed).
local errors = require("surrealdb.errors")
local Datetime = require("surrealdb.types.datetime")
local Duration = require("surrealdb.types.duration")

local function raises(fn, text)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.is_true(errors.is(err, "ValidationError"), "expected a ValidationError, got " .. tostring(err))
  if text then
    assert.is_truthy(err.message:find(text, 1, true), "message " .. string.format("%q", err.message)
      .. " does not contain " .. string.format("%q", text))
  end
  return err
end

local function at(seconds, nanoseconds)
  return { seconds = seconds, nanoseconds = nanoseconds or 0 }
end

local function fields(t)
  return { seconds = t.seconds, nanoseconds = t.nanoseconds }
end

describe("Datetime", function()
  describe("parse", function()
    it("reads UTC datetimes", function()
      assert.same(at(0), fields(Datetime.parse("1970-01-01T00:00:00Z")))
      assert.same(at(1234567890), fields(Datetime.parse("2009-02-13T23:31:30Z")))
      assert.same(at(2147483648), fields(Datetime.parse("2038-01-19T03:14:08Z")))
      assert.same(at(253402300799), fields(Datetime.parse("9999-12-31T23:59:59Z")))
    end)

    it("reads dates before 1970", function()
      assert.same(at(-1), fields(Datetime.parse("1969-12-31T23:59:59Z")))
      assert.same(at(-14182940), fields(Datetime.parse("1969-07-20T20:17:40Z")))
      assert.same(at(-2208988800), fields(Datetime.parse("1900-01-01T00:00:00Z")))
      assert.same(at(-62135596800), fields(Datetime.parse("0001-01-01T00:00:00Z")))
      assert.same(at(-62167219200), fields(Datetime.parse("0000-01-01T00:00:00Z")))
    end)

    it("reads signed and 5-6 digit years", function()
      assert.same(at(253402300800), fields(Datetime.parse("+10000-01-01T00:00:00Z")))
      assert.same(at(-62198755200), fields(Datetime.parse("-0001-01-01T00:00:00Z")))
      assert.equal("+262142-12-31T23:59:59Z", Datetime.parse("+262142-12-31T23:59:59Z"):iso())
    end)

    it("knows leap years", function()
      assert.same(at(951782400), fields(Datetime.parse("2000-02-29T00:00:00Z")))
      assert.same(at(1709164800), fields(Datetime.parse("2024-02-29T00:00:00Z")))
      raises(function() Datetime.parse("2023-02-29T00:00:00Z") end, "day 29 does not exist in 2023-02")
      raises(function() Datetime.parse("1900-02-29T00:00:00Z") end, "day 29 does not exist in 1900-02")
      raises(function() Datetime.parse("2024-04-31T00:00:00Z") end, "day 31 does not exist")
      assert.equal("1600-02-29T00:00:00Z", Datetime.parse("1600-02-29T00:00:00Z"):iso())
    end)

    it("applies positive and negative offsets", function()
      assert.same(at(1704067200 - 3600), fields(Datetime.parse("2024-01-01T00:00:00+01:00")))
      assert.same(at(1704067200 + 19800), fields(Datetime.parse("2024-01-01T00:00:00-05:30")))
      assert.same(at(1704067200 + 86340), fields(Datetime.parse("2024-01-01T00:00:00-23:59")))
      assert.same(at(0), fields(Datetime.parse("1969-12-31T19:00:00-05:00")))
    end)

    it("reads fractions of any length up to nanoseconds, rounding at the 10th digit", function()
      assert.same(at(0, 500000000), fields(Datetime.parse("1970-01-01T00:00:00.5Z")))
      assert.same(at(0, 123456789), fields(Datetime.parse("1970-01-01T00:00:00.123456789Z")))
      assert.same(at(0, 1), fields(Datetime.parse("1970-01-01T00:00:00.000000001Z")))
      assert.same(at(0, 123456790), fields(Datetime.parse("1970-01-01T00:00:00.1234567895Z")))
      assert.same(at(0, 123456789), fields(Datetime.parse("1970-01-01T00:00:00.1234567894999Z")))
      assert.same(at(1, 0), fields(Datetime.parse("1970-01-01T00:00:00.9999999995Z")))
      assert.same(at(-1, 250000000), fields(Datetime.parse("1969-12-31T23:59:59.25Z")))
    end)

    it("accepts lower-case t and z, a space separator and a date alone", function()
      assert.same(at(86400), fields(Datetime.parse("1970-01-02t00:00:00z")))
      assert.same(at(86400), fields(Datetime.parse("1970-01-02 00:00:00Z")))
      assert.same(at(86400), fields(Datetime.parse("1970-01-02")))
    end)

    it("rejects malformed text with the input and position in the message", function()
      local err = raises(function() Datetime.parse("2024-13-01T00:00:00Z") end, "month 13 is out of range 1..12")
      assert.equal("2024-13-01T00:00:00Z", err.details.input)
      assert.equal(6, err.details.position)
      raises(function() Datetime.parse("2024-01-32T00:00:00Z") end, "day 32 is out of range")
      raises(function() Datetime.parse("2024-01-01T24:00:00Z") end, "hour 24 is out of range 0..23")
      raises(function() Datetime.parse("2024-01-01T23:60:00Z") end, "minute 60")
      raises(function() Datetime.parse("2024-01-01T23:59:60Z") end, "second 60")
      raises(function() Datetime.parse("2024-01-01T00:00:00") end, "expected a time zone")
      raises(function() Datetime.parse("2024-01-01T00:00:00+24:00") end, "offset hours 24")
      raises(function() Datetime.parse("2024-01-01T00:00:00+0100") end, "expected 2 digits of the offset hours")
      raises(function() Datetime.parse("2024-01-01T00:00:00+01-00") end, "expected ':' in the offset")
      raises(function() Datetime.parse("2024-01-01T00:00:00.Z") end, "digits after the decimal point")
      raises(function() Datetime.parse("2024-01-01T00:00:00Z ") end, "unexpected text after the datetime")
      raises(function() Datetime.parse("224-01-01T00:00:00Z") end, "4 to 6 digits of the year")
      raises(function() Datetime.parse("2024-1-01") end, "2 digits of the month")
      raises(function() Datetime.parse("2024-01-01X00:00:00Z") end, "expected 'T'")
      raises(function() Datetime.parse("") end, "digits of the year")
      raises(function() Datetime.parse(20240101) end, "expected a string, got number")
    end)
  end)

  describe("iso", function()
    it("writes RFC 3339 in UTC with SurrealDB's 0, 3, 6 or 9 fraction digits", function()
      assert.equal("1970-01-01T00:00:00Z", Datetime.from_epoch(0):iso())
      assert.equal("1970-01-01T00:00:00.500Z", Datetime.from_epoch(0, 500000000):iso())
      assert.equal("1970-01-01T00:00:00.120Z", Datetime.from_epoch(0, 120000000):iso())
      assert.equal("1970-01-01T00:00:00.000001Z", Datetime.from_epoch(0, 1000):iso())
      assert.equal("1970-01-01T00:00:00.000120Z", Datetime.from_epoch(0, 120000):iso())
      assert.equal("1970-01-01T00:00:00.000000001Z", Datetime.from_epoch(0, 1):iso())
      assert.equal("1970-01-01T00:00:00.123456789Z", Datetime.from_epoch(0, 123456789):iso())
    end)

    it("writes years outside 0000..9999 with a sign", function()
      assert.equal("+10000-01-01T00:00:00Z", Datetime.from_epoch(253402300800):iso())
      assert.equal("-0001-01-01T00:00:00Z", Datetime.from_epoch(-62198755200):iso())
      assert.equal("0000-03-01T00:00:00Z", Datetime.parse("0000-03-01T00:00:00Z"):iso())
    end)

    it("agrees with the C library's UTC calendar", function()
      -- os.date("!*t") is gmtime: a trusted oracle for 64-bit time_t, used here only to check.
      local seed = 20240229
      for _ = 1, 2000 do
        seed = (seed * 6364136223846793005 + 1442695040888963407)
        local seconds = (seed >> 20) % 40000000000 - 20000000000 -- years about 1336..2603
        local t = os.date("!*t", seconds)
        local expected = string.format("%04d-%02d-%02dT%02d:%02d:%02dZ", t.year, t.month, t.day, t.hour, t.min, t.sec)
        assert.equal(expected, Datetime.from_epoch(seconds):iso())
      end
    end)

    it("reads back what it writes, far into the past and the future", function()
      local seed = 7
      for _ = 1, 2000 do
        seed = (seed * 6364136223846793005 + 1442695040888963407)
        local seconds = (seed >> 8) % 16000000000000 - 8000000000000 -- years about -251000..255000
        local ns = (seed >> 3) % 1000000000
        local t = Datetime.from_epoch(seconds, ns)
        assert.same(fields(t), fields(Datetime.parse(t:iso())))
      end
    end)

    it("is the body of tostring: d'...'", function()
      assert.equal("d'1970-01-01T00:00:00Z'", tostring(Datetime.from_epoch(0)))
      assert.equal("d'2009-02-13T23:31:30Z'", tostring(Datetime.from_epoch(1234567890)))
      assert.equal("d'2024-02-29T10:30:00.500Z'", tostring(Datetime.parse("2024-02-29T12:30:00.5+02:00")))
    end)
  end)

  describe("from_epoch", function()
    it("takes integer seconds and nanoseconds, carrying nanoseconds", function()
      assert.same(at(1700000000, 5), fields(Datetime.from_epoch(1700000000, 5)))
      assert.same(at(1, 500000000), fields(Datetime.from_epoch(0, 1500000000)))
      assert.same(at(-1, 999999999), fields(Datetime.from_epoch(0, -1)))
    end)

    it("splits float seconds into seconds and rounded nanoseconds", function()
      assert.same(at(1, 500000000), fields(Datetime.from_epoch(1.5)))
      assert.same(at(-2, 500000000), fields(Datetime.from_epoch(-1.5)))
      assert.same(at(1700000000, 250000000), fields(Datetime.from_epoch(1700000000.25)))
      assert.same(at(3, 0), fields(Datetime.from_epoch(3.0)))
    end)

    it("rejects what is not a finite number within int64 seconds", function()
      raises(function() Datetime.from_epoch("0") end, "seconds must be a number, got string")
      raises(function() Datetime.from_epoch(0 / 0) end, "must be finite")
      raises(function() Datetime.from_epoch(math.huge) end, "must be finite")
      raises(function() Datetime.from_epoch(1e300) end, "out of range")
      raises(function() Datetime.from_epoch(0, 0.5) end, "nanoseconds must be an integer")
      raises(function() Datetime.from_epoch(math.maxinteger, 1000000000) end, "out of range")
    end)
  end)

  describe("constructors", function()
    it("Datetime(...) parses text and takes epoch seconds", function()
      assert.equal(Datetime.parse("2024-01-01T00:00:00Z"), Datetime("2024-01-01T00:00:00Z"))
      assert.equal(Datetime.from_epoch(1704067200, 7), Datetime(1704067200, 7))
      raises(function() Datetime({}) end, "expected RFC 3339 text or epoch seconds")
      raises(function() Datetime("2024-01-01", 5) end, "expected RFC 3339 text or epoch seconds")
    end)

    it("now() reads the realtime clock", function()
      local before = os.time()
      local now = Datetime.now()
      assert.equal(Datetime, getmetatable(now))
      assert.is_true(now.seconds >= before - 1 and now.seconds <= os.time() + 1)
      assert.is_true(now.nanoseconds >= 0 and now.nanoseconds <= 999999999)
      assert.is_true(Datetime.now() >= now)
    end)

    it("has the contract's layout and class", function()
      local t = Datetime.from_epoch(-5, 6)
      assert.equal("surrealdb.Datetime", getmetatable(t).__name)
      local keys = {}
      for k in pairs(t) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.same({ "nanoseconds", "seconds" }, keys)
    end)
  end)

  describe("to_epoch", function()
    it("gives float seconds", function()
      assert.equal(1.5, Datetime.from_epoch(1, 500000000):to_epoch())
      assert.equal(-0.5, Datetime.from_epoch(-1, 500000000):to_epoch())
      assert.equal(1709202600.5, Datetime.parse("2024-02-29T10:30:00.5Z"):to_epoch())
    end)
  end)

  describe("comparison and arithmetic", function()
    it("compares instants whatever the offset they were written with", function()
      assert.equal(Datetime("2024-01-01T01:00:00+01:00"), Datetime("2024-01-01T00:00:00Z"))
      assert.not_equal(Datetime.from_epoch(0, 1), Datetime.from_epoch(0))
      assert.is_true(Datetime.from_epoch(0) < Datetime.from_epoch(0, 1))
      assert.is_true(Datetime.from_epoch(-1, 999999999) < Datetime.from_epoch(0))
      assert.is_true(Datetime.from_epoch(5) <= Datetime.from_epoch(5))
      assert.is_false(Datetime.from_epoch(6) <= Datetime.from_epoch(5))
      assert.is_true(Datetime.from_epoch(6) > Datetime.from_epoch(5))
      raises(function() return Datetime.from_epoch(0) < Duration(1) end, "cannot compare a Datetime")
    end)

    it("adds and subtracts durations", function()
      local t = Datetime.parse("2024-02-28T23:30:00Z")
      assert.equal("2024-02-29T01:00:00Z", (t + Duration.parse("1h30m")):iso())
      assert.equal("2024-02-29T01:00:00Z", (Duration.parse("1h30m") + t):iso())
      assert.equal("2024-02-28T23:29:59.999999999Z", (t - Duration.parse("1ns")):iso())
      assert.equal("1969-12-31T23:59:59.500Z", (Datetime.from_epoch(0) - Duration.from_seconds(0.5)):iso())
      raises(function() return t - t end, "needs a Datetime and a Duration")
      raises(function() return Datetime.from_epoch(math.maxinteger) + Duration(1) end, "out of range")
    end)
  end)
end)
