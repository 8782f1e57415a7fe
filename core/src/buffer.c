/* The reusable byte buffer of the codec (see sdb_buffer.h). */
#include <stdint.h>

#include <lauxlib.h>

#include "sdb_buffer.h"

#define SDB_BUFFER_MIN 1024

void sdb_buffer_init(sdb_buffer *b, lua_State *L)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->alloc = lua_getallocf(L, &b->alloc_ud);
}

int sdb_buffer_grow(sdb_buffer *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len) {
        return -1;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : SDB_BUFFER_MIN;
    while (cap < need) {
        cap *= 2;
    }
    void *p = b->alloc(b->alloc_ud, b->data, b->cap, cap);
    if (p == NULL) {
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void sdb_buffer_free(sdb_buffer *b)
{
    if (b->data != NULL) {
        b->alloc(b->alloc_ud, b->data, b->cap, 0);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void sdb_buffer_reset(sdb_buffer *b, size_t keep)
{
    b->len = 0;
    if (b->cap > keep) {
        sdb_buffer_free(b);
    }
}

static int buffer_gc(lua_State *L)
{
    sdb_buffer_free(luaL_checkudata(L, 1, SDB_BUFFER_MT));
    return 0;
}

void sdb_buffer_register(lua_State *L)
{
    if (luaL_newmetatable(L, SDB_BUFFER_MT)) {
        lua_pushcfunction(L, buffer_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, buffer_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
}

sdb_buffer *sdb_buffer_push(lua_State *L)
{
    sdb_buffer *b = lua_newuserdatauv(L, sizeof(*b), 0);
    sdb_buffer_init(b, L);
    luaL_setmetatable(L, SDB_BUFFER_MT);
    return b;
}
