--- An exact decimal number, kept as its text (CBOR tag 10).
--
-- Instances are `{ value = string }`: the decimal in plain positional notation, such as `"12.50"`
-- or `"-0.001"`. The text is kept as given, so its scale (trailing zeros) survives the round trip;
-- `tostring` is SurrealQL's `12.50dec`.
--
-- Accepted syntax: an optional sign, digits, optionally a `.` followed by digits, optionally an
-- exponent (`e` or `E`, optional sign, digits). SurrealDB reads tag 10 with `rust_decimal`'s plain
-- parser, which knows no exponent, so an exponent is applied here, exactly, on the text:
-- `Decimal("1.5e3").value == "1500"`, `Decimal("25e-3").value == "0.025"` (with leading zeros
-- dropped; text without an exponent is kept as it is). A leading `+` is dropped. SurrealDB holds
-- 28 significant digits; longer decimals are rounded by the server.
--
-- Equality and ordering are numeric: `Decimal("1.50") == Decimal("1.5")`.
--
-- @classmod surrealdb.types.decimal
-- @usage
-- local Decimal = require("surrealdb.types.decimal")
-- local price = Decimal("12.50")
-- print(price, price:to_number())  --> 12.50dec  12.5
local errors = require("surrealdb.errors")

local Decimal = { __name = "surrealdb.Decimal" }
Decimal.__index = Decimal

local MAX_EXPONENT = 1000

local function invalid(message, details)
  errors.raise("ValidationError", message, { details = details })
end

-- Plain text of a decimal from its parts, applying the exponent exactly.
local function positional(sign, int, frac, exp)
  local digits = int .. frac
  local point = #int + exp -- digits before the decimal point
  local text
  if point <= 0 then
    text = "0." .. string.rep("0", -point) .. digits
  elseif point >= #digits then
    text = digits .. string.rep("0", point - #digits)
  else
    text = digits:sub(1, point) .. "." .. digits:sub(point + 1)
  end
  text = text:gsub("^0+(%d)", "%1")
  return sign .. text
end

local function parse(text)
  local sign, int, dot, frac, rest = text:match("^([+-]?)(%d+)(%.?)(%d*)(.*)$")
  if not sign or (dot == "." and frac == "") or (dot == "" and frac ~= "") then return nil end
  sign = sign == "-" and "-" or ""
  if rest == "" then return sign .. int .. dot .. frac end
  local e = rest:match("^[eE]([+-]?%d+)$")
  if not e then return nil end
  local exp = math.tointeger(tonumber(e))
  if exp == nil or exp > MAX_EXPONENT or exp < -MAX_EXPONENT then
    return nil, "the exponent is out of range -" .. MAX_EXPONENT .. ".." .. MAX_EXPONENT
  end
  return positional(sign, int, frac, exp)
end

--- Make a decimal from its text, or from a Lua number.
-- Also reachable as `Decimal(value)`. An integer becomes its digits; a float becomes the shortest
-- text that reads back as the same float (`0.1` → `"0.1"`), which is exact as text but only as
-- precise as the float was.
-- @tparam string|number value such as `"12.50"`, `"-1e-3"`, `42`
-- @treturn Decimal
-- @raise ValidationError for malformed text, NaN or infinities
-- @usage local d = Decimal.new("19.99")
function Decimal.new(value)
  local text
  if type(value) == "string" then
    local problem
    text, problem = parse(value)
    if not text then
      invalid("Decimal: invalid decimal " .. string.format("%q", value) .. ": "
        .. (problem or "expected an optional sign, digits, an optional fraction ('.' and digits) and an "
          .. "optional exponent ('e' and digits), such as -12.50 or 1.5e3"), { input = value })
    end
  elseif math.type(value) == "integer" then
    text = string.format("%d", value)
  elseif math.type(value) == "float" then
    if value ~= value or value == math.huge or value == -math.huge then
      invalid("Decimal: " .. tostring(value) .. " has no decimal value", { input = value })
    end
    text = require("surrealdb.types").float_text(value):sub(1, -2)
  else
    invalid("Decimal: expected a string or a number, got " .. type(value), { input = value })
  end
  return setmetatable({ value = text }, Decimal)
end

-- sign (-1, 0, 1), significant digits without leading or trailing zeros, and the exponent of
-- the last one: value = sign * digits * 10^exp.
local function canonical(d)
  local sign, int, frac = d.value:match("^(-?)(%d+)%.?(%d*)$")
  if not sign then
    invalid("Decimal: value " .. string.format("%q", tostring(d.value)) .. " is not plain decimal text")
  end
  local digits = (int .. frac):gsub("^0+", "")
  local exp = -#frac
  local trimmed = digits:gsub("0+$", "")
  exp = exp + (#digits - #trimmed)
  if trimmed == "" then return 0, "", 0 end
  return sign == "-" and -1 or 1, trimmed, exp
end

-- -1, 0 or 1 as a is less than, equal to or greater than b.
local function compare(a, b)
  local sa, da, ea = canonical(a)
  local sb, db, eb = canonical(b)
  if sa ~= sb then return sa < sb and -1 or 1 end
  if sa == 0 then return 0 end
  local ma, mb = #da + ea, #db + eb -- magnitude: position of the leading digit
  local c
  if ma ~= mb then
    c = ma < mb and -1 or 1
  else
    local n = math.max(#da, #db)
    local pa, pb = da .. string.rep("0", n - #da), db .. string.rep("0", n - #db)
    c = pa == pb and 0 or (pa < pb and -1 or 1)
  end
  return c * sa
end

--- The decimal as a Lua number: an integer when it is whole and fits, else a float.
-- Lossy: a float holds about 16 significant digits (`Decimal("0.1"):to_number()` is the float
-- nearest to 0.1, and 28-digit decimals lose their tail).
-- @treturn number
-- @usage local n = Decimal("12.50"):to_number()  -- 12.5
function Decimal:to_number()
  local n = tonumber(self.value)
  if math.type(n) == "float" then return math.tointeger(n) or n end
  return n
end

--- SurrealQL's form: the text with the `dec` suffix, such as `12.50dec`.
-- @treturn string
-- @usage print(Decimal("1.5"))  --> 1.5dec
function Decimal:__tostring()
  return self.value .. "dec"
end

--- Numerically equal decimals are equal, whatever their scale: `1.50 == 1.5`, `-0 == 0`.
-- @treturn boolean
-- @usage assert(Decimal("1.50") == Decimal("1.5"))
function Decimal.__eq(a, b)
  return getmetatable(a) == Decimal and getmetatable(b) == Decimal and compare(a, b) == 0
end

local function check_pair(a, b, op)
  if getmetatable(a) ~= Decimal or getmetatable(b) ~= Decimal then
    invalid("Decimal: cannot compare a Decimal with " .. (getmetatable(a) == Decimal and type(b) or type(a))
      .. " using " .. op)
  end
end

--- Numeric order.
-- @treturn boolean
-- @usage assert(Decimal("-2") < Decimal("1.5"))
function Decimal.__lt(a, b)
  check_pair(a, b, "<")
  return compare(a, b) < 0
end

--- Numeric order.
-- @treturn boolean
-- @usage assert(Decimal("1.0") <= Decimal("1"))
function Decimal.__le(a, b)
  check_pair(a, b, "<=")
  return compare(a, b) <= 0
end

return setmetatable(Decimal, { __call = function(_, ...) return Decimal.new(...) end })
