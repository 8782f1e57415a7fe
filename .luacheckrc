-- luacheck configuration: `luacheck lua spec bench scripts/demo.lua`
std = "lua54"
max_line_length = 120
codes = true
files["spec"] = { std = "+busted" }
exclude_files = { "scripts/node_modules", "build*" }
