--- SHA-256 (FIPS 180-4) in plain Lua 5.4, for the checksums of migration files.
--
-- The C core has only SHA-1 (for the WebSocket handshake), which is too weak to prove that a file did
-- not change. Migration files are small, so Lua's 64-bit integers and bit operators are fast enough:
-- about 1.6 MB/s on the development machine, a few milliseconds for a typical migration.
-- @module surrealdb.migrate.sha256
-- @usage
-- local sha256 = require("surrealdb.migrate.sha256")
-- assert(sha256.hex("abc"):sub(1, 8) == "ba7816bf")
local sha256 = {}

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local M32 = 0xffffffff

local function rotr(x, n)
  return ((x >> n) | (x << (32 - n))) & M32
end

-- Process the 64-byte block of `data` at `offset` into the state `h`.
local function block(h, data, offset, w)
  for i = 1, 16 do
    w[i] = string.unpack(">I4", data, offset + (i - 1) * 4)
  end
  for i = 17, 64 do
    local a, b = w[i - 15], w[i - 2]
    local s0 = rotr(a, 7) ~ rotr(a, 18) ~ (a >> 3)
    local s1 = rotr(b, 17) ~ rotr(b, 19) ~ (b >> 10)
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & M32
  end
  local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
  for i = 1, 64 do
    local s1 = rotr(e, 6) ~ rotr(e, 11) ~ rotr(e, 25)
    local ch = (e & f) ~ (~e & g)
    local t1 = hh + s1 + ch + K[i] + w[i]
    local s0 = rotr(a, 2) ~ rotr(a, 13) ~ rotr(a, 22)
    local maj = (a & b) ~ (a & c) ~ (b & c)
    hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + s0 + maj) & M32
  end
  h[1], h[2], h[3], h[4] = (h[1] + a) & M32, (h[2] + b) & M32, (h[3] + c) & M32, (h[4] + d) & M32
  h[5], h[6], h[7], h[8] = (h[5] + e) & M32, (h[6] + f) & M32, (h[7] + g) & M32, (h[8] + hh) & M32
end

--- The SHA-256 digest of a string, as 32 raw bytes.
-- @tparam string data any bytes
-- @treturn string 32 bytes
-- @usage local raw = sha256.digest(io.open(path, "rb"):read("a"))
function sha256.digest(data)
  if type(data) ~= "string" then
    require("surrealdb.errors").raise("ValidationError", "sha256 expects a string, got " .. type(data), nil, 2)
  end
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local w = {}
  local n = #data
  local full = n - n % 64
  for offset = 1, full, 64 do block(h, data, offset, w) end
  local tail = data:sub(full + 1) .. "\128" .. string.rep("\0", (55 - n) % 64) .. string.pack(">I8", n * 8)
  for offset = 1, #tail, 64 do block(h, tail, offset, w) end
  return string.pack(">I4I4I4I4I4I4I4I4", h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8])
end

--- The SHA-256 digest of a string as 64 lowercase hexadecimal digits.
-- @tparam string data any bytes
-- @treturn string
-- @usage print(sha256.hex(""))  --> e3b0c442...b855
function sha256.hex(data)
  return (sha256.digest(data):gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

return sha256
