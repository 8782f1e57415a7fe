rockspec_format = "3.0"
package = "surrealdb"
version = "scm-1"
source = {
  url = "git+https://github.com/surrealdb-lua/surrealdb-lua.git",
}
description = {
  summary = "SurrealDB client and ORM toolkit for Lua 5.4 with a C core",
  detailed = [[
    A SurrealDB client speaking CBOR over HTTP and WebSocket, with a C core for the codec,
    transport, pooling, retries and bulk batching, and a Lua layer for the client, value types,
    models, schema generation and migrations.
  ]],
  license = "Apache-2.0",
  homepage = "https://github.com/surrealdb-lua/surrealdb-lua",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  -- Debian keeps curl.h under a multiarch include directory LuaRocks does not search: check the
  -- library; CMake finds the headers through pkg-config.
  CURL = { library = "curl" },
  LIBUV = { header = "uv.h", library = "uv" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LUA_LIBDIR = "$(LIBDIR)",
    LUA_LUADIR = "$(LUADIR)",
    SURREALDB_WERROR = "OFF",
  },
  -- The example migrations (README, "Migrations"), under the rock's directory (`luarocks show surrealdb`).
  copy_directories = { "scripts/examples" },
  install = {
    -- The migrations tool (README, "Migrations"); LuaRocks wraps it so it finds the installed modules.
    bin = { ["surreal-migrate"] = "scripts/surreal-migrate" },
  },
}
