-- RFC 6455 framing of the C core with canned bytes: core.ws_frame builds frames and core.ws_reader
-- parses the server's, with the same C functions the WebSocket connections use (core/src/ws_frame.c).
local core = require("surrealdb.core")

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function unhex(h)
  return (h:gsub("%s", ""):gsub("..", function(b) return string.char(tonumber(b, 16)) end))
end

-- An unmasked frame, as a server sends it.
local function frame(opcode, payload, fin)
  return core.ws_frame(opcode, payload, fin)
end

local function feed_all(bytes, max)
  return core.ws_reader(max):feed(bytes)
end

local function expect_error(bytes, code, text, max)
  local items = feed_all(bytes, max)
  local last = items[#items]
  assert.are.equal("error", last.type)
  assert.are.equal(code, last.code)
  if text then assert.matches(text, last.message, 1, true) end
  return items
end

describe("SHA-1 and the handshake accept value", function()
  it("matches the FIPS 180 test vectors", function()
    assert.are.equal("da39a3ee5e6b4b0d3255bfef95601890afd80709", hex(core.sha1("")))
    assert.are.equal("a9993e364706816aba3e25717850c26c9cd0d89d", hex(core.sha1("abc")))
    assert.are.equal("84983e441c3bd26ebaae4aa1f95129e5e54670f1",
      hex(core.sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
    assert.are.equal("34aa973cd4c4daa4f61eeb2bdbad27316534016f", hex(core.sha1(("a"):rep(1000000))))
  end)

  it("pads correctly around the block boundaries (55, 56, 63, 64, 65 bytes)", function()
    local expected = {
      [55] = "c1c8bbdc22796e28c0e15163d20899b65621d65a",
      [56] = "c2db330f6083854c99d4b5bfb6e8f29f201be699",
      [63] = "03f09f5b158a7a8cdad920bddc29b81c18a551f5",
      [64] = "0098ba824b5c16427bd7a1122a5a442a25ec644d",
      [65] = "11655326c708d70319be2610e8a57d9a5b959d3b",
    }
    for n, digest in pairs(expected) do
      assert.are.equal(digest, hex(core.sha1(("a"):rep(n))), "length " .. n)
    end
  end)

  it("computes Sec-WebSocket-Accept as in RFC 6455 section 1.3", function()
    assert.are.equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", core.ws_accept("dGhlIHNhbXBsZSBub25jZQ=="))
  end)

  it("checks its arguments", function()
    assert.has_error(function() core.sha1() end)
    assert.has_error(function() core.ws_accept(("k"):rep(65)) end)
  end)
end)

describe("ws_frame (the frames the client sends)", function()
  it("writes the 7-bit, 16-bit and 64-bit length forms", function()
    assert.are.equal("8203616263", hex(frame(2, "abc")))
    assert.are.equal("827e007e", hex(frame(2, ("x"):rep(126)):sub(1, 4)))
    assert.are.equal("827effff", hex(frame(2, ("x"):rep(65535)):sub(1, 4)))
    assert.are.equal("827f0000000000010000", hex(frame(2, ("x"):rep(65536)):sub(1, 10)))
    assert.are.equal(2 + 125, #frame(2, ("x"):rep(125)))
  end)

  it("masks as in the RFC 6455 section 5.7 example", function()
    assert.are.equal("818537fa213d7f9f4d5158", hex(core.ws_frame(1, "Hello", true, unhex("37fa213d"))))
  end)

  it("clears FIN for a fragment and keeps the opcode", function()
    assert.are.equal("010348656c", hex(frame(1, "Hel", false)))
    assert.are.equal("80026c6f", hex(frame(0, "lo", true)))
  end)

  it("masks every length correctly (word-at-a-time loop and its tail)", function()
    local key = unhex("a1b2c3d4")
    for n = 0, 40 do
      local payload = {}
      for i = 1, n do payload[i] = string.char((i * 37) % 256) end
      payload = table.concat(payload)
      local bytes = core.ws_frame(2, payload, true, key)
      assert.are.equal(2 + 4 + n, #bytes)
      local masked = bytes:sub(7)
      local unmasked = {}
      for i = 1, n do
        unmasked[i] = string.char(masked:byte(i) ~ key:byte((i - 1) % 4 + 1))
      end
      assert.are.equal(payload, table.concat(unmasked), "length " .. n)
    end
  end)

  it("checks its arguments", function()
    assert.has_error(function() core.ws_frame(16, "") end)
    assert.has_error(function() core.ws_frame(2, "", true, "abc") end)
    assert.has_error(function() core.ws_frame(2) end)
  end)
end)

describe("ws_reader (the frames the server sends)", function()
  it("reads an unmasked text message (RFC 6455 section 5.7)", function()
    local items = feed_all(unhex("810548656c6c6f"))
    assert.are.same({ { type = "message", data = "Hello", text = true } }, items)
  end)

  it("reads binary messages, empty ones included", function()
    local items = feed_all(frame(2, "\0\1\2") .. frame(2, ""))
    assert.are.same({
      { type = "message", data = "\0\1\2", text = false },
      { type = "message", data = "", text = false },
    }, items)
  end)

  it("reassembles fragments (RFC 6455 section 5.7)", function()
    local items = feed_all(unhex("010348656c") .. unhex("80026c6f"))
    assert.are.same({ { type = "message", data = "Hello", text = true } }, items)
  end)

  it("delivers a control frame that arrives between fragments first", function()
    local bytes = frame(2, "ab", false) .. frame(9, "p") .. frame(0, "cd", false) .. frame(10, "q")
      .. frame(0, "ef", true)
    assert.are.same({
      { type = "ping", data = "p" },
      { type = "pong", data = "q" },
      { type = "message", data = "abcdef", text = false },
    }, feed_all(bytes))
  end)

  it("gives the same items when fed one byte at a time", function()
    local bytes = frame(1, "héllo") .. frame(2, ("z"):rep(300), false) .. frame(9, "")
      .. frame(0, ("y"):rep(70000), true) .. frame(8, "\3\232bye")
    local whole = feed_all(bytes)
    local reader = core.ws_reader()
    local pieces = {}
    for i = 1, #bytes do
      for _, item in ipairs(reader:feed(bytes:sub(i, i))) do pieces[#pieces + 1] = item end
    end
    assert.are.same(whole, pieces)
    assert.are.equal(4, #whole)
    assert.are.equal(("z"):rep(300) .. ("y"):rep(70000), whole[3].data)
    assert.are.same({ type = "close", code = 1000, reason = "bye" }, whole[4])
  end)

  it("reads the 16-bit and 64-bit length forms", function()
    local a, b = ("a"):rep(126), ("b"):rep(65536)
    local items = feed_all(frame(2, a) .. frame(2, b))
    assert.are.equal(a, items[1].data)
    assert.are.equal(b, items[2].data)
  end)

  it("reads close frames with and without a status", function()
    assert.are.same({ { type = "close", code = 1005, reason = "" } }, feed_all(frame(8, "")))
    assert.are.same({ { type = "close", code = 4001, reason = "gone" } }, feed_all(frame(8, "\15\161gone")))
  end)

  it("waits for the rest of a frame", function()
    local reader = core.ws_reader()
    local bytes = frame(2, ("x"):rep(1000))
    assert.are.same({}, reader:feed(bytes:sub(1, 1)))
    assert.are.same({}, reader:feed(bytes:sub(2, 500)))
    local items = reader:feed(bytes:sub(501))
    assert.are.equal(1, #items)
    assert.are.equal(1000, #items[1].data)
  end)

  describe("fails with the close code RFC 6455 prescribes", function()
    it("1002 for a masked frame", function()
      expect_error(core.ws_frame(2, "x", true, "abcd"), 1002, "masked")
    end)

    it("1002 for reserved bits", function()
      expect_error("\194\0", 1002, "reserved bits")
    end)

    it("1002 for an unknown opcode", function()
      expect_error("\131\0", 1002, "unknown opcode")
    end)

    it("1002 for a fragmented or oversized control frame", function()
      expect_error("\9\0", 1002, "fragmented control")
      expect_error("\137\126\0\126" .. ("x"):rep(126), 1002, "longer than 125")
    end)

    it("1002 for a continuation with nothing to continue", function()
      expect_error(frame(0, "x"), 1002, "continuation")
    end)

    it("1002 for a new message in the middle of a fragmented one", function()
      expect_error(frame(2, "a", false) .. frame(2, "b"), 1002, "before finishing")
    end)

    it("1002 for a close frame with a one-byte payload or a reserved code", function()
      expect_error(frame(8, "\3"), 1002, "one-byte")
      expect_error(frame(8, "\3\237"), 1002, "invalid close code") -- 1005 must not be sent
      expect_error(frame(8, "\3\231"), 1002, "invalid close code") -- 999
      expect_error(frame(8, "\11\183"), 1002, "invalid close code") -- 2999
    end)

    it("1002 for a 64-bit length with the high bit set", function()
      expect_error("\130\127\128\0\0\0\0\0\0\0", 1002, "high bit")
    end)

    it("1007 for text that is not UTF-8, whole or reassembled", function()
      expect_error(frame(1, "\255"), 1007, "not UTF-8")
      expect_error(frame(1, "\195", false) .. frame(0, "(", true), 1007, "not UTF-8")
      expect_error(frame(8, "\3\232\255"), 1007, "close reason")
    end)

    it("1009 for a frame above max_message, before its payload arrives", function()
      local reader = core.ws_reader(100)
      local items = reader:feed(frame(2, ("x"):rep(101)):sub(1, 4))
      assert.are.equal(1, #items)
      assert.are.equal("error", items[1].type)
      assert.are.equal(1009, items[1].code)
    end)

    it("1009 for fragments that add up to more than max_message", function()
      expect_error(frame(2, ("x"):rep(60), false) .. frame(0, ("x"):rep(41), true), 1009, nil, 100)
      assert.are.equal(100, #feed_all(frame(2, ("x"):rep(60), false) .. frame(0, ("x"):rep(40), true), 100)[1].data)
    end)

    it("stays failed after a violation", function()
      local reader = core.ws_reader()
      assert.are.equal("error", reader:feed("\131\0")[1].type)
      local again = reader:feed(frame(2, "x"))
      assert.are.equal("error", again[1].type)
      assert.are.equal(1002, again[1].code)
    end)
  end)

  it("accepts every registered close code a server may send", function()
    for _, code in ipairs({ 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999 }) do
      local items = feed_all(frame(8, string.char(code >> 8, code & 255)))
      assert.are.same({ type = "close", code = code, reason = "" }, items[1])
    end
  end)

  it("is collected and closed without leaks (__gc and __close)", function()
    do
      local reader <close> = core.ws_reader()
      reader:feed(frame(2, "partial", false))
    end
    local reader = core.ws_reader()
    reader:feed(frame(2, ("x"):rep(10000)):sub(1, 5000))
    reader = nil -- luacheck: ignore 311
    collectgarbage()
  end)
end)
