-- The demo of `make setup demo`: writes real records into SurrealDB and reads them back, over both
-- transports. Runs against SURREAL_URL (the dev server that `make demo` starts, or a real server).
local surrealdb = require("surrealdb")

local base = os.getenv("SURREAL_URL") or "http://127.0.0.1:8000"

local function show(label, value)
  print(("  %-28s %s"):format(label, surrealdb.types.surql(value)))
end

for _, url in ipairs({ base, (base:gsub("^http", "ws")) }) do
  print(("== %s"):format(url))
  local db <close> = surrealdb.connect(url, { namespace = "demo", database = "demo" })
  print(("  %-28s %s"):format("server version", db:version()))

  db:query("REMOVE TABLE IF EXISTS person")
  local ann = db:create(surrealdb.RecordID("person", "ann"), {
    name = "Ann",
    age = 31,
    joined = surrealdb.Datetime.parse("2024-02-29T12:30:00.123456789Z"),
    session = surrealdb.Duration.parse("1h30m"),
    balance = surrealdb.Decimal("1234.50"),
    tags = surrealdb.array({ "admin", "early" }),
    home = surrealdb.Geometry.point(-0.1276, 51.5072),
    nickname = surrealdb.null,
  })
  show("created", ann)

  db:insert("person", {
    { id = surrealdb.RecordID("person", "bob"), name = "Bob", age = 17, tags = surrealdb.array() },
    { id = surrealdb.RecordID("person", "cy"), name = "Cy", age = 45, tags = surrealdb.array({ "ops" }) },
  })

  local adults = db:query("SELECT name, age FROM person WHERE age >= $min ORDER BY age", { min = 18 })
  print(("  %d adults:"):format(#adults))
  for _, person in ipairs(adults) do print(("    %s, %d"):format(person.name, person.age)) end

  local back = db:select("person:ann")
  show("read back", back)
  assert(back.joined == ann.joined and back.balance == ann.balance and back.nickname == surrealdb.null,
    "a value did not survive the round trip")
end
print("demo: ok")
