--- SurrealQL files of migrations: statements split at their top-level semicolons.
--
-- The runner sends a `.surql` migration's statements inside one `BEGIN ... COMMIT` together with
-- the write of its `_migrations` record, and names the statement that failed by its number and line.
-- Splitting only needs to know where a statement ends: a `;` outside strings (`'...'`, `"..."`),
-- escaped identifiers (`` `...` ``, `⟨...⟩`), comments (`--`, `//`, `#` to the end of the line,
-- `/* ... */`) and blocks (`{}`, `()`, `[]`).
-- @module surrealdb.migrate.surql
-- @usage
-- local surql = require("surrealdb.migrate.surql")
-- for _, s in ipairs(surql.split("DEFINE TABLE a;\nDEFINE TABLE b;")) do print(s.line, s.text) end
local surql = {}

local OPEN = { ["{"] = "}", ["("] = ")", ["["] = "]" }
local CLOSE = { ["}"] = true, [")"] = true, ["]"] = true }
local LEFT_ANGLE, RIGHT_ANGLE = "\226\159\168", "\226\159\169" -- ⟨ and ⟩

--- Split SurrealQL text into its statements.
-- Statements that hold only comments are dropped. Unbalanced quotes, brackets or comments raise a
-- ValidationError naming the line where the open one started.
-- @tparam string text SurrealQL
-- @treturn table an array of `{ text =, line = }`: each statement without its `;`, and the line where
--   its first word is
-- @usage local statements = surql.split(io.open("1_init.surql"):read("a"))
function surql.split(text)
  local statements = {}
  local i, n, line = 1, #text, 1
  local start, start_line, has_code = 1, nil, false
  local depth = {}
  local function fail(what, at_line)
    require("surrealdb.errors").raise("ValidationError", ("%s opened on line %d is never closed"):format(what,
      at_line), { line = at_line }, 3)
  end
  local function finish(stop)
    if has_code then
      local body = text:sub(start, stop):match("^%s*(.-)%s*$")
      statements[#statements + 1] = { text = body, line = start_line }
    end
    start, start_line, has_code = stop + 2, nil, false
  end
  local function code()
    if not has_code then has_code, start_line = true, line end
  end
  while i <= n do
    local c = text:sub(i, i)
    local two = text:sub(i, i + 1)
    if c == "\n" then
      line = line + 1
      i = i + 1
    elseif two == "--" or two == "//" or c == "#" then
      local stop = text:find("\n", i, true) or n + 1
      i = stop
    elseif two == "/*" then
      local stop = text:find("*/", i + 2, true)
      if not stop then fail("a comment", line) end
      for _ in text:sub(i, stop):gmatch("\n") do line = line + 1 end
      i = stop + 2
    elseif c == "'" or c == '"' or c == "`" then
      code()
      local open_line = line
      local j = i + 1
      while true do
        local d = text:sub(j, j)
        if d == "" then fail("a quoted text", open_line) end
        if d == "\\" then
          j = j + 2
        else
          if d == "\n" then line = line + 1 end
          j = j + 1
          if d == c then break end
        end
      end
      i = j
    elseif text:sub(i, i + 2) == LEFT_ANGLE then
      code()
      local stop = text:find(RIGHT_ANGLE, i + 3, true)
      if not stop then fail("an identifier in ⟨⟩", line) end
      i = stop + 3
    elseif OPEN[c] then
      code()
      depth[#depth + 1] = { OPEN[c], line }
      i = i + 1
    elseif CLOSE[c] then
      code()
      if #depth > 0 and depth[#depth][1] == c then depth[#depth] = nil end
      i = i + 1
    elseif c == ";" and #depth == 0 then
      finish(i - 1)
      i = i + 1
    else
      if not c:match("%s") then code() end
      i = i + 1
    end
  end
  if #depth > 0 then fail(("a block (%s)"):format(depth[#depth][1]), depth[#depth][2]) end
  finish(n)
  return statements
end

--- Whether a migration file asks to run without a transaction: a comment line
-- `-- surreal-migrate: no-transaction`.
-- @tparam string text SurrealQL
-- @treturn boolean
-- @usage if surql.no_transaction(text) then print("runs statement by statement") end
function surql.no_transaction(text)
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%s*%-%-%s*surreal%-migrate:%s*no%-transaction%s*$") then return true end
  end
  return false
end

--- The first word of a statement, upper case (after comments), such as `"DEFINE"`.
-- @tparam string statement one statement's text
-- @treturn string
-- @usage assert(surql.verb("-- x\n begin transaction") == "BEGIN")
function surql.verb(statement)
  local rest = statement
  while true do
    rest = rest:gsub("^%s+", "")
    if rest:match("^%-%-") or rest:match("^//") or rest:match("^#") then
      rest = rest:match("^[^\n]*\n(.*)$") or ""
    elseif rest:match("^/%*") then
      rest = rest:match("^/%*.-%*/(.*)$") or ""
    else
      break
    end
  end
  return (rest:match("^(%a+)") or ""):upper()
end

return surql
