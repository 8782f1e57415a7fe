/* Entry point of the Lua module surrealdb.core. */
#include <lauxlib.h>

#include "sdb_core.h"

SDB_EXPORT int luaopen_surrealdb_core(lua_State *L);

int luaopen_surrealdb_core(lua_State *L)
{
    luaL_checkversion(L);
    lua_newtable(L);
    sdb_sys_register(L);
    sdb_cbor_register(L);
    sdb_transport_register(L);
    lua_pushliteral(L, "0.1.0");
    lua_setfield(L, -2, "version");
    return 1;
}
