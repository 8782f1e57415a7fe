/*
 * surrealdb.core: the C core of surrealdb-lua.
 *
 * Each part of the core registers its functions into the module table with one
 * sdb_*_register function; module.c calls them all from luaopen_surrealdb_core.
 */
#ifndef SDB_CORE_H
#define SDB_CORE_H

#include <lua.h>

#define SDB_EXPORT __attribute__((visibility("default")))

/* Each takes the module table at the top of the stack and adds its functions to it. */
void sdb_sys_register(lua_State *L);
void sdb_cbor_register(lua_State *L);
/* loop_new (HTTP and WebSocket transport), ws_frame, ws_reader, sha1, ws_accept. */
void sdb_transport_register(lua_State *L);

#endif
