--- A pointer to a file in a SurrealDB bucket (CBOR tag 55; SurrealDB 3.x).
--
-- Instances are `{ bucket = string, key = string }`; the key always starts with `/` (one is
-- prepended when missing, as SurrealDB does). `tostring` is SurrealQL's `f"bucket:/key"`: ASCII
-- letters, digits, `-`, `_` and `.` are written as is (and `/` in the key); every other character
-- is preceded by a backslash.
--
-- @classmod surrealdb.types.file
-- @usage
-- local File = require("surrealdb.types.file")
-- local avatar = File("avatars", "tobie.png")
-- print(avatar, avatar.key)  --> f"avatars:/tobie.png"  /tobie.png
local errors = require("surrealdb.errors")

local File = { __name = "surrealdb.File" }
File.__index = File

local function check(value, name, nonempty)
  if type(value) ~= "string" or (nonempty and value == "") then
    errors.raise("ValidationError", "File: " .. name .. " must be a " .. (nonempty and "non-empty " or "")
      .. "string, got " .. (type(value) == "string" and "an empty string" or type(value)),
      { details = { [name] = value } })
  end
  if not utf8.len(value) then
    errors.raise("ValidationError", "File: " .. name .. " " .. string.format("%q", value) .. " is not valid UTF-8",
      { details = { [name] = value } })
  end
end

--- Make a file pointer. Also reachable as `File(bucket, key)`.
-- @tparam string bucket the bucket's name (non-empty)
-- @tparam string key the file's key in the bucket; `/` is prepended when missing
-- @treturn File
-- @raise ValidationError for non-strings, an empty bucket or invalid UTF-8
-- @usage local f = File.new("docs", "/reports/2024.pdf")
function File.new(bucket, key)
  check(bucket, "bucket", true)
  check(key, "key", false)
  if key:sub(1, 1) ~= "/" then key = "/" .. key end
  return setmetatable({ bucket = bucket, key = key }, File)
end

local function escape(text, allowed)
  return (text:gsub(utf8.charpattern, function(c)
    if c:find(allowed) then return c end
    return "\\" .. c
  end))
end

--- SurrealQL's form: `f"bucket:/key"`.
-- @treturn string
-- @usage print(File("my bucket", "a b.txt"))  --> f"my\ bucket:/a\ b.txt"
function File:__tostring()
  return 'f"' .. escape(self.bucket, "^[A-Za-z0-9_.-]$") .. ":" .. escape(self.key, "^[A-Za-z0-9_./-]$") .. '"'
end

--- Two file pointers are equal when bucket and key are.
-- @treturn boolean
-- @usage assert(File("b", "k") == File("b", "/k"))
function File.__eq(a, b)
  return getmetatable(a) == File and getmetatable(b) == File and a.bucket == b.bucket and a.key == b.key
end

return setmetatable(File, { __call = function(_, ...) return File.new(...) end })
