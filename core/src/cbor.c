/* The CBOR codec's registration and configuration (see sdb_cbor.h). */
#include <lauxlib.h>

#include "sdb_cbor.h"
#include "sdb_core.h"

/* Fields of the configuration table, by slot. */
static const struct {
    int slot;
    const char *field;
    int type;
} config_fields[] = {
    {SDB_NULL, "null", LUA_TTABLE},
    {SDB_NONE, "NONE", LUA_TTABLE},
    {SDB_ARRAY_MT, "array_mt", LUA_TTABLE},
    {SDB_OBJECT_MT, "object_mt", LUA_TTABLE},
    {SDB_RECORD_ID, "RecordID", LUA_TTABLE},
    {SDB_TABLE, "Table", LUA_TTABLE},
    {SDB_UUID, "Uuid", LUA_TTABLE},
    {SDB_DATETIME, "Datetime", LUA_TTABLE},
    {SDB_DURATION, "Duration", LUA_TTABLE},
    {SDB_DECIMAL, "Decimal", LUA_TTABLE},
    {SDB_RANGE, "Range", LUA_TTABLE},
    {SDB_GEOMETRY, "Geometry", LUA_TTABLE},
    {SDB_FUTURE, "Future", LUA_TTABLE},
    {SDB_FILE, "File", LUA_TTABLE},
    {SDB_SET, "Set", LUA_TTABLE},
    {SDB_BYTES, "Bytes", LUA_TTABLE},
    {SDB_TAGGED, "Tagged", LUA_TTABLE},
    {SDB_ENCODED, "Encoded", LUA_TTABLE},
    {SDB_PARSE_RECORD_ID, "parse_record_id", LUA_TFUNCTION},
    {SDB_PARSE_DATETIME, "parse_datetime", LUA_TFUNCTION},
    {SDB_PARSE_DURATION, "parse_duration", LUA_TFUNCTION},
    {SDB_PARSE_UUID, "parse_uuid", LUA_TFUNCTION},
};

static const struct {
    int slot;
    const char *name;
} field_names[] = {
    {SDB_K_TB, "tb"},
    {SDB_K_ID, "id"},
    {SDB_K_NAME, "name"},
    {SDB_K_VALUE, "value"},
    {SDB_K_SECONDS, "seconds"},
    {SDB_K_NANOSECONDS, "nanoseconds"},
    {SDB_K_LOWER, "lower"},
    {SDB_K_UPPER, "upper"},
    {SDB_K_INCLUSIVE, "inclusive"},
    {SDB_K_KIND, "kind"},
    {SDB_K_COORDINATES, "coordinates"},
    {SDB_K_BODY, "body"},
    {SDB_K_BUCKET, "bucket"},
    {SDB_K_KEY, "key"},
    {SDB_K_DATA, "data"},
    {SDB_K_TAG, "tag"},
    {SDB_K_BYTES, "bytes"},
    {SDB_K_GEOMETRY + 0, "Point"},
    {SDB_K_GEOMETRY + 1, "LineString"},
    {SDB_K_GEOMETRY + 2, "Polygon"},
    {SDB_K_GEOMETRY + 3, "MultiPoint"},
    {SDB_K_GEOMETRY + 4, "MultiLineString"},
    {SDB_K_GEOMETRY + 5, "MultiPolygon"},
    {SDB_K_GEOMETRY + 6, "GeometryCollection"},
};

sdb_cbor_state *sdb_cbor_checkstate(lua_State *L)
{
    sdb_cbor_state *st = lua_touserdata(L, SDB_CBOR_STATE_UPVALUE);
    if (!st->configured) {
        luaL_error(L, "surrealdb.core: the CBOR codec is not configured "
                      "(require \"surrealdb.cbor\" instead of calling the core directly)");
    }
    return st;
}

/* core.cbor_configure(config): takes the sentinels, classes and parsers (see sdb_cbor.h). */
static int cbor_configure(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    sdb_cbor_state *st = lua_touserdata(L, SDB_CBOR_STATE_UPVALUE);
    /* Check everything before changing anything, so a bad call leaves the old configuration. */
    for (size_t i = 0; i < sizeof(config_fields) / sizeof(config_fields[0]); i++) {
        int t = lua_getfield(L, 1, config_fields[i].field);
        if (t != config_fields[i].type) {
            return luaL_error(
                L, "bad argument #1 to 'cbor_configure' (field '%s': %s expected, got %s)",
                config_fields[i].field, lua_typename(L, config_fields[i].type),
                luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    for (size_t i = 0; i < sizeof(config_fields) / sizeof(config_fields[0]); i++) {
        lua_getfield(L, 1, config_fields[i].field);
        if (config_fields[i].slot < SDB_IDENTITY_END) {
            st->identity[config_fields[i].slot] = lua_topointer(L, -1);
        }
        lua_rawseti(L, SDB_CBOR_CONFIG_UPVALUE, config_fields[i].slot);
    }
    st->configured = 1;
    return 0;
}

void sdb_cbor_register(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"cbor_configure", cbor_configure},
        {"cbor_encode", sdb_cbor_encode},
        {"cbor_encode_rows", sdb_cbor_encode_rows},
        {"cbor_decode", sdb_cbor_decode},
        {NULL, NULL},
    };
    sdb_buffer_register(L);
    sdb_cbor_state *st = lua_newuserdatauv(L, sizeof(*st), 0);
    sdb_buffer_init(&st->buf, L);
    st->buf_busy = 0;
    st->configured = 0;
    for (int i = 0; i < SDB_IDENTITY_END; i++) {
        st->identity[i] = NULL;
    }
    luaL_setmetatable(L, SDB_BUFFER_MT);
    lua_createtable(L, SDB_SLOT_COUNT, 0);
    for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++) {
        lua_pushstring(L, field_names[i].name);
        lua_rawseti(L, -2, field_names[i].slot);
    }
    luaL_setfuncs(L, functions, 2);
}
